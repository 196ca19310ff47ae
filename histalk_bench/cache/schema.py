"""Schema v1 of the HDF5 cache: constants, the sequence records, and the group-level read/write
helpers shared by :mod:`.read` and :mod:`.write` (the only code that knows the HDF5 paths)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import h5py
import numpy as np

from ..common.constants import SAMPLE_RATE as AUDIO_RATE  # re-exported: the cache stores the toolkit's one rate
from ..common.constants import Interval
from ..common.errors import UserError

SCHEMA_VERSION = 1
SPLITS = ("train", "val", "test", "test_a", "test_b", "none")
TIERS = ("phones", "words")

_TIER_DTYPE = np.dtype([("start", "<f8"), ("end", "<f8"), ("label", h5py.string_dtype())])
_HEADER_NAME = "_header.h5"
CHECKSUM = {"fletcher32": True}  # HDF5 per-chunk checksums: corrupted bytes fail on read
DIGEST_ATTR = "content_sha256"   # per-sequence digest, the input of the cache fingerprint


@dataclass
class SequenceRef:
    """Where one sequence is and what it is, without its arrays."""

    subject: str
    sentence: str
    split: str
    n_frames: int
    transcript: str = ""

    @property
    def key(self) -> str:
        return f"{self.subject}/{self.sentence}"


@dataclass
class SequenceData:
    """Everything stored for one sequence.

    vertices: (T, V, 3) float32 at the cache's fps; audio: (N,) float32 at 16 kHz;
    phones/words: lists of (start s, end s, label); features: name -> ((T_f, D) float32, rate Hz);
    landmarks: (T, L, 3) float32; attrs: extra scalar attributes (e.g. alignment status).
    """

    subject: str
    sentence: str
    vertices: np.ndarray
    audio: np.ndarray
    split: str = "none"
    transcript: str = ""
    phones: list[Interval] | None = None
    words: list[Interval] | None = None
    features: dict[str, tuple[np.ndarray, float]] = field(default_factory=dict)
    landmarks: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.vertices.shape[0])


# --------------------------------------------------------------------------------------------
# low-level helpers shared by reader and writer


def _tier_to_array(intervals: Iterable[Interval]) -> np.ndarray:
    rows = [(float(s), float(e), str(lab)) for s, e, lab in intervals]
    return np.array(rows, dtype=_TIER_DTYPE) if rows else np.zeros(0, dtype=_TIER_DTYPE)


def _array_to_tier(array) -> list[Interval]:
    out = []
    for row in array:
        label = row["label"]
        if isinstance(label, bytes):
            label = label.decode("utf-8")
        out.append((float(row["start"]), float(row["end"]), str(label)))
    return out


def _write_sequence_group(parent: h5py.Group, seq: SequenceData) -> None:
    """Write one sequence under ``parent/<subject>/<sentence>`` (replacing an older one)."""
    if seq.split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {seq.split!r}")
    vertices = np.ascontiguousarray(seq.vertices, dtype=np.float32)
    if vertices.ndim != 3 or vertices.shape[2] != 3:
        raise ValueError(f"vertices must be (T, V, 3), got {vertices.shape}")
    subject_group = parent.require_group(seq.subject)
    if seq.sentence in subject_group:
        del subject_group[seq.sentence]
    group = subject_group.create_group(seq.sentence)
    group.attrs["split"] = seq.split
    group.attrs["n_frames"] = int(vertices.shape[0])
    group.attrs["transcript"] = seq.transcript or ""
    for key, value in seq.attrs.items():
        group.attrs[key] = value
    group.attrs[DIGEST_ATTR] = sequence_digest(seq)
    frames_per_chunk = max(1, min(vertices.shape[0], 30))
    group.create_dataset("vertices", data=vertices, chunks=(frames_per_chunk, *vertices.shape[1:]), **CHECKSUM)
    audio = np.ascontiguousarray(seq.audio, dtype=np.float32).reshape(-1)
    group.create_dataset("audio", data=audio, **CHECKSUM)
    group["audio"].attrs["sample_rate"] = AUDIO_RATE
    for tier_name in TIERS:
        intervals = getattr(seq, tier_name)
        if intervals is not None:
            group.create_dataset(tier_name, data=_tier_to_array(intervals))
    if seq.features:
        features = group.create_group("features")
        for name, (array, rate) in seq.features.items():
            features.create_dataset(name, data=np.asarray(array, dtype=np.float32), **CHECKSUM)
            features[name].attrs["rate"] = float(rate)
    if seq.landmarks is not None:
        group.create_dataset("landmarks", data=np.asarray(seq.landmarks, dtype=np.float32), **CHECKSUM)


def sequence_digest(seq: SequenceData) -> str:
    """sha256 of a sequence's content (arrays as float32 bytes, tiers, split, transcript)."""
    digest = hashlib.sha256()

    def add(name: str, array) -> None:
        array = np.ascontiguousarray(array, dtype=np.float32)
        digest.update(f"{name}:{array.shape}".encode())
        digest.update(array.tobytes())

    add("vertices", seq.vertices)
    add("audio", np.asarray(seq.audio).reshape(-1))
    for name in sorted(seq.features):
        array, rate = seq.features[name]
        add(f"features/{name}@{float(rate)!r}", array)
    if seq.landmarks is not None:
        add("landmarks", seq.landmarks)
    text = json.dumps([seq.split, seq.transcript or "", seq.phones, seq.words], default=str)
    digest.update(text.encode())
    return digest.hexdigest()


def read_checked(dataset: h5py.Dataset, selection=()):
    """``dataset[selection]``; a checksum mismatch or unreadable chunk is a one-line UserError
    naming the file and the HDF5 path of the dataset (e.g. /sequences/FaceTalk_x/sentence01/vertices)."""
    try:
        return dataset[selection]
    except OSError as exc:
        reason = "checksum mismatch" if any(k in str(exc) for k in ("letcher", "checksum", "filter returned failure")) else " ".join(str(exc).split())[:120]
        raise UserError(f"{dataset.name}: corrupted data ({reason}); re-create this file "
                        "('prepare ... --force' for a cache, 'predict' for predictions)", dataset.file.filename) from None


def _read_sequence_group(group: h5py.Group, subject: str, sentence: str) -> SequenceData:
    features = {}
    if "features" in group:
        for name, dataset in group["features"].items():
            features[name] = (read_checked(dataset), float(dataset.attrs["rate"]))
    extras = {k: _attr(v) for k, v in group.attrs.items() if k not in ("split", "n_frames", "transcript", DIGEST_ATTR)}
    return SequenceData(
        subject=subject,
        sentence=sentence,
        vertices=read_checked(group["vertices"]),
        audio=read_checked(group["audio"]),
        split=_attr(group.attrs["split"]),
        transcript=_attr(group.attrs.get("transcript", "")),
        phones=_array_to_tier(group["phones"][()]) if "phones" in group else None,
        words=_array_to_tier(group["words"][()]) if "words" in group else None,
        features=features,
        landmarks=read_checked(group["landmarks"]) if "landmarks" in group else None,
        attrs=extras,
    )


def _attr(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _open_h5(path: Path, mode: str = "r") -> h5py.File:
    if mode == "r" and not path.exists():
        raise UserError("file not found", path)
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        raise UserError(f"not a readable HDF5 file ({exc.__class__.__name__})", path) from None


