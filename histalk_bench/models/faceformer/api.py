"""Registry entry of FaceFormer: ``train`` (shared loop) and ``load_predictor`` (our runs or the
official vocaset.pth / biwi.pth)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from ...cache import Cache, SequenceRef
from ...common.errors import UserError
from ...common.progress import Progress
from ...features.wav2vec2 import normalise
from ..base import ModelEntry, SpeechBackbone, condition_index, whole_sequence_training_reasons
from ..data import WholeSequences, collate_whole
from ..training import TrainOptions, fit, resolve_device
from .checkpoint import config_from_official, read_saved, rename_weight_norm
from .model import FaceFormer, FaceFormerConfig


def protocol_speakers(cache: Cache) -> tuple[str, ...]:
    from ...datasets.base import training_speaker_order

    return training_speaker_order(cache.dataset, cache.subjects("train"))


class FaceFormerTask:
    def __init__(self, model: FaceFormer, lip_ids: np.ndarray | None):
        self.model = model
        self.lip_ids = None if lip_ids is None else torch.as_tensor(lip_ids, dtype=torch.long)

    def _predict(self, model, batch):
        motion = batch["motion"]
        predicted = model(batch["audio"], batch["speaker"], motion.shape[1], displacement=motion)
        return predicted, motion[:, : predicted.shape[1]]

    def loss(self, model, batch):
        predicted, target = self._predict(model, batch)
        loss = torch.mean((predicted - target) ** 2)
        return loss, {"mse": float(loss.detach())}

    def validate(self, model, batch):
        """Seen subjects: their own condition; unseen (speaker -1): mean over every training condition,
        as the original's validation.  The audio is encoded once and the conditions decoded together
        (eval mode: cached autoregressive decoding, or teacher forcing when the run uses it)."""
        speaker, motion = int(batch["speaker"][0]), batch["motion"]
        conditions = [speaker] if speaker >= 0 else list(range(model.obj_vector.in_features))
        memory, usable = model.encode_audio(batch["audio"], motion.shape[1])
        style = model.style(torch.tensor(conditions, device=motion.device))
        target = motion[:, :usable]
        if model.config.teacher_forcing:
            predicted = model.forward_teacher_forced(memory.expand(len(conditions), -1, -1), style,
                                                     target.expand(len(conditions), -1, -1))
        else:
            predicted = model.generate(memory, style, usable)
        error = predicted - target
        out = {"loss": float(torch.mean(error ** 2))}  # every condition has the same number of frames
        if self.lip_ids is not None:
            lips = error.view(*error.shape[:2], -1, 3)[:, :, self.lip_ids.to(error.device)]
            out.update(lve_sum=float((lips ** 2).sum(-1).amax(-1).sum()) / len(conditions), frames=float(usable))
        return out

    def run_config(self) -> dict:
        return {"model": "faceformer", "faceformer": self.model.config.to_dict()}


AUDIO_ENCODERS = ("base", "tiny", "base-random")


def _train_options(options: dict) -> TrainOptions:
    """The paper's optimisation unless overridden: 100 epochs, Adam 1e-4, batch 1, no early
    stopping, no gradient clipping."""
    unknown = set(options) - set(TrainOptions.__dataclass_fields__)
    if unknown:
        raise UserError(f"unknown faceformer option(s): {', '.join(sorted(unknown))}")
    return TrainOptions(**{"epochs": 100, "lr": 1e-4, "patience": 0, "grad_clip": 0.0, "batch_size": 1, **options})


def train(cache_path: str | os.PathLike, out_dir: str | os.PathLike, *, audio_encoder: str = "base",
          wav2vec2_model: str | None = None, allow_download: bool = False, d_model: int | None = None,
          teacher_forcing: bool = False, select: str = "last", **options) -> Path:
    """Train FaceFormer as the paper does by default: pretrained wav2vec2-base-960h encoder (CNN
    frozen), autoregressive MSE, Adam 1e-4, 100 epochs, batch size 1, no early stopping.

    ``audio_encoder``: 'base' (pretrained weights from ``wav2vec2_model`` -- a folder or hub id,
    default facebook/wav2vec2-base-960h -- found locally, or downloaded with ``allow_download``),
    'tiny' (random init: the CPU demo configuration, not the paper's), 'base-random' (base-sized,
    random init) or a folder with pretrained wav2vec2 weights.  ``teacher_forcing=True`` feeds
    ground-truth previous frames (fast; not the paper's).  ``select``: which weights prediction
    uses, 'last' (the final epoch: the official test() loads the last saved model) or 'best' (the
    best validation epoch).  The training subjects (one-hot order) and the encoder's source are
    stored in the run config.
    """
    if audio_encoder not in AUDIO_ENCODERS and not Path(audio_encoder).expanduser().is_dir():
        raise UserError(f"audio_encoder must be base, tiny, base-random or a wav2vec2 folder, not '{audio_encoder}'")
    if select not in ("last", "best"):
        raise UserError(f"select must be 'last' (the final epoch, as the paper) or 'best' (validation), not '{select}'")
    train_options = _train_options(options)
    cache = Cache(cache_path)
    if not cache.sequences("train"):
        raise UserError("no training sequences (split 'train')", cache_path)
    speakers = protocol_speakers(cache)
    biwi = cache.dataset == "biwi"
    config = FaceFormerConfig(n_vertices=cache.n_vertices, speakers=speakers, d_model=d_model or (128 if biwi else 64),
                              period=int(round(cache.fps)), fps=cache.fps, tokens_per_frame=2 if biwi else 1,
                              audio_encoder=audio_encoder, teacher_forcing=teacher_forcing,
                              wav2vec2_model=wav2vec2_model if audio_encoder == "base" else None, select=select)
    torch.manual_seed(train_options.seed)
    model = FaceFormer(config, allow_download=allow_download)
    # the encoder's shape goes into the run config: prediction rebuilds it without the pretrained weights
    model.config.encoder_config = json.loads(model.audio_encoder.config.to_json_string())
    lip = cache.regions().get("lip")
    val = WholeSequences(cache_path, "val", speakers) if cache.sequences("val") else None
    fit(FaceFormerTask(model, lip), WholeSequences(cache_path, "train", speakers), val, out_dir, train_options, collate_whole)
    return Path(out_dir)


FRAMES = ("audio", "gt")


class FaceFormerPredictor:
    """Autoregressive inference as the official ``test()``: unseen subjects get one prediction per
    training-speaker condition; the frame count comes from the audio (``frames='audio'``) or is
    the ground truth's (``frames='gt'``)."""

    name = "faceformer"

    def __init__(self, model: FaceFormer, device: torch.device, frames: str = "audio", progress: bool = False):
        if frames not in FRAMES:
            raise UserError(f"--frames must be 'audio' (the official test) or 'gt' (ground-truth length), not '{frames}'")
        self.model = model.eval().to(device)
        self.config = model.config
        self.device = device
        self.frames = frames
        self.progress = progress

    @property
    def settings(self) -> dict:
        """What decides the predictions beyond the weights (recorded in the predictions' meta)."""
        return {"frames": self.frames, "decoding": "autoregressive, cached keys/values",
                **getattr(self.model, "source", {})}

    def motion(self, audio_16k: np.ndarray, n_frames: int | None, conditions: list[int]) -> np.ndarray:
        """(C, T', V, 3) displacements for 16 kHz audio, one per speaker condition; T' = ``n_frames``
        (None: the count the official ``predict`` derives from the audio) or the frames the audio covers."""
        audio = torch.from_numpy(normalise(audio_16k))[None].to(self.device)
        with torch.no_grad():
            try:
                memory, usable = self.model.encode_audio(audio, n_frames)
            except ValueError as exc:
                raise UserError(f"audio too short for FaceFormer ({exc})") from None
            style = self.model.style(torch.tensor(conditions, device=self.device))
            with Progress(usable, "faceformer", "frame", enabled=self.progress) as progress:
                out = self.model.generate(memory, style, usable, on_step=lambda _t: progress.update())
        return out.view(len(conditions), usable, -1, 3).cpu().numpy()

    def predict(self, cache: Cache, ref: SequenceRef) -> dict:
        audio, template = cache.audio(ref.subject, ref.sentence), cache.template(ref.subject)
        n_frames = ref.n_frames if self.frames == "gt" else None
        speakers = self.config.speakers
        if ref.subject in speakers:
            return {None: template[None] + self.motion(audio, n_frames, [speakers.index(ref.subject)])[0]}
        motion = self.motion(audio, n_frames, list(range(len(speakers))))
        return {name: template[None] + motion[i] for i, name in enumerate(speakers)}

    def predict_audio(self, audio_16k: np.ndarray, template: np.ndarray, condition: str | None = None) -> np.ndarray:
        speaker = condition_index(self.config.speakers, condition)
        return template[None] + self.motion(audio_16k, None, [speaker])[0]


def run_selection(run_dir: str | os.PathLike) -> str:
    """A run's ``select`` ('last' or 'best'): from RUN/config.json, else from the config inside RUN/best.pt."""
    config_file = Path(run_dir) / "config.json"
    try:
        task = json.loads(config_file.read_text())["task"]
    except (OSError, ValueError, KeyError):
        saved = read_saved(Path(run_dir) / "best.pt")
        task = json.loads(saved["config"]) if isinstance(saved.get("config"), str) else {}
    return FaceFormerConfig.from_dict(task.get("faceformer", {})).select


def _run_state(saved: dict, path: Path, run_dir) -> tuple[FaceFormerConfig, dict, dict]:
    """Config, weights and their source from one of our checkpoints; a run trained with
    ``select='last'`` gives the final epoch's weights (RUN/last.pt), as the official test() uses."""
    if not isinstance(saved.get("config"), str):
        raise UserError("not a checkpoint of a histalk-bench run (no config)", path)
    run_config = json.loads(saved["config"])
    if run_config.get("model") != "faceformer":
        raise UserError(f"checkpoint is for model '{run_config.get('model')}', not faceformer", path)
    config = FaceFormerConfig.from_dict(run_config["faceformer"])
    if run_dir is not None and config.select == "last":
        path = Path(run_dir) / "last.pt"
        saved = read_saved(path)
    return config, saved["model"], {"weights": path.name, "epoch": saved.get("epoch")}


def load_model(run_dir=None, checkpoint=None, speakers: tuple[str, ...] = ()) -> FaceFormer:
    """A run's weights (RUN/last.pt or RUN/best.pt, see ``FaceFormerConfig.select``), one of our
    checkpoint files, or an official state dict (vocaset.pth / biwi.pth); weights_only=True.
    ``model.source`` says which file (and epoch) the weights came from."""
    path = Path(checkpoint) if checkpoint else Path(run_dir) / "best.pt" if run_dir else None
    if path is None:
        raise UserError("FaceFormer needs --run RUN_DIR or --checkpoint vocaset.pth|biwi.pth")
    if not path.exists():
        raise UserError("checkpoint not found" if checkpoint else
                        "no FaceFormer checkpoint found (train first: 'histalk-bench train faceformer ...')", path)
    saved = read_saved(path)
    if not checkpoint or (isinstance(saved.get("config"), str) and isinstance(saved.get("model"), dict)):
        # one of our runs (RUN/best.pt, also when given as --checkpoint): its config names the speakers
        config, state, source = _run_state(saved, path, None if checkpoint else run_dir)
    else:
        state = rename_weight_norm(saved.get("model", saved) if isinstance(saved.get("model"), dict) else saved)
        config, source = config_from_official(state, speakers), {"weights": path.name, "epoch": None}
    model = FaceFormer(config, initialise=False)  # every weight but masked_spec_embed comes from the file
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("masked_spec_embed")]
    if missing or unexpected:
        raise UserError(f"checkpoint does not match FaceFormer: missing {missing[:3]}, unexpected {unexpected[:3]}", path)
    model.source = source
    return model


def _prediction_options(options: dict) -> None:
    """Options that reach the loader unchecked (FaceFormerEntry.unused_options refuses the given ones first)."""
    if options:
        raise UserError(f"unknown faceformer prediction option(s): {', '.join(sorted(options))}")


def load_predictor(cache: Cache, run_dir=None, checkpoint=None, device: str = "auto", frames: str = "audio",
                   progress: bool = False, **options) -> FaceFormerPredictor:
    """A predictor for the cache's sequences; ``frames``: 'audio' (the official test) or 'gt'."""
    from ...datasets.splits import BIWI_TRAIN, VOCASET_TRAIN

    _prediction_options(options)
    official = tuple(BIWI_TRAIN if cache.dataset == "biwi" else VOCASET_TRAIN)
    model = load_model(run_dir, checkpoint, speakers=official)
    if model.config.n_vertices != cache.n_vertices:
        raise UserError(f"checkpoint predicts {model.config.n_vertices} vertices but the cache ({cache.dataset}) has "
                        f"{cache.n_vertices}: wrong dataset?", checkpoint or run_dir)
    return FaceFormerPredictor(model, resolve_device(device), frames=frames, progress=progress)


class FaceFormerEntry(ModelEntry):
    name = "faceformer"
    description = "FaceFormer (Fan et al., CVPR 2022): wav2vec2 encoder, biased causal Transformer decoder, autoregressive"

    train_reads = ("audio_encoder", "wav2vec2_model", "allow_download", "d_model", "teacher_forcing", "select")
    predict_reads = ("frames",)

    def unused_options(self, command: str, options: dict) -> dict[str, str]:
        """Training: batch size 1 and whole sequences (as the original), raw audio in, and the
        pretrained-weights options only with audio_encoder=base; predictions: no wav2vec2 folder
        (the checkpoint holds the encoder)."""
        reasons = super().unused_options(command, options)
        if command == "train":
            reasons.update(whole_sequence_training_reasons("FaceFormer", options))
            encoder = options.get("audio_encoder", "base")
            if encoder != "base":
                reasons.update({name: f"only acts with audio_encoder=base (pretrained weights), not '{encoder}'"
                                for name in ("wav2vec2_model", "allow_download")})
        else:
            reasons["wav2vec2_model"] = "does not apply to faceformer predictions (the checkpoint holds the encoder weights)"
        return {name: why for name, why in reasons.items() if name in options}

    def train(self, cache_path, out_dir, **options) -> Path:
        return train(cache_path, out_dir, **options)

    def load_predictor(self, cache, run_dir=None, checkpoint=None, device="auto", **options) -> FaceFormerPredictor:
        return load_predictor(cache, run_dir=run_dir, checkpoint=checkpoint, device=device, **options)

    def weights_path(self, run_dir=None, checkpoint=None) -> Path | None:
        """RUN/last.pt for a run trained with ``select='last'`` (the default), as :func:`load_model`."""
        if checkpoint or run_dir is None:
            return super().weights_path(run_dir, checkpoint)
        return Path(run_dir) / ("last.pt" if run_selection(run_dir) == "last" else "best.pt")

    def load_audio_predictor(self, run_dir=None, checkpoint=None, device="auto", **options) -> FaceFormerPredictor:
        """Frames from the audio, as the official ``predict``; progress per frame."""
        _prediction_options(options)
        return FaceFormerPredictor(load_model(run_dir, checkpoint), resolve_device(device), progress=True)

    def speech_backbone(self, predictor: FaceFormerPredictor) -> SpeechBackbone:
        """The trained (fine-tuned) audio encoder: fp32 unless int8 is asked for (its effect on
        FaceFormer was not measured here)."""

        def install(network) -> None:
            predictor.model.audio_encoder = network

        return SpeechBackbone(predictor.model.audio_encoder, install, None, "fp32", "wav2vec2 audio encoder")
