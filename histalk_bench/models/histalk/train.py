"""Training HiSTalk on a cache: options, data statistics, motion basis, the training task and
the run summary (RUN/summary.json)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ...cache import Cache, SequenceRef
from ...common.atomic import write_text_atomic
from ...common.errors import UserError
from ..data import CacheSequences, DataSpec, as_layers, collate
from ..training import TrainOptions, fit
from .cmg import motion_basis
from .config import HiSTalkConfig
from .losses import histalk_loss
from .model import HiSTalk

log = logging.getLogger(__name__)
STAT_SEQUENCES = 24  # sequences sampled to estimate feature and motion statistics
BASIS_FRAMES = 2000  # frames (at most) the PCA motion basis is computed from


def training_speakers(cache: Cache) -> tuple[str, ...]:
    """Training subjects in the protocol's one-hot order (FIELD.md; the dataset's registry entry), else sorted."""
    from ...datasets.base import training_speaker_order

    return training_speaker_order(cache.dataset, cache.subjects("train"))


def data_statistics(cache: Cache, refs: list[SequenceRef], get_features: Callable) -> dict:
    """Per-dimension feature mean/std, the lip-region RMS displacement (data units) and the
    training displacements (N, V*3) subsampled to at most BASIS_FRAMES frames."""
    sums, squares, count, motion_sq, motion_n, frames = 0.0, 0.0, 0, 0.0, 0, []
    lip = cache.regions().get("lip")
    for ref in refs[:STAT_SEQUENCES]:
        flat = _flat(get_features(ref))
        sums, squares, count = sums + flat.sum(0), squares + (flat ** 2).sum(0), count + flat.shape[0]
        motion = cache.vertices(ref.subject, ref.sentence) - cache.template(ref.subject)[None]
        frames.append(motion.reshape(motion.shape[0], -1))
        lip_motion = motion[:, lip] if lip is not None else motion
        motion_sq += float((lip_motion.astype(np.float64) ** 2).sum())
        motion_n += lip_motion.size
    mean = sums / count
    std = np.sqrt(np.maximum(squares / count - mean ** 2, 1e-8))
    motion = np.concatenate(frames)
    motion = motion[:: max(1, len(motion) // BASIS_FRAMES)]
    return {"mean": mean.astype(np.float32), "std": std.astype(np.float32), "motion": motion,
            "scale": float(np.sqrt(motion_sq / max(1, motion_n))) or 1.0}


def _flat(features: np.ndarray) -> np.ndarray:
    """Every layer and frame of (T, D) or (T, L, D) features as (N, D) float64."""
    return features.reshape(-1, features.shape[-1]).astype(np.float64)


class HiSTalkTask:
    """Plugs HiSTalk into the shared training loop.  Training logs the mean fusion weight of
    every S2D branch (``fusion_<branch>``) and the mean SE weight of every level (``se_<level>``)."""

    def __init__(self, model: HiSTalk, lip_ids: np.ndarray, mouth_landmarks: np.ndarray):
        self.model = model
        self.config = model.config
        self.lip_ids = torch.as_tensor(lip_ids, dtype=torch.long)
        self.mouth_landmarks = torch.as_tensor(mouth_landmarks, dtype=torch.long)

    def _loss(self, out, batch):
        scale, device = self.config.motion_scale, batch["mask"].device
        return histalk_loss(out, batch["motion"] / scale, batch["sparse"] / scale, batch["mask"], self.config,
                            self.lip_ids.to(device), self.mouth_landmarks.to(device))

    def loss(self, model, batch):
        out = model(batch)
        total, logs = self._loss(out, batch)
        return total, {**logs, **mechanism_means(out, batch["mask"], self.model)}

    def validate(self, model, batch):
        """Loss and lip error summed over sequences; an unseen speaker's are averaged over the
        training-speaker conditions (as FaceFormer's evaluation does)."""
        conditions = [batch["speaker"]]
        unseen = batch["speaker"] < 0
        if self.model.style is not None and bool(unseen.any()):
            conditions = [torch.where(unseen, torch.full_like(batch["speaker"], s), batch["speaker"])
                          for s in range(len(self.config.speakers))]
        valid, lip, scale = batch["mask"], self.lip_ids.to(batch["mask"].device), self.config.motion_scale
        loss = lve = 0.0
        for speaker in conditions:
            out = model({**batch, "speaker": speaker})
            loss += float(self._loss(out, batch)[0]) * valid.shape[0]
            error = ((out["motion"][:, :, lip] * scale - batch["motion"][:, :, lip]) ** 2).sum(-1).amax(-1)
            lve += float((error * valid).sum())
        n = len(conditions)
        return {"loss": loss / n, "lve_sum": lve / n, "frames": float(valid.sum())}

    def run_config(self) -> dict:
        return {"model": "histalk", "histalk": self.config.to_dict(), "lip_ids": self.lip_ids.tolist(),
                "mouth_landmarks": self.mouth_landmarks.tolist()}


def mechanism_means(out: dict, valid: torch.Tensor, model: HiSTalk) -> dict[str, float]:
    """Mean fusion weight per S2D branch and mean SE weight per level over valid frames."""
    out = {key: out[key].detach() for key in ("fusion", "se_weights")}
    weight = valid.to(out["fusion"].dtype)
    total = weight.sum().clamp(min=1.0)
    means = {f"fusion_{name}": float((out["fusion"][..., i] * weight).sum() / total)
             for i, name in enumerate(model.branch_names)}
    se = out["se_weights"].mean(-1)  # (B, T, n_levels)
    means.update({f"se_{level}": float((se[..., i] * weight).sum() / total) for i, level in enumerate(model.weights.levels)})
    return means


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


def feature_source(cache: Cache, ref: SequenceRef, feature: str, wav2vec2_model: str | None):
    """None when the cache holds ``feature``; else an extractor computing it from the cached audio
    (wav2vec2 with ``wav2vec2_model``); else a UserError saying how to get the features."""
    if cache.feature(ref.subject, ref.sentence, feature) is not None:
        return None
    if feature.startswith("wav2vec2") and wav2vec2_model:
        from .api import extractor_for

        return extractor_for(feature, wav2vec2_model)
    if feature.startswith("wav2vec2"):
        raise UserError(f"the cache has no '{feature}' features: run 'histalk-bench prepare --features wav2vec2 "
                        "--wav2vec2-model DIR ...', pass --wav2vec2-model DIR to compute them, or train on log-mel "
                        "with --features mel (--set feature=mel)", cache.path)
    raise UserError(f"the cache has no '{feature}' features; prepare with --features {feature}", cache.path)


def resolve_cache_units(cache: Cache, requested: str) -> str:
    """'aligned' or 'statistical' for the whole cache (align.units.resolve_units)."""
    from ...align.units import resolve_units

    refs = cache.sequences()
    tiers = all(cache.tier(r.subject, r.sentence, "phones") and cache.tier(r.subject, r.sentence, "words") for r in refs)
    return resolve_units(requested, tiers, str(cache.path))


def build_model(cache: Cache, refs, config_options: dict, get_features: Callable, seed: int) -> HiSTalk:
    """A fresh model sized for the cache, with feature statistics and the CMG motion basis set."""
    if cache.landmark_map() is None:
        raise UserError("the cache has no landmark map (re-run 'histalk-bench prepare')", cache.path)
    ids, _ = cache.landmark_map()
    layers = as_layers(get_features(refs[0]))
    stats = data_statistics(cache, refs, get_features)
    config = HiSTalkConfig.from_dict({"n_vertices": cache.n_vertices, "n_landmarks": ids.shape[0],
                                      "feature_layers": layers.shape[1], "feature_dim": layers.shape[2],
                                      "speakers": training_speakers(cache), "motion_scale": stats["scale"],
                                      "fps": cache.fps, **config_options})
    torch.manual_seed(seed)
    model = HiSTalk(config)
    model.feature_mean.copy_(torch.from_numpy(stats["mean"]))
    model.feature_std.copy_(torch.from_numpy(stats["std"]))
    if model.cmg is not None:
        mean, basis, explained = motion_basis(stats["motion"] / stats["scale"], config.cmg_basis, seed)
        model.cmg.set_basis(mean, basis)
        config.extra = {**config.extra, "cmg_basis_explained_variance": explained}
    return model


def train(cache_path: str | os.PathLike, out_dir: str | os.PathLike, *, features: str | None = None,
          wav2vec2_model: str | None = None, **options) -> Path:
    """Train HiSTalk on the cache's train split (validation on 'val'); returns the run folder.
    Features default to wav2vec2 (the paper's input); units default to 'auto'."""
    train_options, config_options = _split_options(options)
    config_options["feature"] = features or config_options.get("feature") or "wav2vec2"
    train_options = TrainOptions(**{**{"epochs": 60, "batch_size": 4, "lr": 1e-3, "patience": 20}, **train_options})
    cache = Cache(cache_path)
    refs = cache.sequences("train")
    if not refs:
        raise UserError("no training sequences (split 'train')", cache_path)
    lip = cache.regions().get("lip")
    if lip is None:
        raise UserError("training HiSTalk needs a lip region in the cache (prepare with --regions)", cache_path)
    feature = config_options["feature"]
    extractor = feature_source(cache, refs[0], feature, wav2vec2_model)
    requested = config_options.get("units", "auto")
    config_options["units"] = resolve_cache_units(cache, requested)

    def get_features(ref):
        cached = cache.feature(ref.subject, ref.sentence, feature)
        return cached[0] if cached is not None else extractor.extract(cache.audio(ref.subject, ref.sentence))

    model = build_model(cache, refs, config_options, get_features, train_options.seed)
    config = model.config
    config.extra = {**config.extra, "units_requested": requested}
    feature_config = cache.config.get("features", {}).get(feature) or (extractor.config() if extractor else None)
    if feature_config:  # how the features were made, to compute the same ones for new audio
        config.extra = {**config.extra, "feature_config": feature_config}
    ids, _ = cache.landmark_map()
    mouth = np.flatnonzero(np.isin(ids[:, 0], lip))
    spec = DataSpec(config.feature, config.units, config.speakers)
    train_set = CacheSequences(cache_path, "train", spec, train_options.max_frames, extractor)
    val_set = CacheSequences(cache_path, "val", spec, extractor=extractor) if cache.sequences("val") else None
    fit(HiSTalkTask(model, lip, mouth), train_set, val_set, out_dir, train_options, collate)
    if int(os.environ.get("RANK", "0")) == 0:
        write_summary(Path(out_dir), val_set or train_set)
    return Path(out_dir)


def write_summary(run_dir: Path, dataset) -> dict:
    """RUN/summary.json: units and features used, and the best model's mean fusion weight per S2D
    branch and mean SE weight per level over ``dataset``."""
    from .api import load_model

    model = load_model(run_dir).eval()
    sums: dict[str, float] = {}
    n = 0
    with torch.no_grad():
        for start in range(0, len(dataset), 4):
            batch = collate([dataset[i] for i in range(start, min(start + 4, len(dataset)))])
            for key, value in mechanism_means(model(batch), batch["mask"], model).items():
                sums[key] = sums.get(key, 0.0) + value
            n += 1
    config = model.config
    summary = {"units": config.units, "units_requested": config.extra.get("units_requested"), "feature": config.feature,
               "levels": list(config.levels), "use_se_gate": config.use_se_gate, "use_cmg": config.use_cmg,
               "cmg_basis_explained_variance": config.extra.get("cmg_basis_explained_variance"),
               "mean_weights": {k: v / max(1, n) for k, v in sums.items()}}
    write_text_atomic(Path(run_dir) / "summary.json", json.dumps(summary, indent=1))
    log.info("fusion weights: %s", summary["mean_weights"])
    return summary
