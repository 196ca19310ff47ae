"""Registry entry of FaceDiffuser: ``load_predictor`` (the official pretrained_{BIWI,vocaset}.pth
or our runs, seeded ancestral sampling) and ``train`` (the shared loop, the paper's configuration)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...cache import Cache, SequenceRef
from ...common.errors import UserError
from ...common.progress import Progress
from ...features.wav2vec2 import normalise
from ..base import ModelEntry, SpeechBackbone, condition_index
from ..training import resolve_device
from .checkpoint import load_model, run_selection
from .diffusion import CosineDiffusion
from .model import FaceDiffuser, usable_frames

DEFAULT_SEED = 0
FRAMES = ("audio", "gt")
SPACES = ("auto", "cache", "facexhubert")


class AxisNormalisation:
    """FaceDiffuser's BIWI data space (the FaceXHuBERT preprocessing): each subject's vertices per
    axis minus the mean of the subject's template, divided by the template's range (max - min).
    Affine per axis, so it gives the same normalised coordinates whatever per-axis units the cache
    holds; :meth:`back` maps predictions to the cache's units."""

    def __init__(self, template: np.ndarray):
        template = np.asarray(template, dtype=np.float64)
        self.mean = template.mean(axis=0)
        self.range = template.max(axis=0) - template.min(axis=0)
        if np.any(self.range <= 0):
            raise UserError("template is flat along an axis: the FaceXHuBERT normalisation is undefined")

    def forward(self, vertices: np.ndarray) -> np.ndarray:
        return ((vertices - self.mean) / self.range).astype(np.float32)

    def back(self, vertices: np.ndarray) -> np.ndarray:
        return (vertices * self.range + self.mean).astype(np.float32)


def audio_frame_count(n_samples: int, fps: float) -> int:
    """The official ``predict.py`` rule: int(n / 16000 * fps) - 1 (float arithmetic)."""
    return int(n_samples / 16000 * fps) - 1


class FaceDiffuserPredictor:
    """Seeded ancestral sampling (see :mod:`.diffusion` for the noise contract).  The audio is
    encoded once per sequence (the official loop re-encodes it at every step; the result does not
    depend on the step) and the speaker conditions of one sequence are denoised as one batch.
    Unseen subjects get one prediction per training-speaker condition, as the official test."""

    name = "facediffuser"

    def __init__(self, model: FaceDiffuser, device: torch.device, seed: int = DEFAULT_SEED, frames: str = "audio",
                 progress: bool = False, space: str = "cache"):
        if frames not in FRAMES:
            raise UserError(f"--frames must be 'audio' (predict.py's int(len/16000*fps)-1) or 'gt' "
                            f"(ground-truth length), not '{frames}'")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise UserError(f"--seed must be a non-negative integer, not {seed!r}")
        if space not in ("cache", "facexhubert"):
            raise UserError(f"space must be 'auto', 'cache' or 'facexhubert', not '{space}'")
        self.space = space
        self.model = model.eval().to(device)
        self.config = model.config
        self.device = device
        self.seed = int(seed)
        self.frames = frames
        self.progress = progress
        self.diffusion = CosineDiffusion(self.config.diffusion_steps)
        with torch.no_grad():
            steps = torch.arange(self.config.diffusion_steps, device=device)
            self.step_embeddings = model.step_embedding(steps)  # (S, L): the one-hot step is a column lookup

    @property
    def settings(self) -> dict:
        """What decides the predictions beyond the weights (recorded in the predictions' meta)."""
        return {"frames": self.frames, "seed": self.seed, "diffusion_steps": self.config.diffusion_steps,
                "space": self.space,
                "sampling": "ancestral DDPM, cosine schedule, x0 prediction, fixed-small variance",
                "noise": "one CPU torch.Generator(seed) per sequence and condition: x_T, then one draw per step",
                **getattr(self.model, "source", {})}

    def motion(self, audio_16k: np.ndarray, template: np.ndarray, n_frames: int, conditions: list[int]) -> np.ndarray:
        """(C, T', V, 3) vertices for 16 kHz audio, one per speaker condition (all with the same noise),
        in the cache's units (with ``space='facexhubert'`` sampled in the normalised space and mapped back)."""
        if self.space == "facexhubert":
            normalisation = AxisNormalisation(template)
            return normalisation.back(self._sample(audio_16k, normalisation.forward(template), n_frames, conditions))
        return self._sample(audio_16k, template, n_frames, conditions)

    def _sample(self, audio_16k: np.ndarray, template: np.ndarray, n_frames: int, conditions: list[int]) -> np.ndarray:
        model, device = self.model, self.device
        audio = torch.from_numpy(normalise(audio_16k))[None].to(device)
        with torch.no_grad():
            try:
                hidden = model.encode_audio(audio)
            except RuntimeError as exc:
                raise UserError(f"audio too short for FaceDiffuser's HuBERT encoder ({len(audio_16k)} samples)") from exc
            usable = usable_frames(hidden.shape[1], n_frames, self.config.fps)
            if usable < 1:
                raise UserError(f"audio too short for FaceDiffuser: {len(audio_16k)} samples give no frame")
            condition = model.audio_condition(hidden, usable)
            style = model.style(torch.tensor(conditions, device=device))
            flat = torch.from_numpy(np.ascontiguousarray(template, dtype=np.float32).reshape(1, -1)).to(device)

            def denoise(x_t: torch.Tensor, step: int) -> torch.Tensor:
                return model.denoise(x_t, self.step_embeddings[step:step + 1], condition, style, flat)

            with Progress(self.config.diffusion_steps, "facediffuser", "step", enabled=self.progress) as progress:
                out = self.diffusion.sample(denoise, (1, usable, flat.shape[1]), self.seed, batch=len(conditions),
                                            device=device, on_step=lambda _s: progress.update())
        return out.view(len(conditions), usable, -1, 3).cpu().numpy()

    def n_frames(self, cache: Cache, ref: SequenceRef, n_samples: int) -> int:
        return ref.n_frames if self.frames == "gt" else audio_frame_count(n_samples, self.config.fps)

    def predict(self, cache: Cache, ref: SequenceRef) -> dict:
        audio, template = cache.audio(ref.subject, ref.sentence), cache.template(ref.subject)
        n_frames = self.n_frames(cache, ref, len(audio))
        speakers = self.config.speakers
        if ref.subject in speakers:
            return {None: self.motion(audio, template, n_frames, [speakers.index(ref.subject)])[0]}
        motion = self.motion(audio, template, n_frames, list(range(len(speakers))))
        return {name: motion[i] for i, name in enumerate(speakers)}

    def predict_audio(self, audio_16k: np.ndarray, template: np.ndarray, condition: str | None = None) -> np.ndarray:
        speaker = condition_index(self.config.speakers, condition)
        return self.motion(audio_16k, template, audio_frame_count(len(audio_16k), self.config.fps), [speaker])[0]


def _prediction_options(options: dict) -> None:
    if options:
        raise UserError(f"unknown facediffuser prediction option(s): {', '.join(sorted(options))}")


def resolve_space(space: str, model: FaceDiffuser, cache: Cache) -> str:
    """'auto': 'facexhubert' for an official file on a BIWI cache (the released BIWI model works in
    that space), else 'cache'."""
    if space not in SPACES:
        raise UserError(f"space must be 'auto', 'cache' or 'facexhubert', not '{space}'")
    if space != "auto":
        return space
    official = bool(getattr(model, "source", {}).get("official"))
    return "facexhubert" if official and cache.dataset == "biwi" else "cache"


def load_predictor(cache: Cache, run_dir=None, checkpoint=None, device: str = "auto", frames: str = "audio",
                   seed: int | None = None, progress: bool = False, space: str = "auto", **options) -> FaceDiffuserPredictor:
    """A predictor for the cache's sequences; ``frames``: 'audio' (predict.py's count) or 'gt';
    ``seed``: the sampling seed (None: :data:`DEFAULT_SEED`); ``space``: the vertex space the model
    samples in ('auto', 'cache', or 'facexhubert': per-subject axis normalisation, see
    :class:`AxisNormalisation`)."""
    from ...datasets.splits import BIWI_TRAIN, VOCASET_TRAIN

    _prediction_options(options)
    official = tuple(BIWI_TRAIN if cache.dataset == "biwi" else VOCASET_TRAIN)
    model = load_model(run_dir, checkpoint, speakers=official, fps=cache.fps)
    if model.config.n_vertices != cache.n_vertices:
        raise UserError(f"checkpoint predicts {model.config.n_vertices} vertices but the cache ({cache.dataset}) has "
                        f"{cache.n_vertices}: wrong dataset?", checkpoint or run_dir)
    if abs(model.config.fps - cache.fps) > 1e-6:
        raise UserError(f"run was trained at {model.config.fps} fps but the cache is at {cache.fps} fps",
                        checkpoint or run_dir)
    return FaceDiffuserPredictor(model, resolve_device(device), seed=DEFAULT_SEED if seed is None else seed,
                                 frames=frames, progress=progress, space=resolve_space(space, model, cache))


class FaceDiffuserEntry(ModelEntry):
    name = "facediffuser"
    description = "FaceDiffuser (Stan et al., MIG 2023): HuBERT encoder, GRU denoiser, cosine DDPM predicting x0 (stochastic)"
    stochastic = True
    default_seed = DEFAULT_SEED  # predictions without --seed use seed 0 (recorded in the provenance)
    train_reads = ("size", "audio_encoder", "hubert_model", "allow_download", "latent_dim", "diffusion_steps",
                   "gru_layers", "select")
    predict_reads = ("frames", "space")

    def train(self, cache_path, out_dir, **options) -> Path:
        from .train import train

        return train(cache_path, out_dir, **options)

    def load_predictor(self, cache, run_dir=None, checkpoint=None, device="auto", **options) -> FaceDiffuserPredictor:
        return load_predictor(cache, run_dir=run_dir, checkpoint=checkpoint, device=device, **options)

    def weights_path(self, run_dir=None, checkpoint=None) -> Path | None:
        """RUN/last.pt for a run trained with ``select='last'`` (the default), as :func:`load_model`."""
        if checkpoint or run_dir is None:
            return super().weights_path(run_dir, checkpoint)
        return Path(run_dir) / ("last.pt" if run_selection(run_dir) == "last" else "best.pt")

    def load_audio_predictor(self, run_dir=None, checkpoint=None, device="auto", seed: int | None = None,
                             space: str = "auto", **options) -> FaceDiffuserPredictor:
        """Frames from the audio, as the official ``predict.py``; progress per diffusion step.  An
        official file's frame rate and speaker names follow its vertex count (BIWI 23,370: 25 fps,
        F2 F3 F4 M3 M4 M5, FaceXHuBERT's normalised space; VOCASET 5,023: 30 fps, the VOCASET
        training subjects)."""
        from ...datasets.splits import BIWI_TRAIN, VOCASET_TRAIN
        from .checkpoint import BIWI_VERTICES, VOCASET_VERTICES

        _prediction_options(options)
        model = load_model(run_dir, checkpoint)
        if getattr(model, "source", {}).get("official"):  # the official one-hot columns, named by the dataset
            official = {BIWI_VERTICES: BIWI_TRAIN, VOCASET_VERTICES: VOCASET_TRAIN}.get(model.config.n_vertices, ())
            if len(official) == len(model.config.speakers):
                model.config.speakers = tuple(official)
        if space not in SPACES:
            raise UserError(f"space must be 'auto', 'cache' or 'facexhubert', not '{space}'")
        if space == "auto":  # the released BIWI model samples in FaceXHuBERT's normalised space
            official_biwi = getattr(model, "source", {}).get("official") and model.config.n_vertices == BIWI_VERTICES
            space = "facexhubert" if official_biwi else "cache"
        return FaceDiffuserPredictor(model, resolve_device(device), seed=DEFAULT_SEED if seed is None else seed,
                                     progress=True, space=space)

    def speech_backbone(self, predictor: FaceDiffuserPredictor) -> SpeechBackbone:
        """The HuBERT encoder: fp32 unless int8 is asked for (its effect was not measured here)."""

        def install(network) -> None:
            predictor.model.audio_encoder = network

        return SpeechBackbone(predictor.model.audio_encoder, install, None, "fp32", "hubert audio encoder")
