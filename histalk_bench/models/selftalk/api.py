"""Registry entry of SelfTalk: ``load_predictor`` (the official vocaset.pth / BIWI.pth or our runs)
and ``train`` (the paper's losses through the shared loop, see :mod:`.train`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from ...cache import Cache, SequenceRef
from ...common.errors import UserError
from ...features.wav2vec2 import normalise
from ..base import ModelEntry, SpeechBackbone, whole_sequence_training_reasons
from ..training import resolve_device
from .checkpoint import load_model, load_notes
from .model import SelfTalk

FRAMES = ("audio", "gt")


class SelfTalkPredictor:
    """Inference as the official ``test()``: no speaker conditioning (one prediction per sequence,
    condition None), the frame count from the audio (``frames='audio'``) or the ground truth's
    (``frames='gt'``: the whole audio resampled to it, as in training)."""

    name = "selftalk"

    def __init__(self, model: SelfTalk, device: torch.device, frames: str = "audio"):
        if frames not in FRAMES:
            raise UserError(f"--frames must be 'audio' (the official test) or 'gt' (ground-truth length), not '{frames}'")
        self.model = model.eval().to(device)
        self.config = model.config  # fps, n_vertices; no speakers: unconditioned
        self.device = device
        self.frames = frames

    @property
    def settings(self) -> dict:
        """What decides the predictions beyond the weights (recorded in the predictions' meta)."""
        config = self.model.config
        return {"frames": self.frames, "dataset_layout": config.dataset, "window_s": config.window_s,
                "decoding": "non-autoregressive, decoder(x, x) without masks", **getattr(self.model, "source", {})}

    def motion(self, audio_16k: np.ndarray, n_frames: int | None = None) -> np.ndarray:
        """(T, V, 3) displacements for 16 kHz audio; T = ``n_frames`` or the official count from the audio."""
        audio = torch.from_numpy(normalise(audio_16k))[None].to(self.device)
        with torch.no_grad():
            try:
                out = self.model(audio, n_frames)
            except ValueError as exc:
                raise UserError(f"audio too short for SelfTalk ({exc})") from None
        return out[0].view(out.shape[1], -1, 3).float().cpu().numpy()

    def predict(self, cache: Cache, ref: SequenceRef) -> dict:
        n_frames = ref.n_frames if self.frames == "gt" else None
        motion = self.motion(cache.audio(ref.subject, ref.sentence), n_frames)
        return {None: cache.template(ref.subject)[None] + motion}

    def predict_audio(self, audio_16k: np.ndarray, template: np.ndarray, condition: str | None = None) -> np.ndarray:
        if condition is not None:
            raise UserError("SelfTalk has no speaker conditions: drop --condition")
        return template[None] + self.motion(audio_16k)


def weights_file(run_dir=None, checkpoint=None) -> Path:
    """--checkpoint, else the run's weights (RUN/last.pt for select=last, the official test's choice)."""
    if checkpoint:
        return Path(checkpoint)
    if run_dir is None:
        raise UserError("SelfTalk needs --checkpoint vocaset.pth|BIWI.pth or --run RUN_DIR")
    from .train import run_selection

    return Path(run_dir) / ("last.pt" if run_selection(run_dir) == "last" else "best.pt")


def _options(options: dict, allowed: tuple[str, ...]) -> dict:
    options = {k: v for k, v in options.items() if v is not None}
    if "wav2vec2_model" in options:
        raise UserError("--wav2vec2-model does not apply to selftalk predictions (the checkpoint holds the encoder weights)")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UserError(f"unknown selftalk prediction option(s): {', '.join(unknown)}")
    return options


def load(run_dir=None, checkpoint=None) -> SelfTalk:
    path = weights_file(run_dir, checkpoint)
    if not path.exists():
        raise UserError("checkpoint not found" if checkpoint else
                        "no SelfTalk checkpoint found (train first: 'histalk-bench train selftalk ...')", path)
    model = load_model(path)
    for note in load_notes(model):
        print(f"note: {note}", file=sys.stderr)
    return model


def load_predictor(cache: Cache, run_dir=None, checkpoint=None, device: str = "auto", **options) -> SelfTalkPredictor:
    options = _options(options, ("frames",))
    model = load(run_dir, checkpoint)
    if model.config.n_vertices != cache.n_vertices:
        raise UserError(f"checkpoint predicts {model.config.n_vertices} vertices but the cache ({cache.dataset}) has "
                        f"{cache.n_vertices}: wrong dataset?", checkpoint or run_dir)
    expected = "biwi" if cache.dataset == "biwi" else "vocaset"
    if model.config.dataset != expected:
        raise UserError(f"checkpoint has SelfTalk's {model.config.dataset} layout but the cache is {cache.dataset}",
                        checkpoint or run_dir)
    return SelfTalkPredictor(model, resolve_device(device), frames=options.get("frames", "audio"))


class SelfTalkEntry(ModelEntry):
    name = "selftalk"
    description = ("SelfTalk (Peng et al., ACM MM 2023): wav2vec2-large-xlsr encoder, unmasked one-layer Transformer "
                   "decoder, non-autoregressive, no speaker conditioning")

    train_reads = ("audio_encoder", "wav2vec2_model", "text_encoder", "d_model", "lip_layers", "lip_heads", "lip_ffn",
                   "word_delimiter_id", "select")
    predict_reads = ("frames",)

    def unused_options(self, command: str, options: dict) -> dict[str, str]:
        """Training: batch size 1 and whole sequences (as the original), raw audio in, pretrained
        weights only from a local folder and only for audio_encoder=xlsr; predictions: no wav2vec2
        folder (the checkpoint holds the encoder)."""
        reasons = super().unused_options(command, options)
        if command == "train":
            reasons.update(whole_sequence_training_reasons("SelfTalk", options))
            reasons.update({
                "allow_download": "is not read: selftalk loads pretrained weights only from a local folder (--wav2vec2-model DIR)"})
            encoder = options.get("audio_encoder", "xlsr")
            if encoder != "xlsr":
                reasons["wav2vec2_model"] = f"only acts with audio_encoder=xlsr (pretrained weights), not '{encoder}'"
        else:
            reasons["wav2vec2_model"] = "does not apply to selftalk predictions (the checkpoint holds the encoder weights)"
        return {name: why for name, why in reasons.items() if name in options}

    def train(self, cache_path, out_dir, **options) -> Path:
        from .train import train

        return train(cache_path, out_dir, **options)

    def load_predictor(self, cache, run_dir=None, checkpoint=None, device="auto", **options) -> SelfTalkPredictor:
        return load_predictor(cache, run_dir=run_dir, checkpoint=checkpoint, device=device, **options)

    def weights_path(self, run_dir=None, checkpoint=None) -> Path | None:
        if checkpoint is None and run_dir is None:
            return None
        return weights_file(run_dir, checkpoint)

    def load_audio_predictor(self, run_dir=None, checkpoint=None, device="auto", **options) -> SelfTalkPredictor:
        """Frames from the audio, as the official ``predict``."""
        _options(options, ())
        return SelfTalkPredictor(load(run_dir, checkpoint), resolve_device(device))

    def speech_backbone(self, predictor: SelfTalkPredictor) -> SpeechBackbone:
        """The trained audio encoder: fp32 unless int8 is asked for (its effect on SelfTalk was not measured)."""

        def install(network) -> None:
            predictor.model.audio_encoder = network

        return SpeechBackbone(predictor.model.audio_encoder, install, None, "fp32", "wav2vec2 audio encoder")
