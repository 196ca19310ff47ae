"""Registry entry of HiSTalk (:class:`HiSTalkEntry`): training, split and new-audio prediction."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from ...cache import Cache, SequenceRef
from ...common.constants import SAMPLE_RATE
from ...common.errors import UserError
from ..base import ModelEntry
from ..data import CacheSequences, DataSpec, as_layers, collate, load_item
from ..training import TrainOptions, fit, load_checkpoint
from .config import HiSTalkConfig
from .losses import histalk_loss
from .model import HiSTalk

STAT_SEQUENCES = 24  # sequences sampled to estimate feature and motion statistics


def training_speakers(cache: Cache) -> tuple[str, ...]:
    """Training subjects in the protocol's one-hot order (FIELD.md; the dataset's registry entry), else sorted."""
    from ...datasets.base import training_speaker_order

    return training_speaker_order(cache.dataset, cache.subjects("train"))


def data_statistics(cache: Cache, refs: list[SequenceRef], feature: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-dimension feature mean/std and the lip-region RMS displacement (data units)."""
    sums, squares, count = 0.0, 0.0, 0
    motion_sq, motion_n = 0.0, 0
    lip = cache.regions().get("lip")
    for ref in refs[:STAT_SEQUENCES]:
        array, _ = cache.feature(ref.subject, ref.sentence, feature)
        flat = array.reshape(-1, array.shape[-1]).astype(np.float64)  # every layer, every frame
        sums, squares, count = sums + flat.sum(0), squares + (flat ** 2).sum(0), count + flat.shape[0]
        motion = cache.vertices(ref.subject, ref.sentence) - cache.template(ref.subject)[None]
        if lip is not None:
            motion = motion[:, lip]
        motion_sq += float((motion.astype(np.float64) ** 2).sum())
        motion_n += motion.size
    mean = sums / count
    std = np.sqrt(np.maximum(squares / count - mean ** 2, 1e-8))
    return mean.astype(np.float32), std.astype(np.float32), float(np.sqrt(motion_sq / max(1, motion_n))) or 1.0


class HiSTalkTask:
    """Plugs HiSTalk into the shared training loop."""

    def __init__(self, model: HiSTalk, lip_ids: np.ndarray, mouth_landmarks: np.ndarray):
        self.model = model
        self.config = model.config
        self.lip_ids = torch.as_tensor(lip_ids, dtype=torch.long)
        self.mouth_landmarks = torch.as_tensor(mouth_landmarks, dtype=torch.long)

    def loss(self, model, batch):
        out = model(batch)
        scale = self.config.motion_scale
        return histalk_loss(out, batch["motion"] / scale, batch["sparse"] / scale, batch["mask"], self.config,
                            self.lip_ids.to(batch["mask"].device), self.mouth_landmarks.to(batch["mask"].device))

    def validate(self, model, batch):
        out = model(batch)
        scale = self.config.motion_scale
        valid = batch["mask"]
        loss, _ = histalk_loss(out, batch["motion"] / scale, batch["sparse"] / scale, valid, self.config,
                               self.lip_ids.to(valid.device), self.mouth_landmarks.to(valid.device))
        lip = self.lip_ids.to(valid.device)
        error = ((out["motion"][:, :, lip] * scale - batch["motion"][:, :, lip]) ** 2).sum(-1).amax(-1)
        return {"loss": float(loss) * valid.shape[0], "lve_sum": float((error * valid).sum()), "frames": float(valid.sum())}

    def run_config(self) -> dict:
        return {"model": "histalk", "histalk": self.config.to_dict(), "lip_ids": self.lip_ids.tolist(),
                "mouth_landmarks": self.mouth_landmarks.tolist()}


def _check_type(name: str, value, default) -> None:
    """UserError unless ``value`` fits the type of the option's default."""
    if default is None or isinstance(default, dict):
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(default, tuple):
        ok = isinstance(value, (list, tuple))
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise UserError(f"histalk option {name}={value!r} should be of type {type(default).__name__}")


def _split_options(options: dict) -> tuple[dict, dict]:
    """Training-loop options and model options from one flat dict (as given by --set)."""
    train_keys = set(TrainOptions.__dataclass_fields__)
    config_keys = set(HiSTalkConfig.__dataclass_fields__)
    unknown = set(options) - train_keys - config_keys
    if unknown:
        raise UserError(f"unknown histalk option(s): {', '.join(sorted(unknown))}")
    train_defaults, config_defaults = TrainOptions(), HiSTalkConfig()
    for key, value in options.items():
        _check_type(key, value, getattr(train_defaults if key in train_keys else config_defaults, key))
    try:
        HiSTalkConfig.from_dict({k: v for k, v in options.items() if k in config_keys}).validate()
    except ValueError as exc:
        raise UserError(f"invalid histalk option: {exc}") from None
    return ({k: v for k, v in options.items() if k in train_keys}, {k: v for k, v in options.items() if k in config_keys})


def train(cache_path: str | os.PathLike, out_dir: str | os.PathLike, *, features: str = "mel", **options) -> Path:
    """Train HiSTalk on the cache's train split (validation on 'val'); returns the run folder."""
    train_options, config_options = _split_options(options)
    config_options.setdefault("feature", features)
    defaults = {"epochs": 60, "batch_size": 4, "lr": 1e-3, "patience": 20}
    train_options = TrainOptions(**{**defaults, **train_options})
    cache = Cache(cache_path)
    refs = cache.sequences("train")
    if not refs:
        raise UserError("no training sequences (split 'train')", cache_path)
    lip = cache.regions().get("lip")
    if lip is None:
        raise UserError("training HiSTalk needs a lip region in the cache (prepare with --regions)", cache_path)
    probe = cache.feature(refs[0].subject, refs[0].sentence, config_options["feature"])
    if probe is None:
        raise UserError(f"the cache has no '{config_options['feature']}' features; prepare with --features "
                        f"{config_options['feature']}", cache_path)
    layers = as_layers(probe[0])
    mean, std, scale = data_statistics(cache, refs, config_options["feature"])
    if cache.landmark_map() is None:
        raise UserError("the cache has no landmark map (re-run 'histalk-bench prepare')", cache_path)
    ids, _ = cache.landmark_map()
    config = HiSTalkConfig.from_dict({"n_vertices": cache.n_vertices, "n_landmarks": ids.shape[0], "feature_layers": layers.shape[1],
                              "feature_dim": layers.shape[2], "speakers": training_speakers(cache), "motion_scale": scale, "fps": cache.fps,
                              **config_options})
    feature_config = cache.config.get("features", {}).get(config.feature)
    if feature_config:  # how the features were made, to compute the same ones for new audio
        config.extra = {**config.extra, "feature_config": feature_config}
    torch.manual_seed(train_options.seed)
    model = HiSTalk(config)
    model.feature_mean.copy_(torch.from_numpy(mean))
    model.feature_std.copy_(torch.from_numpy(std))
    mouth = np.flatnonzero(np.isin(ids[:, 0], lip))
    spec = DataSpec(config.feature, config.units, config.speakers)
    train_set = CacheSequences(cache_path, "train", spec, train_options.max_frames)
    val_set = CacheSequences(cache_path, "val", spec) if cache.sequences("val") else None
    fit(HiSTalkTask(model, lip, mouth), train_set, val_set, out_dir, train_options, collate)
    return Path(out_dir)


def feature_extractor(config: HiSTalkConfig, wav2vec2_model: str | None = None, device: str | None = None):
    """The extractor that computes the run's features for new audio (``config.feature``: ``mel``,
    ``wav2vec2`` or ``wav2vec2_l<N>``); refuses settings that differ from those of training."""
    from ...features.factory import make_extractors

    name, layer = config.feature, None
    if name.startswith("wav2vec2_l") and name[len("wav2vec2_l"):].isdigit():
        name, layer = "wav2vec2", int(name[len("wav2vec2_l"):])
    [extractor] = make_extractors(name, model=wav2vec2_model, device=device, layer=layer)
    trained = config.extra.get("feature_config") or {}
    current = extractor.config() if hasattr(extractor, "config") else {}
    differing = sorted(k for k in trained if k != "model" and k in current and trained[k] != current[k])
    if differing:
        raise UserError(f"'{config.feature}' features for new audio differ from training in {', '.join(differing)} "
                        f"(trained with {[trained[k] for k in differing]}, now {[current[k] for k in differing]}); "
                        "give the same model, e.g. --wav2vec2-model FOLDER")
    return extractor


class HiSTalkPredictor:
    """Predicts vertices for cached sequences; unseen speakers get one prediction per training speaker.
    Features come from the cache, or are computed on the fly when the cache lacks them."""

    name = "histalk"

    def __init__(self, model: HiSTalk, device: torch.device, wav2vec2_model: str | None = None):
        self.model = model.eval().to(device)
        self.config = model.config
        self.device = device
        self.wav2vec2_model = wav2vec2_model
        self._extractor = None

    def extract(self, audio_16k: np.ndarray) -> tuple[np.ndarray, float]:
        """Features of 16 kHz audio computed as in training: (T_f, D) or (T_f, L, D), rate in Hz."""
        if self._extractor is None:
            self._extractor = feature_extractor(self.config, self.wav2vec2_model, str(self.device))
        features = as_layers(self._extractor.extract(audio_16k))
        expected = (self.config.feature_layers, self.config.feature_dim)
        if features.shape[1:] != expected:
            raise UserError(f"'{self.config.feature}' features have shape {features.shape[1:]} per frame, the model "
                            f"was trained on {expected}")
        return features, self._extractor.rate

    def _features(self, cache: Cache, ref: SequenceRef):
        cached = cache.feature(ref.subject, ref.sentence, self.config.feature)
        if cached is not None:
            return cached
        return self.extract(cache.audio(ref.subject, ref.sentence))

    def predict_motion(self, item: dict, speaker: int) -> np.ndarray:
        """(T, V, 3) displacement in data units for one item and speaker index (-1: none)."""
        batch = collate([{**item, "speaker": speaker}])
        batch = {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in batch.items()}
        with torch.no_grad():
            out = self.model(batch)
        return (out["motion"][0] * self.config.motion_scale).cpu().numpy()

    def predict_audio(self, audio_16k: np.ndarray, template: np.ndarray, condition: str | None = None) -> np.ndarray:
        """(T, V, 3) vertices for new 16 kHz audio at the training frame rate.  No aligner is run:
        the units are statistical (a model trained on aligned units sees a small mismatch)."""
        from ...align.units import hierarchy
        from ..data import resample_features

        features, rate = self.extract(audio_16k)
        n_frames = max(1, int(round(len(audio_16k) / SAMPLE_RATE * self.config.fps)))
        item = {"audio": resample_features(features, rate, n_frames, self.config.fps),
                "key": "audio", **hierarchy(n_frames, self.config.fps, source="statistical")}
        speakers = self.config.speakers if self.config.use_style else ()
        if condition is not None and condition not in speakers:
            raise UserError(f"unknown condition '{condition}' (training speakers: {', '.join(speakers) or 'none'})")
        speaker = speakers.index(condition) if condition else (0 if speakers else -1)
        return (template[None] + self.predict_motion(item, speaker)).astype(np.float32)

    def predict(self, cache: Cache, ref: SequenceRef) -> dict:
        spec = DataSpec(self.config.feature, self.config.units, self.config.speakers)
        item = load_item(cache, ref, spec, None, features=self._features(cache, ref), with_targets=False)
        template = cache.template(ref.subject)
        speakers = self.config.speakers if (self.config.use_style and self.config.speakers) else ()
        if not speakers or ref.subject in speakers:
            speaker = speakers.index(ref.subject) if ref.subject in speakers else -1
            return {None: (template[None] + self.predict_motion(item, speaker)).astype(np.float32)}
        return {name: (template[None] + self.predict_motion(item, index)).astype(np.float32)
                for index, name in enumerate(speakers)}


def load_model(run_dir: str | os.PathLike | None = None, checkpoint: str | os.PathLike | None = None) -> HiSTalk:
    """The best model of a run folder (or an explicit checkpoint), loaded with weights_only=True."""
    if not checkpoint and not run_dir:
        raise UserError("HiSTalk needs --run RUN_DIR or --checkpoint FILE")
    path = Path(checkpoint) if checkpoint else Path(run_dir) / "best.pt"
    if not path.exists():
        raise UserError("no HiSTalk checkpoint found (train first: 'histalk-bench train histalk ...')", path)
    state = load_checkpoint(path)
    run_config = json.loads(state["config"])
    if run_config.get("model") != "histalk":
        raise UserError(f"checkpoint is for model '{run_config.get('model')}', not histalk", path)
    model = HiSTalk(HiSTalkConfig.from_dict(run_config["histalk"]))
    model.load_state_dict(state["model"])
    return model


def load_predictor(cache: Cache | None, run_dir=None, checkpoint=None, device: str = "auto",
                   wav2vec2_model: str | None = None, **options) -> HiSTalkPredictor:
    """The run's best model as a predictor (``cache`` None: for new audio only)."""
    from ..training import resolve_device

    if options:
        raise UserError(f"unknown histalk prediction option(s): {', '.join(sorted(options))}")
    model = load_model(run_dir, checkpoint)
    if cache is not None and model.config.n_vertices != cache.n_vertices:
        raise UserError(f"the run was trained on {model.config.n_vertices} vertices, the cache has {cache.n_vertices}", cache.path)
    return HiSTalkPredictor(model, resolve_device(device), wav2vec2_model)


class HiSTalkEntry(ModelEntry):
    name = "histalk"
    description = "HiSTalk: hierarchical speech features -> sparse landmarks -> dense displacements, plus a coarse motion generator"

    def train(self, cache_path, out_dir, **options) -> Path:
        return train(cache_path, out_dir, **options)

    def load_predictor(self, cache, run_dir=None, checkpoint=None, device="auto", **options) -> HiSTalkPredictor:
        return load_predictor(cache, run_dir=run_dir, checkpoint=checkpoint, device=device, **options)

    def load_audio_predictor(self, run_dir=None, checkpoint=None, device="auto", **options) -> HiSTalkPredictor:
        return load_predictor(None, run_dir=run_dir, checkpoint=checkpoint, device=device, **options)
