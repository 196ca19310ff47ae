"""Training data read lazily from the cache: one sequence per item, padded and masked batches.

An item holds, at the mesh frame rate (T frames):
  audio   (T, L, D) float32  cached features linearly resampled to the frame times
  motion  (T, V, 3) float32  vertices - template (data units)
  sparse  (T, K, 3) float32  landmark displacements (landmark map applied to the motion)
  phone, word, utterance (T,) int64 unit indices (align.units)
  speaker int (index into the training speakers, -1 when unseen)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..align.units import hierarchy
from ..cache import Cache, SequenceRef
from ..common.errors import UserError
from ..datasets.landmarks import apply_landmark_map


def resample_features(features: np.ndarray, rate: float, n_frames: int, fps: float) -> np.ndarray:
    """(T_f, ...) at ``rate`` Hz -> (n_frames, ...) at ``fps`` by linear interpolation in time."""
    source_times = np.arange(features.shape[0]) / rate
    target_times = np.arange(n_frames) / fps
    flat = features.reshape(features.shape[0], -1)
    position = np.clip(np.interp(target_times, source_times, np.arange(features.shape[0])), 0, features.shape[0] - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, features.shape[0] - 1)
    weight = (position - low)[:, None]
    out = flat[low] * (1 - weight) + flat[high] * weight
    return out.reshape((n_frames,) + features.shape[1:]).astype(np.float32)


def as_layers(features: np.ndarray) -> np.ndarray:
    """(T, D) -> (T, 1, D); (T, L, D) unchanged."""
    return features[:, None, :] if features.ndim == 2 else features


@dataclass
class DataSpec:
    """What the model reads from the cache."""

    feature: str = "mel"
    units: str = "aligned"  # or 'statistical'
    speakers: tuple[str, ...] = ()


class CacheSequences(torch.utils.data.Dataset):
    """The sequences of some splits of a cache, read one at a time (no whole dataset in memory)."""

    def __init__(self, cache_path, splits, spec: DataSpec, max_frames: int | None = None):
        self.cache = Cache(cache_path)
        self.refs: list[SequenceRef] = self.cache.sequences(splits)
        self.spec = spec
        self.max_frames = max_frames
        self.landmark_map = self.cache.landmark_map()
        if self.landmark_map is None:
            raise UserError("the cache has no landmark map (re-run 'histalk-bench prepare')", cache_path)
        missing = [r.key for r in self.refs[:50] if spec.feature not in self.cache.feature_names(r.subject, r.sentence)]
        if missing:
            raise UserError(f"sequences lack '{spec.feature}' features (e.g. {missing[0]}); re-run prepare with "
                            f"--features {spec.feature}", cache_path)

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int) -> dict:
        ref = self.refs[index]
        return load_item(self.cache, ref, self.spec, self.landmark_map, self.max_frames)


def load_item(cache: Cache, ref: SequenceRef, spec: DataSpec, landmark_map, max_frames: int | None = None,
              features: tuple[np.ndarray, float] | None = None, with_targets: bool = True) -> dict:
    """One sequence as model inputs (and targets when ``with_targets``)."""
    n_frames = ref.n_frames
    if features is None:
        features = cache.feature(ref.subject, ref.sentence, spec.feature)
        if features is None:
            raise UserError(f"no '{spec.feature}' features for {ref.key}", cache.path)
    array, rate = features
    item = {"audio": resample_features(as_layers(array), rate, n_frames, cache.fps)}
    units = hierarchy(n_frames, cache.fps, cache.tier(ref.subject, ref.sentence, "phones"),
                      cache.tier(ref.subject, ref.sentence, "words"), spec.units)
    item.update(units)
    item["speaker"] = spec.speakers.index(ref.subject) if ref.subject in spec.speakers else -1
    item["key"] = ref.key
    if with_targets:
        motion = cache.vertices(ref.subject, ref.sentence) - cache.template(ref.subject)[None]
        item["motion"] = motion.astype(np.float32)
        item["sparse"] = apply_landmark_map(motion, landmark_map)
    if max_frames and n_frames > max_frames:
        for key in ("audio", "phone", "word", "utterance", "motion", "sparse"):
            if key in item:
                item[key] = item[key][:max_frames]
    return item


def collate(items: list[dict]) -> dict:
    """Pad to the longest sequence; ``mask`` (B, T) is True on real frames. Unit indices of
    padded frames repeat the last real unit (they are masked out anyway)."""
    lengths = [len(item["audio"]) for item in items]
    longest = max(lengths)
    batch = {"mask": torch.zeros(len(items), longest, dtype=torch.bool), "keys": [i["key"] for i in items],
             "speaker": torch.tensor([i["speaker"] for i in items], dtype=torch.long)}
    for key in ("audio", "motion", "sparse", "phone", "word", "utterance"):
        if key not in items[0]:
            continue
        first = items[0][key]
        padded = np.zeros((len(items), longest) + first.shape[1:], dtype=first.dtype)
        for row, item in enumerate(items):
            padded[row, : lengths[row]] = item[key]
            if key in ("phone", "word", "utterance") and lengths[row] < longest:
                padded[row, lengths[row]:] = item[key][-1] if lengths[row] else 0
        batch[key] = torch.from_numpy(padded)
    for row, n in enumerate(lengths):
        batch["mask"][row, :n] = True
    return batch
