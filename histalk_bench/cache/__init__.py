"""The HDF5 cache, schema v1: the only module that knows its HDF5 paths.

Layout (see ``docs/cache_schema.md``)::

    /                      attrs schema_version=1, dataset, fps, n_vertices, config (JSON), created_with
    /templates/<subject>   (V, 3) float32 neutral face
    /faces                 (F, 3) int32, when known
    /regions/<name>        int64 vertex ids, attrs source, sha256   (at least lip, upper_face)
    /landmark_map/         vertex_ids (L, K) int64, weights (L, K) float32, attrs source, kind
    /sequences/<subject>/<sentence>/
                           attrs split, n_frames, transcript (+ free-form extras)
                           vertices (T, V, 3) float32 at fps
                           audio (N,) float32 mono, attr sample_rate=16000
                           phones, words (optional): compound (start s, end s, label)
                           features/<name> (optional): (T_f, D) float32, attr rate (Hz)
                           landmarks (optional): (T, L, 3) float32

Writing is atomic and resumable: every finished sequence is first written to its own shard
file in ``<cache>.parts/`` (temporary name, then ``os.replace``), so a crash (even kill -9)
loses at most the sequence in flight.  ``CacheWriter.finalize`` merges header and shards into
``<cache>.tmp`` and renames it over ``<cache>``; only then are the shards removed.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import h5py
import numpy as np

from .. import __version__
from ..common.errors import UserError

SCHEMA_VERSION = 1
AUDIO_RATE = 16000
SPLITS = ("train", "val", "test", "test_a", "test_b", "none")
TIERS = ("phones", "words")

Interval = tuple[float, float, str]
_TIER_DTYPE = np.dtype([("start", "<f8"), ("end", "<f8"), ("label", h5py.string_dtype())])
_HEADER_NAME = "_header.h5"


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


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 hex digest of a file, read in 1 MiB blocks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    frames_per_chunk = max(1, min(vertices.shape[0], 30))
    group.create_dataset("vertices", data=vertices, chunks=(frames_per_chunk, *vertices.shape[1:]))
    audio = np.ascontiguousarray(seq.audio, dtype=np.float32).reshape(-1)
    group.create_dataset("audio", data=audio)
    group["audio"].attrs["sample_rate"] = AUDIO_RATE
    for tier_name in TIERS:
        intervals = getattr(seq, tier_name)
        if intervals is not None:
            group.create_dataset(tier_name, data=_tier_to_array(intervals))
    if seq.features:
        features = group.create_group("features")
        for name, (array, rate) in seq.features.items():
            features.create_dataset(name, data=np.asarray(array, dtype=np.float32))
            features[name].attrs["rate"] = float(rate)
    if seq.landmarks is not None:
        group.create_dataset("landmarks", data=np.asarray(seq.landmarks, dtype=np.float32))


def _read_sequence_group(group: h5py.Group, subject: str, sentence: str) -> SequenceData:
    features = {}
    if "features" in group:
        for name, dataset in group["features"].items():
            features[name] = (dataset[()], float(dataset.attrs["rate"]))
    extras = {k: _attr(v) for k, v in group.attrs.items() if k not in ("split", "n_frames", "transcript")}
    return SequenceData(
        subject=subject,
        sentence=sentence,
        vertices=group["vertices"][()],
        audio=group["audio"][()],
        split=_attr(group.attrs["split"]),
        transcript=_attr(group.attrs.get("transcript", "")),
        phones=_array_to_tier(group["phones"][()]) if "phones" in group else None,
        words=_array_to_tier(group["words"][()]) if "words" in group else None,
        features=features,
        landmarks=group["landmarks"][()] if "landmarks" in group else None,
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


# --------------------------------------------------------------------------------------------
# reading


class Cache:
    """Read-only view of a schema-v1 cache.  Opens the file lazily, once per process
    (safe with forked DataLoader workers)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._file: h5py.File | None = None
        self._pid: int | None = None
        root = self._h5
        version = root.attrs.get("schema_version")
        if version is None or "sequences" not in root:
            raise UserError("not a histalk-bench cache (no schema_version or /sequences)", self.path)
        if int(version) != SCHEMA_VERSION:
            raise UserError(
                f"cache schema version {int(version)} is not supported (this version reads {SCHEMA_VERSION}); "
                "re-run 'histalk-bench prepare'",
                self.path,
            )

    # file handling
    @property
    def _h5(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            self._file = _open_h5(self.path, "r")
            self._pid = os.getpid()
        return self._file

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def __enter__(self) -> "Cache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self):
        return {"path": self.path, "_file": None, "_pid": None}

    # root attributes
    @property
    def dataset(self) -> str:
        return _attr(self._h5.attrs["dataset"])

    @property
    def fps(self) -> float:
        return float(self._h5.attrs["fps"])

    @property
    def n_vertices(self) -> int:
        return int(self._h5.attrs["n_vertices"])

    @property
    def config(self) -> dict:
        return json.loads(_attr(self._h5.attrs.get("config", "{}")))

    @property
    def created_with(self) -> str:
        return _attr(self._h5.attrs.get("created_with", ""))

    # shared, per-dataset arrays
    @property
    def faces(self) -> np.ndarray | None:
        return self._h5["faces"][()] if "faces" in self._h5 else None

    def template_subjects(self) -> list[str]:
        return sorted(self._h5["templates"]) if "templates" in self._h5 else []

    def template(self, subject: str) -> np.ndarray:
        """(V, 3) float32 neutral face of ``subject``."""
        templates = self._h5.get("templates")
        if templates is None or subject not in templates:
            raise UserError(f"no template for subject '{subject}'", self.path)
        return templates[subject][()]

    def regions(self) -> dict[str, np.ndarray]:
        """name -> int64 vertex ids (e.g. 'lip', 'upper_face'); empty when none were given."""
        if "regions" not in self._h5:
            return {}
        return {name: ds[()] for name, ds in self._h5["regions"].items()}

    def region_info(self) -> dict[str, dict]:
        """name -> {'source': file name, 'sha256': digest, 'n': count}."""
        if "regions" not in self._h5:
            return {}
        return {
            name: {"source": _attr(ds.attrs.get("source", "")), "sha256": _attr(ds.attrs.get("sha256", "")), "n": int(ds.shape[0])}
            for name, ds in self._h5["regions"].items()
        }

    def landmark_map(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(vertex_ids (L, K) int64, weights (L, K) float32): landmark l = sum_k w[l,k] * v[ids[l,k]]."""
        if "landmark_map" not in self._h5:
            return None
        group = self._h5["landmark_map"]
        return group["vertex_ids"][()], group["weights"][()]

    def landmark_map_info(self) -> dict:
        if "landmark_map" not in self._h5:
            return {}
        return {k: _attr(v) for k, v in self._h5["landmark_map"].attrs.items()}

    # sequences
    def sequences(self, split: str | Iterable[str] | None = None, subject: str | None = None) -> list[SequenceRef]:
        """Sequences sorted by subject then sentence, optionally filtered by split(s) and subject."""
        wanted = None if split is None else ({split} if isinstance(split, str) else set(split))
        refs = []
        for subj_name, subj_group in sorted(self._h5["sequences"].items()):
            if subject is not None and subj_name != subject:
                continue
            for sent_name, group in sorted(subj_group.items()):
                ref = SequenceRef(
                    subject=subj_name,
                    sentence=sent_name,
                    split=_attr(group.attrs["split"]),
                    n_frames=int(group.attrs["n_frames"]),
                    transcript=_attr(group.attrs.get("transcript", "")),
                )
                if wanted is None or ref.split in wanted:
                    refs.append(ref)
        return refs

    def subjects(self, split: str | Iterable[str] | None = None) -> list[str]:
        return sorted({ref.subject for ref in self.sequences(split)})

    def _group(self, subject: str, sentence: str) -> h5py.Group:
        try:
            return self._h5["sequences"][subject][sentence]
        except KeyError:
            raise UserError(f"no sequence '{subject}/{sentence}'", self.path) from None

    def has_sequence(self, subject: str, sentence: str) -> bool:
        return subject in self._h5["sequences"] and sentence in self._h5["sequences"][subject]

    def attrs(self, subject: str, sentence: str) -> dict:
        return {k: _attr(v) for k, v in self._group(subject, sentence).attrs.items()}

    def vertices(self, subject: str, sentence: str, frames: slice | None = None) -> np.ndarray:
        """(T, V, 3) float32 (or the given frame slice)."""
        dataset = self._group(subject, sentence)["vertices"]
        return dataset[frames] if frames is not None else dataset[()]

    def audio(self, subject: str, sentence: str) -> np.ndarray:
        """(N,) float32 mono at 16 kHz."""
        return self._group(subject, sentence)["audio"][()]

    def tier(self, subject: str, sentence: str, name: str) -> list[Interval] | None:
        """'phones' or 'words' as (start s, end s, label), or None when not aligned."""
        group = self._group(subject, sentence)
        return _array_to_tier(group[name][()]) if name in group else None

    def feature_names(self, subject: str, sentence: str) -> list[str]:
        group = self._group(subject, sentence)
        return sorted(group["features"]) if "features" in group else []

    def feature(self, subject: str, sentence: str, name: str) -> tuple[np.ndarray, float] | None:
        """((T_f, D) float32, rate Hz) or None when that feature was not extracted."""
        group = self._group(subject, sentence)
        if "features" not in group or name not in group["features"]:
            return None
        dataset = group["features"][name]
        return dataset[()], float(dataset.attrs["rate"])

    def landmarks(self, subject: str, sentence: str) -> np.ndarray | None:
        """(T, L, 3) float32 or None."""
        group = self._group(subject, sentence)
        return group["landmarks"][()] if "landmarks" in group else None

    def read(self, subject: str, sentence: str) -> SequenceData:
        return _read_sequence_group(self._group(subject, sentence), subject, sentence)


# --------------------------------------------------------------------------------------------
# writing


class CacheWriter:
    """Builds a cache atomically and resumably.

    Usage::

        writer = CacheWriter(path, dataset="vocaset", fps=30.0, n_vertices=5023, config={...})
        writer.set_templates({...}); writer.set_region("lip", ids, source=..., sha256=...)
        for seq in ...:
            if not writer.is_done(subject, sentence):
                writer.write_sequence(seq)       # one atomic shard per sequence
        writer.finalize()                        # merge into <path> atomically

    ``force=True`` discards shards and ignores an existing cache.  Without it, shards left by an
    interrupted run and sequences of an existing cache with the same dataset are reused.
    """

    def __init__(self, path: str | os.PathLike, *, dataset: str, fps: float, n_vertices: int,
                 config: dict | None = None, force: bool = False):
        self.path = Path(path)
        self.parts = self.path.with_name(self.path.name + ".parts")
        self.attrs = {
            "schema_version": SCHEMA_VERSION,
            "dataset": dataset,
            "fps": float(fps),
            "n_vertices": int(n_vertices),
            "config": json.dumps(config or {}, sort_keys=True, default=str),
            "created_with": f"histalk-bench {__version__}",
        }
        self.templates: dict[str, np.ndarray] = {}
        self.faces: np.ndarray | None = None
        self.regions: dict[str, tuple[np.ndarray, str, str]] = {}
        self.landmark: tuple[np.ndarray, np.ndarray, dict] | None = None
        if force:
            shutil.rmtree(self.parts, ignore_errors=True)
        self.parts.mkdir(parents=True, exist_ok=True)
        for stale in self.parts.glob("*.tmp"):
            stale.unlink()
        self.previous: Cache | None = None
        if not force and self.path.exists():
            try:
                previous = Cache(self.path)
                if previous.dataset == dataset and previous.n_vertices == int(n_vertices):
                    self.previous = previous
                else:
                    previous.close()
            except UserError:
                self.previous = None

    # header content, kept in memory and written by finalize()
    def set_templates(self, templates: dict[str, np.ndarray]) -> None:
        for subject, template in templates.items():
            self.templates[subject] = np.asarray(template, dtype=np.float32).reshape(-1, 3)

    def set_faces(self, faces: np.ndarray) -> None:
        self.faces = np.asarray(faces, dtype=np.int32).reshape(-1, 3)

    def set_region(self, name: str, ids: np.ndarray, *, source: str, sha256: str) -> None:
        self.regions[name] = (np.asarray(ids, dtype=np.int64).reshape(-1), source, sha256)

    def set_landmark_map(self, vertex_ids: np.ndarray, weights: np.ndarray, **info) -> None:
        vertex_ids = np.asarray(vertex_ids, dtype=np.int64)
        weights = np.asarray(weights, dtype=np.float32)
        if vertex_ids.ndim == 1:
            vertex_ids, weights = vertex_ids[:, None], weights.reshape(-1, 1)
        self.landmark = (vertex_ids, weights, info)

    # sequences
    def _shard_path(self, subject: str, sentence: str) -> Path:
        return self.parts / f"{subject}__{sentence}.h5"

    def is_done(self, subject: str, sentence: str) -> bool:
        """True when this sequence has a finished shard or is in the existing cache."""
        if self._shard_path(subject, sentence).exists():
            return True
        return self.previous is not None and self.previous.has_sequence(subject, sentence)

    def load_done(self, subject: str, sentence: str) -> SequenceData | None:
        """The finished sequence from a shard or the existing cache (to extend it), else None."""
        shard = self._shard_path(subject, sentence)
        if shard.exists():
            with _open_h5(shard) as handle:
                return _read_sequence_group(handle["sequences"][subject][sentence], subject, sentence)
        if self.previous is not None and self.previous.has_sequence(subject, sentence):
            return self.previous.read(subject, sentence)
        return None

    def write_sequence(self, seq: SequenceData) -> None:
        """Write ``seq`` to its own shard: a temporary file, fsync, then an atomic rename."""
        final = self._shard_path(seq.subject, seq.sentence)
        temporary = final.with_suffix(".tmp")
        with h5py.File(temporary, "w") as handle:
            _write_sequence_group(handle.require_group("sequences"), seq)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, final)

    def shard_keys(self) -> list[tuple[str, str]]:
        keys = []
        for shard in sorted(self.parts.glob("*.h5")):
            subject, _, sentence = shard.stem.partition("__")
            keys.append((subject, sentence))
        return keys

    def finalize(self, keep: Iterable[tuple[str, str]] | None = None) -> Path:
        """Merge header, shards and (unless replaced) the existing cache's sequences into
        ``path`` atomically.  ``keep``: restrict the result to these (subject, sentence) keys."""
        keep_set = None if keep is None else set(keep)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with h5py.File(temporary, "w") as out:
            for key, value in self.attrs.items():
                out.attrs[key] = value
            templates = out.create_group("templates")
            for subject, template in sorted(self.templates.items()):
                templates.create_dataset(subject, data=template)
            if self.faces is not None:
                out.create_dataset("faces", data=self.faces)
            regions = out.create_group("regions")
            for name, (ids, source, sha256) in sorted(self.regions.items()):
                regions.create_dataset(name, data=ids)
                regions[name].attrs["source"] = source
                regions[name].attrs["sha256"] = sha256
            if self.landmark is not None:
                vertex_ids, weights, info = self.landmark
                group = out.create_group("landmark_map")
                group.create_dataset("vertex_ids", data=vertex_ids)
                group.create_dataset("weights", data=weights)
                for key, value in info.items():
                    group.attrs[key] = value
            sequences = out.create_group("sequences")
            written = set()
            for subject, sentence in self.shard_keys():
                if keep_set is not None and (subject, sentence) not in keep_set:
                    continue
                with _open_h5(self._shard_path(subject, sentence)) as shard:
                    shard.copy(shard["sequences"][subject][sentence], sequences.require_group(subject), name=sentence)
                written.add((subject, sentence))
            if self.previous is not None:
                previous_root = self.previous._h5["sequences"]
                for ref in self.previous.sequences():
                    key = (ref.subject, ref.sentence)
                    if key in written or (keep_set is not None and key not in keep_set):
                        continue
                    previous_root.file.copy(previous_root[ref.subject][ref.sentence],
                                            sequences.require_group(ref.subject), name=ref.sentence)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        if self.previous is not None:
            self.previous.close()
            self.previous = None
        os.replace(temporary, self.path)
        shutil.rmtree(self.parts, ignore_errors=True)
        return self.path

    def abandon(self) -> None:
        """Drop the shards (used when validation fails before anything valid was written)."""
        if self.previous is not None:
            self.previous.close()
        shutil.rmtree(self.parts, ignore_errors=True)


def iter_sequences(cache: Cache, split: str | None = None) -> Iterator[SequenceData]:
    """Yield whole sequences one at a time (never the whole dataset in memory)."""
    for ref in cache.sequences(split):
        yield cache.read(ref.subject, ref.sentence)
