"""Training data read lazily from the cache: one sequence per item, padded and masked batches.

An item holds two time axes.  Acoustic frames (T_a, at ``ACOUSTIC_RATE`` = 50 Hz, frame i
centred at (i + 0.5) / 50 s) carry the model input; mesh frames (T, at the cache's fps, frame t
centred at (t + 0.5) / fps) carry the targets:
  audio        (T_a, L, D) float32  features brought to 50 Hz (100 Hz log-mel: a [1/4, 1/2, 1/4]
                                    pool around each 50 Hz centre, so no frame is skipped)
  phone, word, utterance (T_a,) int64 unit indices (align.units) at the acoustic rate
  mesh_low, mesh_high (T,) int64, mesh_weight (T,) float32: linear interpolation from acoustic
                                    frames to mesh frame centres (the model's landmark heads use it)
  motion       (T, V, 3) float32  vertices - template (data units)
  sparse       (T, K, 3) float32  landmark displacements (landmark map applied to the motion)
  speaker      int (index into the training speakers, -1 when unseen)
Feature and unit times use the same centre convention, so they are not offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..align.units import hierarchy
from ..cache import Cache, SequenceRef
from ..common.errors import UserError
from ..datasets.landmarks import apply_landmark_map
from ..features.wav2vec2 import normalise

ACOUSTIC_RATE = 50.0
ACOUSTIC_KEYS = ("audio", "phone", "word", "utterance")
MESH_KEYS = ("mesh_low", "mesh_high", "mesh_weight", "motion", "sparse")
UNIT_KEYS = ("phone", "word", "utterance")


def frame_centre(feature: str) -> float:
    """Offset (in frames) of feature frame i's centre: i + offset.  Log-mel windows are centred
    on i * hop (offset 0); wav2vec2 frame i covers [i, i + 1) * 20 ms (offset 0.5)."""
    return 0.0 if feature.startswith("mel") else 0.5


def resample_features(features: np.ndarray, rate: float, n_frames: int, fps: float, centre: float = 0.5) -> np.ndarray:
    """(T_f, ...) at ``rate`` Hz (frame i centred at (i + centre) / rate) -> (n_frames, ...) at frame
    centres (t + 0.5) / fps by linear interpolation in time."""
    target = ((np.arange(n_frames) + 0.5) / fps) * rate - centre
    position = np.clip(target, 0, features.shape[0] - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, features.shape[0] - 1)
    weight = (position - low).reshape((-1,) + (1,) * (features.ndim - 1))
    return (features[low] * (1 - weight) + features[high] * weight).astype(np.float32)


def to_acoustic_rate(features: np.ndarray, rate: float, n_frames: int, centre: float) -> np.ndarray:
    """(T_f, ...) -> (n_frames, ...) at 50 Hz.  At 100 Hz with centred windows, every source frame
    is kept: output i = 1/4 x[2i] + 1/2 x[2i+1] + 1/4 x[2i+2] (centre (2i+1)/100 = (i+0.5)/50)."""
    if abs(rate - 2 * ACOUSTIC_RATE) < 1e-6 and centre == 0.0:
        padded = np.concatenate([features, features[-1:].repeat(2 * n_frames + 3, axis=0)])
        index = 2 * np.arange(n_frames)
        return (0.25 * padded[index] + 0.5 * padded[index + 1] + 0.25 * padded[index + 2]).astype(np.float32)
    return resample_features(features, rate, n_frames, ACOUSTIC_RATE, centre)


def mesh_interpolation(n_frames: int, fps: float, n_acoustic: int) -> dict[str, np.ndarray]:
    """Indices and weights bringing 50 Hz acoustic frames to mesh frame centres (t + 0.5) / fps."""
    position = np.clip((np.arange(n_frames) + 0.5) / fps * ACOUSTIC_RATE - 0.5, 0, n_acoustic - 1)
    low = np.floor(position).astype(np.int64)
    return {"mesh_low": low, "mesh_high": np.minimum(low + 1, n_acoustic - 1),
            "mesh_weight": (position - low).astype(np.float32)}


def acoustic_frames(n_frames: int, fps: float) -> int:
    """Acoustic frames covering ``n_frames`` mesh frames."""
    return max(1, int(round(n_frames / fps * ACOUSTIC_RATE)))


def as_layers(features: np.ndarray) -> np.ndarray:
    """(T, D) -> (T, 1, D); (T, L, D) unchanged."""
    return features[:, None, :] if features.ndim == 2 else features


def model_inputs(features: np.ndarray, rate: float, feature: str, n_frames: int, fps: float, units: str,
                 phones=None, words=None) -> dict:
    """Model inputs of one sequence of ``n_frames`` mesh frames: audio and units at 50 Hz and
    the acoustic -> mesh interpolation (see the module docstring)."""
    n_acoustic = acoustic_frames(n_frames, fps)
    item = {"audio": to_acoustic_rate(as_layers(features), rate, n_acoustic, frame_centre(feature))}
    item.update(hierarchy(n_acoustic, ACOUSTIC_RATE, phones, words, units))
    item.update(mesh_interpolation(n_frames, fps, n_acoustic))
    return item


@dataclass
class DataSpec:
    """What the model reads from the cache (``units``: 'aligned' or 'statistical', resolved)."""

    feature: str = "mel"
    units: str = "aligned"
    speakers: tuple[str, ...] = ()


class CacheSequences(torch.utils.data.Dataset):
    """The sequences of some splits of a cache, read one at a time (no whole dataset in memory).
    ``extractor``: computes the features from the cached audio when the cache lacks them."""

    def __init__(self, cache_path, splits, spec: DataSpec, max_frames: int | None = None, extractor=None):
        self.cache = Cache(cache_path)
        self.refs: list[SequenceRef] = self.cache.sequences(splits)
        self.spec = spec
        self.max_frames = max_frames
        self.extractor = extractor
        self.landmark_map = self.cache.landmark_map()
        if self.landmark_map is None:
            raise UserError("the cache has no landmark map (re-run 'histalk-bench prepare')", cache_path)
        missing = [r.key for r in self.refs[:50] if spec.feature not in self.cache.feature_names(r.subject, r.sentence)]
        if missing and extractor is None:
            raise UserError(f"sequences lack '{spec.feature}' features (e.g. {missing[0]}); re-run prepare with "
                            f"--features {spec.feature}", cache_path)

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int) -> dict:
        ref = self.refs[index]
        features = None
        if self.extractor is not None:
            features = self.cache.feature(ref.subject, ref.sentence, self.spec.feature)
            if features is None:
                features = (self.extractor.extract(self.cache.audio(ref.subject, ref.sentence)), self.extractor.rate)
        return load_item(self.cache, ref, self.spec, self.landmark_map, self.max_frames, features=features)


def load_item(cache: Cache, ref: SequenceRef, spec: DataSpec, landmark_map, max_frames: int | None = None,
              features: tuple[np.ndarray, float] | None = None, with_targets: bool = True) -> dict:
    """One sequence as model inputs (and targets when ``with_targets``)."""
    if features is None:
        features = cache.feature(ref.subject, ref.sentence, spec.feature)
        if features is None:
            raise UserError(f"no '{spec.feature}' features for {ref.key}", cache.path)
    phones, words = cache.tier(ref.subject, ref.sentence, "phones"), cache.tier(ref.subject, ref.sentence, "words")
    if spec.units == "aligned" and (not phones or not words):
        raise UserError(f"{ref.key} has no phone/word tiers but the model uses aligned units; re-run "
                        "'histalk-bench prepare --aligner ...'", cache.path)
    item = model_inputs(features[0], features[1], spec.feature, ref.n_frames, cache.fps, spec.units, phones, words)
    item["speaker"] = spec.speakers.index(ref.subject) if ref.subject in spec.speakers else -1
    item["key"] = ref.key
    if with_targets:
        motion = cache.vertices(ref.subject, ref.sentence) - cache.template(ref.subject)[None]
        item["motion"] = motion.astype(np.float32)
        item["sparse"] = apply_landmark_map(motion, landmark_map)
    if max_frames and ref.n_frames > max_frames:
        crop(item, max_frames)
    return item


def crop(item: dict, max_frames: int) -> None:
    """Keep the first ``max_frames`` mesh frames and the acoustic frames they read (in place)."""
    for key in MESH_KEYS:
        if key in item:
            item[key] = item[key][:max_frames]
    n_acoustic = int(item["mesh_high"].max()) + 1
    for key in ACOUSTIC_KEYS:
        item[key] = item[key][:n_acoustic]


def _pad(arrays: list[np.ndarray], repeat_last: bool) -> np.ndarray:
    longest = max(len(a) for a in arrays)
    padded = np.zeros((len(arrays), longest) + arrays[0].shape[1:], dtype=arrays[0].dtype)
    for row, array in enumerate(arrays):
        padded[row, : len(array)] = array
        if repeat_last and 0 < len(array) < longest:
            padded[row, len(array):] = array[-1]
    return padded


def collate(items: list[dict]) -> dict:
    """Pad each time axis to its longest sequence; ``mask`` (B, T) is True on real mesh frames,
    ``audio_mask`` (B, T_a) on real acoustic frames.  Unit indices of padded frames repeat the
    last real unit (they are masked out anyway)."""
    batch = {"keys": [i["key"] for i in items], "speaker": torch.tensor([i["speaker"] for i in items], dtype=torch.long)}
    for key in ACOUSTIC_KEYS + MESH_KEYS:
        if key in items[0]:
            batch[key] = torch.from_numpy(_pad([i[key] for i in items], key in UNIT_KEYS))
    for name, key in (("mask", "mesh_low"), ("audio_mask", "audio")):
        lengths = torch.tensor([len(i[key]) for i in items])
        batch[name] = torch.arange(int(lengths.max()))[None, :] < lengths[:, None]
    return batch


class WholeSequences(torch.utils.data.Dataset):
    """What the audio-to-mesh baselines (FaceFormer, CodeTalker, SelfTalk, FaceDiffuser) train on,
    read lazily per sequence: ``audio`` (N,) 16 kHz normalised per utterance, ``motion`` (T, 3V)
    float32 displacements from the template, ``template`` (3V,), ``speaker`` (index in
    ``speakers``, -1 for an unseen one) and ``key``."""

    def __init__(self, cache_path, split: str, speakers: tuple[str, ...] = ()):
        self.cache = Cache(cache_path)
        self.refs = self.cache.sequences(split)
        self.speakers = speakers

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int) -> dict:
        ref = self.refs[index]
        template = self.cache.template(ref.subject)
        motion = self.cache.vertices(ref.subject, ref.sentence) - template[None]
        return {"audio": normalise(self.cache.audio(ref.subject, ref.sentence)),
                "motion": motion.reshape(len(motion), -1).astype(np.float32),
                "template": template.reshape(-1).astype(np.float32),
                "speaker": self.speakers.index(ref.subject) if ref.subject in self.speakers else -1,
                "key": ref.key}


def collate_whole(items: list[dict]) -> dict:
    """A batch of one :class:`WholeSequences` item (the originals train with batch size 1 and do
    not pad sequences of different lengths)."""
    if len(items) != 1:
        raise ValueError("these models train with batch size 1 (one whole sequence per step)")
    item = items[0]
    return {"audio": torch.from_numpy(item["audio"])[None], "motion": torch.from_numpy(item["motion"])[None],
            "template": torch.from_numpy(item["template"])[None], "speaker": torch.tensor([item["speaker"]]),
            "mask": torch.ones(1, len(item["motion"]), dtype=torch.bool), "keys": [item["key"]]}
