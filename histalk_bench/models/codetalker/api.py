"""Registry entry of CodeTalker: ``load_predictor`` for the official two-file checkpoints
(``--checkpoint *_stage2.pth.tar --vq-checkpoint *_stage1.pth.tar``) or a ``train codetalker``
run, ``load_audio_predictor`` for ``animate``/``predict --audio``, and ``train``."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch

from ...cache import Cache, SequenceRef
from ...common.errors import UserError
from ...common.progress import Progress
from ...features.wav2vec2 import normalise
from ..base import ModelEntry, SpeechBackbone, condition_index, whole_sequence_training_reasons
from ..training import resolve_device
from .checkpoint import load_official
from .model import CodeTalker

FRAMES = ("audio", "gt")
SEEN_CONDITIONS = ("own", "all")


@contextlib.contextmanager
def tf32_off():
    """float32 matrix products and convolutions without TF32 (CUDA), restored afterwards: the
    codebook choices then match a float32 run instead of flipping on near-ties."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


class CodeTalkerPredictor:
    """The official ``test``: a training subject is conditioned on itself (``seen_conditions='own'``,
    BIWI Test-A as the paper's table) or on every training speaker (``'all'``); an unseen subject
    (VOCASET test, BIWI Test-B) gets one prediction per training-speaker condition.  Frames come
    from the audio (``frames='audio'``, the official ``predict``) or the ground truth (``'gt'``)."""

    name = "codetalker"

    def __init__(self, model: CodeTalker, device: torch.device, frames: str = "audio", seen_conditions: str = "own",
                 progress: bool = False):
        if frames not in FRAMES:
            raise UserError(f"--frames must be 'audio' (the official test) or 'gt' (ground-truth length), not '{frames}'")
        if seen_conditions not in SEEN_CONDITIONS:
            raise UserError(f"seen_conditions must be 'own' (a training subject conditioned on itself, the official "
                            f"test) or 'all' (every training condition), not '{seen_conditions}'")
        self.model = model.eval().to(device)
        self.config = model.config
        self.device, self.frames, self.seen_conditions, self.progress = device, frames, seen_conditions, progress

    @property
    def settings(self) -> dict:
        """What decides the predictions beyond the weights (recorded in the predictions' meta)."""
        return {"frames": self.frames, "seen_conditions": self.seen_conditions, "tf32": False,
                "decoding": "autoregressive, cached decoder keys/values, VQ decoder over the prefix",
                **getattr(self.model, "source", {})}

    def motion(self, audio_16k: np.ndarray, n_frames: int | None, conditions: list[int]) -> np.ndarray:
        """(C, T, V, 3) displacements for 16 kHz audio, one per speaker condition (one audio
        encoding, the conditions decoded as one batch)."""
        audio = torch.from_numpy(normalise(audio_16k))[None].to(self.device)
        with torch.no_grad(), tf32_off():
            try:
                memory, usable = self.model.encode_audio(audio, n_frames)
            except ValueError as exc:
                raise UserError(f"audio too short for CodeTalker ({exc})") from None
            if usable < 2:
                raise UserError(f"audio too short for CodeTalker: {usable} frame(s), its VQ decoder needs 2")
            style = self.model.style(torch.tensor(conditions, device=self.device))
            with Progress(usable, "codetalker", "frame", enabled=self.progress) as progress:
                out = self.model.generate(memory, style, usable, on_step=lambda _t: progress.update())
        return out.view(len(conditions), usable, -1, 3).float().cpu().numpy()

    def predict(self, cache: Cache, ref: SequenceRef) -> dict:
        audio, template = cache.audio(ref.subject, ref.sentence), cache.template(ref.subject)
        n_frames = ref.n_frames if self.frames == "gt" else None
        speakers = self.config.speakers
        if ref.subject in speakers and self.seen_conditions == "own":
            return {None: template[None] + self.motion(audio, n_frames, [speakers.index(ref.subject)])[0]}
        motion = self.motion(audio, n_frames, list(range(len(speakers))))
        return {name: template[None] + motion[i] for i, name in enumerate(speakers)}

    def predict_audio(self, audio_16k: np.ndarray, template: np.ndarray, condition: str | None = None) -> np.ndarray:
        speaker = condition_index(self.config.speakers, condition)
        return template[None] + self.motion(audio_16k, None, [speaker])[0]


def official_speakers(dataset: str | None) -> tuple[str, ...]:
    """The style rows' subjects: the training subjects in the official configs' order."""
    from ...datasets.splits import BIWI_TRAIN, VOCASET_TRAIN

    return tuple(BIWI_TRAIN if dataset == "biwi" else VOCASET_TRAIN)


def load_model(run_dir=None, checkpoint=None, vq_checkpoint=None, dataset: str | None = None) -> CodeTalker:
    """The official pair (``checkpoint`` = stage 2, ``vq_checkpoint`` = stage 1) or a run's stage 2."""
    if checkpoint:
        from .checkpoint import run_config

        if run_config(checkpoint) is not None:  # a train codetalker run's RUN/best.pt given as a file
            if vq_checkpoint:
                raise UserError("a codetalker run's checkpoint holds its own stage-1 weights: drop --vq-checkpoint", checkpoint)
            from .training import load_run_file

            return load_run_file(checkpoint)
        if not vq_checkpoint:
            raise UserError("CodeTalker's official release is two files: give the stage-2 file to --checkpoint and the "
                            "stage-1 VQ-VAE (e.g. vocaset_stage1.pth.tar) to --vq-checkpoint", checkpoint)
        model = load_official(checkpoint, vq_checkpoint, official_speakers(dataset))
        if dataset is None and model.config.tokens_per_frame == 2:  # new audio: a BIWI file names BIWI's subjects
            biwi = official_speakers("biwi")
            if len(model.config.speakers) == len(biwi):
                model.config.speakers = biwi
        return model
    if run_dir:
        if vq_checkpoint:
            raise UserError("a codetalker run holds its own stage-1 weights: drop --vq-checkpoint (or give --checkpoint)")
        from .training import load_run

        return load_run(run_dir)
    raise UserError("CodeTalker needs --checkpoint STAGE2 --vq-checkpoint STAGE1 (official files) or --run RUN_DIR")


def _prediction_options(options: dict) -> None:
    """Options that reach the loader unchecked (CodeTalkerEntry.unused_options refuses the given ones first)."""
    if "wav2vec2_model" in options:
        raise UserError("--wav2vec2-model does not apply to codetalker (the checkpoint holds the encoder weights)")
    if options:
        raise UserError(f"unknown codetalker prediction option(s): {', '.join(sorted(options))}")


_VQ_SIZES = ("vq_hidden", "vq_depth", "vq_heads", "vq_mlp", "n_codes", "code_dim", "codes_per_frame", "stage1_epochs",
             "quant_loss_weight")


def load_predictor(cache: Cache, run_dir=None, checkpoint=None, device: str = "auto", vq_checkpoint=None,
                   frames: str = "audio", seen_conditions: str = "own", progress: bool = False,
                   **options) -> CodeTalkerPredictor:
    _prediction_options(options)
    model = load_model(run_dir, checkpoint, vq_checkpoint, dataset=cache.dataset)
    if model.config.n_vertices != cache.n_vertices:
        raise UserError(f"checkpoint predicts {model.config.n_vertices} vertices but the cache ({cache.dataset}) has "
                        f"{cache.n_vertices}: wrong dataset?", checkpoint or run_dir)
    return CodeTalkerPredictor(model, resolve_device(device), frames=frames, seen_conditions=seen_conditions,
                               progress=progress)


class CodeTalkerEntry(ModelEntry):
    name = "codetalker"
    description = "CodeTalker (Xing et al., CVPR 2023): VQ-VAE motion codebook + wav2vec2 autoregressive code predictor"
    checkpoint_parts = ("checkpoint", "vq_checkpoint")
    predict_reads = ("frames", "seen_conditions")

    @property
    def train_reads(self) -> tuple[str, ...]:
        from .training import MODEL_OPTIONS

        return MODEL_OPTIONS

    def unused_options(self, command: str, options: dict) -> dict[str, str]:
        """Training: batch size 1 and whole sequences (as the original), raw audio in, stage-1
        options refused when ``vq_checkpoint`` supplies stage 1, the pretrained-weights options only
        with audio_encoder=base; predictions: no wav2vec2 folder (the checkpoint holds the encoder)."""
        reasons = super().unused_options(command, options)
        if command == "train":
            reasons.update(whole_sequence_training_reasons("CodeTalker", options))
            if options.get("vq_checkpoint"):
                reasons.update({name: "does not apply: vq_checkpoint supplies stage 1 (its file fixes the VQ-VAE)"
                                for name in _VQ_SIZES})
            encoder = options.get("audio_encoder", "base")
            if encoder != "base":
                reasons.update({name: f"only acts with audio_encoder=base (pretrained weights), not '{encoder}'"
                                for name in ("wav2vec2_model", "allow_download")})
        else:
            reasons["wav2vec2_model"] = "does not apply to codetalker predictions (the checkpoint holds the encoder weights)"
        return {name: why for name, why in reasons.items() if name in options}

    def speech_backbone(self, predictor: CodeTalkerPredictor) -> SpeechBackbone:
        """The fine-tuned wav2vec2 encoder stored in stage 2: fp32 unless int8 is asked for (its
        effect on CodeTalker's codebook choices was not measured)."""

        def install(network) -> None:
            predictor.model.audio_encoder = network

        return SpeechBackbone(predictor.model.audio_encoder, install, None, "fp32", "wav2vec2 audio encoder")

    def load_predictor(self, cache, run_dir=None, checkpoint=None, device="auto", **options) -> CodeTalkerPredictor:
        return load_predictor(cache, run_dir=run_dir, checkpoint=checkpoint, device=device, **options)

    def load_audio_predictor(self, run_dir=None, checkpoint=None, device="auto", vq_checkpoint=None,
                             **options) -> CodeTalkerPredictor:
        """Frames from the audio, as the official ``predict``; progress per frame."""
        _prediction_options(options)
        return CodeTalkerPredictor(load_model(run_dir, checkpoint, vq_checkpoint), resolve_device(device), progress=True)

    def train(self, cache_path, out_dir, **options) -> Path:
        from .training import train

        return train(cache_path, out_dir, **options)
