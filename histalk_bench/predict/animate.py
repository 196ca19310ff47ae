"""``animate``: a wav -> predicted meshes -> an mp4 with the audio muxed in, and optionally the
vertices (.npy), a mesh sequence (.obj per frame, for Blender) and a lip-opening plot."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..common.atomic import atomic_path
from ..common.constants import SAMPLE_RATE
from .audio import AudioPrediction, animate_audio, training_cache


@dataclass
class AnimateOptions:
    """What to predict and write besides the video (see ``histalk-bench animate --help``)."""

    model: str = "histalk"
    run_dir: str | None = None
    checkpoint: str | None = None
    vq_checkpoint: str | None = None
    seed: int | None = None
    template: str | None = None
    data: str | None = None
    faces: str | None = None
    condition: str | None = None
    device: str = "auto"
    wav2vec2_model: str | None = None
    backbone: str = "auto"
    size: int = 512
    render_backend: str = "auto"
    workers: int | None = None
    save_npy: str | None = None
    save_obj: str | None = None
    plot: str | None = None
    progress: bool = True
    transcript: str | None = None


@dataclass
class AnimateResult:
    prediction: AudioPrediction
    video: Path
    render: object  # rendering.render.RenderResult
    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_faces(options: AnimateOptions, data: str | None) -> tuple[np.ndarray | None, str]:
    """Triangles for the video: --faces, else a .ply/.obj template, else the cache's /faces."""
    from ..rendering.inputs import mesh_faces

    if options.faces:
        return mesh_faces(options.faces, None)
    if options.template and Path(options.template).suffix in (".ply", ".obj"):
        return mesh_faces(options.template, None)
    return mesh_faces(None, data)


def save_obj_sequence(vertices: np.ndarray, faces: np.ndarray | None, folder: str | os.PathLike, stem: str) -> list[Path]:
    """One Wavefront .obj per frame, ``STEM_00000.obj`` ... (vertices (T, V, 3); faces (F, 3) or
    None for points), as Blender's OBJ-sequence importers expect."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    face_lines = "" if faces is None else "".join(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in np.asarray(faces))
    paths = []
    for t, frame in enumerate(vertices):
        path = folder / f"{stem}_{t:05d}.obj"
        body = "".join(f"v {x:.6f} {y:.6f} {z:.6f}\n" for x, y, z in frame)
        with atomic_path(path) as temporary:
            temporary.write_text(f"# histalk-bench animate, frame {t}\n{body}{face_lines}")
        paths.append(path)
    return paths


def _label(model: str, condition) -> str:
    return model if condition is None else f"{model} [{condition}]"


def animate(audio: str | os.PathLike, out: str | os.PathLike, options: AnimateOptions) -> AnimateResult:
    """Predict ``audio`` with the model and write the video ``out`` (and what ``options`` ask for)."""
    from ..common.audio import read_audio_16k
    from ..rendering.geometry import frame_meshes
    from ..rendering.inputs import Loaded, Panel, check_faces
    from ..rendering.render import render_panels

    data = options.data or (None if options.template else training_cache(options.run_dir))
    found = [f"cache {data} (recorded by the run)"] if data and not options.data else []
    mouth = None
    if options.plot:
        from .lip_plot import mouth_of

        mouth = mouth_of(data)
    prediction = animate_audio(options.model, audio, options.template, data=data, run_dir=options.run_dir,
                               checkpoint=options.checkpoint, condition=options.condition, device=options.device,
                               wav2vec2_model=options.wav2vec2_model, backbone=options.backbone,
                               transcript=options.transcript,
                               model_options={"vq_checkpoint": options.vq_checkpoint, "seed": options.seed})
    faces, faces_note = find_faces(options, data)
    first = next(iter(prediction.vertices.values()))
    faces = check_faces(faces, first.shape[1], options.faces or options.template or data)
    panels = [Panel(_label(prediction.model, c), v) for c, v in prediction.vertices.items()]
    sound = read_audio_16k(audio)
    loaded = Loaded(panels, faces, sound[: round(first.shape[0] / prediction.fps * SAMPLE_RATE)], prediction.fps,
                    "audio", [faces_note])
    framing = frame_meshes([p.vertices for p in panels], margin=1.12)
    rendered = render_panels(loaded, out, size=options.size, backend=options.render_backend, workers=options.workers,
                             progress=options.progress, framing=framing)
    result = AnimateResult(prediction, rendered.path, rendered, notes=found + prediction.notes + rendered.notes)
    stem = Path(audio).stem
    if options.save_npy:
        from .audio import write_prediction

        result.written += write_prediction(prediction, audio, options.save_npy)
    if options.save_obj:
        for condition, vertices in prediction.vertices.items():
            name = stem if condition is None else f"{stem}_condition_{condition}"
            save_obj_sequence(vertices, faces, Path(options.save_obj), name)
        result.written.append(Path(options.save_obj))
    if options.plot:
        from .lip_plot import plot_new_audio_lips

        result.written.append(plot_new_audio_lips(prediction, sound, mouth, options.plot))
    return result
