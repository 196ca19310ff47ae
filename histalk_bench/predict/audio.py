"""Predict vertices for a new audio file with a trained model.

:func:`animate_audio` returns every requested condition's (T, V, 3) vertices with notes on what
was chosen (template, speaker condition, backbone); :func:`predict_audio` also writes them
(.npy, one file per condition, or a predictions .h5 that ``render`` reads).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..common.atomic import atomic_path
from ..common.constants import SAMPLE_RATE
from ..common.errors import UserError

from ..models.provenance import RUN_CACHE_FILE, record_training_cache, training_cache  # noqa: F401  (re-exported)


@dataclass
class AudioPrediction:
    """Vertices per condition (None: unconditioned), the template's name, fps and what was used."""

    model: str
    vertices: dict
    template_name: str
    fps: float
    audio_seconds: float
    compute_seconds: float
    notes: list[str] = field(default_factory=list)
    template: np.ndarray | None = None  # (V, 3) neutral mesh the motion was added to

    @property
    def rtf(self) -> float:
        """Compute seconds per second of audio (wav -> meshes, model loading excluded)."""
        return self.compute_seconds / max(self.audio_seconds, 1e-9)


def load_template(spec: str | None, data: str | None, speakers: tuple = ()) -> tuple[np.ndarray, str, str]:
    """A neutral mesh (V, 3) from a cache subject, a .npy array or a mesh file; its name; a note.
    Without ``spec``: the cache's first training speaker of the model (or its first subject)."""
    if not spec and not data:
        raise UserError("--template is required here (a subject of --data, or a .npy/.ply/.obj mesh)")
    path = Path(spec) if spec else None
    if path is not None and path.suffix in (".npy", ".ply", ".obj"):
        if not path.exists():
            raise UserError("template mesh not found", path)
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False).reshape(-1, 3).astype(np.float32), path.stem, f"template {path.name}"
        import trimesh

        mesh = trimesh.load(str(path), process=False, force="mesh")
        return np.asarray(mesh.vertices, dtype=np.float32), path.stem, f"template {path.name}"
    from ..cache import Cache

    if data is None:
        raise UserError(f"--template '{spec}' names a subject of a cache: give --data CACHE.h5, or a .npy/.ply/.obj mesh"
                        if spec else "no template: give --template MESH (.npy/.ply/.obj) or --data CACHE.h5")
    with Cache(data) as cache:
        subjects = cache.template_subjects()
        if spec:
            if spec not in subjects:
                raise UserError(f"no template '{spec}' in the cache (subjects: {', '.join(subjects)})", data)
            return cache.template(spec), spec, f"template {spec} from {Path(data).name}"
        chosen = next((s for s in speakers if s in subjects), subjects[0] if subjects else None)
        if chosen is None:
            raise UserError("the cache has no templates", data)
        return (cache.template(chosen), chosen,
                f"template {chosen} from {Path(data).name} (default; --template SUBJECT|MESH to change)")


def speaker_choices(predictor) -> tuple[str, ...]:
    """Training speakers whose style the model can take (empty for an unconditioned model)."""
    config = getattr(predictor, "config", None)
    if config is None or (hasattr(config, "use_style") and not config.use_style):
        return ()
    return tuple(getattr(config, "speakers", ()) or ())


def resolve_conditions(speakers: tuple[str, ...], condition: str | None) -> tuple[list, str | None]:
    """The conditions to predict for ``condition`` (None, 'all' or a speaker) and a note."""
    if not speakers:
        if condition not in (None, "all"):
            raise UserError(f"--condition {condition}: this model has no speaker conditions")
        return [None], None
    if condition == "all":
        return list(speakers), f"all {len(speakers)} speaker conditions"
    if condition is None:
        if len(speakers) == 1:
            return [speakers[0]], None
        return [speakers[0]], (f"speaker condition '{speakers[0]}' (default, the first of {len(speakers)}: "
                               f"{', '.join(speakers)}; --condition NAME or --condition all)")
    if condition not in speakers:
        raise UserError(f"unknown condition '{condition}' (training speakers: {', '.join(speakers)}, or all)")
    return [condition], None


def animate_audio(model_name: str, audio: str | os.PathLike, template_spec: str | None = None, *,
                  data: str | None = None, run_dir=None, checkpoint=None, condition: str | None = None,
                  device: str = "auto", wav2vec2_model: str | None = None, backbone: str = "auto",
                  transcript: str | None = None, aligner: str = "pocketsphinx",
                  model_options: dict | None = None) -> AudioPrediction:
    """Vertices for ``audio`` (any rate, resampled to 16 kHz) per requested speaker condition;
    with ``transcript``, HiSTalk's units come from a forced alignment by ``aligner``.
    ``model_options``: further weight files (``vq_checkpoint``) and a stochastic model's ``seed``."""
    from ..common.audio import read_audio_16k
    from ..models.base import model_entry
    from .backbone import configure_backbone

    entry = model_entry(model_name)
    if not entry.predicts_audio:
        raise UserError(f"model '{model_name}' cannot predict from new audio (it needs a cache)")
    sound = read_audio_16k(audio)
    notes = []
    if data is None and (template_spec is None or Path(template_spec).suffix not in (".npy", ".ply", ".obj")):
        data = training_cache(run_dir)
        if data:
            notes.append(f"cache {data} (recorded by the run)")
    extra = entry.prediction_options({**(model_options or {}), "wav2vec2_model": wav2vec2_model}, run_dir, checkpoint)
    if "seed" in extra:
        notes.append(f"seed {extra['seed']}")
    predictor = entry.load_audio_predictor(run_dir=run_dir, checkpoint=checkpoint, device=device, **extra)
    fps = float(getattr(predictor.config, "fps", 30.0) or 30.0)
    if len(sound) < SAMPLE_RATE / fps:
        raise UserError(f"the audio lasts {1000 * len(sound) / SAMPLE_RATE:.1f} ms, shorter than one frame at {fps:g} fps", audio)
    speakers = speaker_choices(predictor)
    conditions, note = resolve_conditions(speakers, condition)
    template, name, template_note = load_template(template_spec, data, speakers)
    notes += [template_note] + ([note] if note else []) + configure_backbone(entry, predictor, backbone)
    n_vertices = getattr(predictor.config, "n_vertices", template.shape[0])
    if template.shape[0] != n_vertices:
        raise UserError(f"template has {template.shape[0]} vertices, the model was trained on {n_vertices}",
                        template_spec or data)
    started = time.perf_counter()
    predict = predictor.predict_audio
    if transcript is not None:
        alignment = align_transcript(sound, transcript, aligner)
        predict = unit_predictor(predictor, alignment)
        notes.append(f"units from a forced alignment of the transcript ({len(alignment.words)} words, "
                     f"{len(alignment.phones)} phones, {alignment.source})")
    elif getattr(predictor.config, "units", None) == "aligned":
        notes.append("the run was trained on aligned units; without --transcript the new audio is cut into "
                     "statistical windows (a mismatch: give --transcript TEXT for aligned units)")
    vertices = {c: predict(sound, template, c) for c in conditions}
    return AudioPrediction(model=predictor.name, vertices=vertices, template_name=name,
                           fps=float(getattr(predictor.config, "fps", 30.0)), audio_seconds=len(sound) / SAMPLE_RATE,
                           compute_seconds=time.perf_counter() - started, notes=notes, template=template)


def write_prediction(result: AudioPrediction, audio: str | os.PathLike, out: str | os.PathLike) -> list[Path]:
    """Write ``result`` to ``out``: (T, V*3) .npy (``STEM_condition_NAME.npy`` for each of several
    conditions) or a predictions .h5 (sequence TEMPLATE/AUDIO_STEM) that ``render`` reads."""
    out = Path(out)
    if out.suffix == ".npy":
        written = []
        for condition, vertices in result.vertices.items():
            target = out if len(result.vertices) == 1 else out.with_name(f"{out.stem}_condition_{condition}.npy")
            with atomic_path(target) as temporary, open(temporary, "wb") as handle:
                np.save(handle, vertices.reshape(vertices.shape[0], -1))
            written.append(target)
        return written
    if out.suffix not in (".h5", ".hdf5"):
        raise UserError("--out must end in .npy or .h5", out)
    from .store import PredictionWriter

    first = next(iter(result.vertices.values()))
    meta = {"audio": str(Path(audio).resolve()), "conditions": [c for c in result.vertices], "notes": result.notes}
    with PredictionWriter(out, model=result.model, dataset="audio", fps=result.fps, n_vertices=first.shape[1],
                          meta=meta) as writer:
        for condition, vertices in result.vertices.items():
            writer.write(result.template_name, Path(audio).stem, vertices, condition=condition)
    return [out]


def predict_audio(model_name: str, audio: str | os.PathLike, template_spec: str | None, out: str | os.PathLike, *,
                  data: str | None = None, run_dir=None, checkpoint=None, condition: str | None = None,
                  device: str = "auto", wav2vec2_model: str | None = None, backbone: str = "auto",
                  transcript: str | None = None, aligner: str = "pocketsphinx",
                  model_options: dict | None = None) -> tuple[list[Path], AudioPrediction]:
    """:func:`animate_audio` then :func:`write_prediction`."""
    result = animate_audio(model_name, audio, template_spec, data=data, run_dir=run_dir, checkpoint=checkpoint,
                           condition=condition, device=device, wav2vec2_model=wav2vec2_model, backbone=backbone,
                           transcript=transcript, aligner=aligner, model_options=model_options)
    return write_prediction(result, audio, out), result


def align_transcript(audio_16k: np.ndarray, transcript: str, aligner: str = "pocketsphinx"):
    """Phone and word tiers of ``audio_16k`` for ``transcript`` (an Alignment); UserError on failure."""
    from ..align.base import AlignmentFailure, AlignRequest
    from ..align.factory import make_aligner

    if not transcript.strip():
        raise UserError("--transcript is empty")
    [result] = make_aligner(aligner).align_many([AlignRequest("new", "audio", audio_16k, transcript)])
    if isinstance(result, AlignmentFailure) or not result.phones or not result.words:
        reason = result.reason if isinstance(result, AlignmentFailure) else "no phones or words"
        raise UserError(f"--transcript: {aligner} could not align it ({reason})")
    return result


def unit_predictor(predictor, alignment):
    """A ``predict_audio(audio, template, condition)`` for HiSTalk that uses aligned units (the
    phones and words of a forced alignment) instead of statistical windows."""
    if getattr(getattr(predictor, "config", None), "units", None) is None:
        raise UserError(f"--transcript: model '{predictor.name}' does not use phone/word units")

    def predict_audio(audio_16k: np.ndarray, template: np.ndarray, condition: str | None = None) -> np.ndarray:
        return predictor.predict_audio(audio_16k, template, condition, alignment=alignment)

    return predict_audio
