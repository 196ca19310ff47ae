"""Reading a cache: :class:`Cache` (lazy, read-only) and :func:`iter_sequences`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Iterator

import h5py
import numpy as np

from ..common.errors import UserError
from .fingerprint import cache_provenance
from .schema import (SCHEMA_VERSION, Interval, SequenceData, SequenceRef, _array_to_tier, _attr, _open_h5,
                     _read_sequence_group, read_checked)


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
    def stored_fingerprint(self) -> str | None:
        """The fingerprint written by prepare (None for a cache written before fingerprints)."""
        value = self._h5.attrs.get("fingerprint")
        return _attr(value) if value is not None else None

    def provenance(self) -> dict:
        """fingerprint, verified, dataset, fps, n_vertices, path (see :mod:`.fingerprint`)."""
        return cache_provenance(self)

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
        return read_checked(templates[subject])

    def regions(self) -> dict[str, np.ndarray]:
        """name -> int64 vertex ids (e.g. 'lip', 'upper_face'); empty when none were given."""
        if "regions" not in self._h5:
            return {}
        return {name: read_checked(ds) for name, ds in self._h5["regions"].items()}

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
        return read_checked(self._group(subject, sentence)["vertices"], frames if frames is not None else ())

    def audio(self, subject: str, sentence: str) -> np.ndarray:
        """(N,) float32 mono at 16 kHz."""
        return read_checked(self._group(subject, sentence)["audio"])

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
        return read_checked(dataset), float(dataset.attrs["rate"])

    def landmarks(self, subject: str, sentence: str) -> np.ndarray | None:
        """(T, L, 3) float32 or None."""
        group = self._group(subject, sentence)
        return read_checked(group["landmarks"]) if "landmarks" in group else None

    def read(self, subject: str, sentence: str) -> SequenceData:
        return _read_sequence_group(self._group(subject, sentence), subject, sentence)




def iter_sequences(cache: Cache, split: str | None = None) -> Iterator[SequenceData]:
    """Yield whole sequences one at a time (never the whole dataset in memory)."""
    for ref in cache.sequences(split):
        yield cache.read(ref.subject, ref.sentence)
