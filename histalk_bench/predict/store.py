"""Predictions HDF5: what ``predict`` writes and ``evaluate`` reads.

Layout::

    /                       attrs model, dataset, fps, n_vertices, meta (JSON), created_with
    /sequences/<subject>/<sentence>/vertices                       (T, V, 3) float32, or
    /sequences/<subject>/<sentence>/conditions/<speaker>/vertices  one per training-speaker condition

Written to ``<path>.tmp`` and renamed on ``close()``: a crash never leaves a file that reads
as complete.  ``meta`` holds the provenance (run, checkpoint digest, cache fingerprint, split,
options) and ``complete``/``n_sequences`` are set on close.  One writer per path (``<path>.lock``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from .. import __version__
from ..cache.schema import _attr, _open_h5, read_checked
from ..common import lock
from ..common.atomic import commit_file, discard, ensure_free_space, temporary_name, track
from ..common.errors import UserError


class PredictionWriter:
    """Write predicted vertices sequence by sequence; ``close()`` publishes the file."""

    def __init__(self, path: str | os.PathLike, *, model: str, dataset: str, fps: float,
                 n_vertices: int, meta: dict | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire(self.path, what="predictions file")
        self._temporary = temporary_name(self.path)
        track(self._temporary)
        self._file = h5py.File(self._temporary, "w")
        attrs = {"model": model, "dataset": dataset, "fps": float(fps), "n_vertices": int(n_vertices),
                 "meta": json.dumps(meta or {}, sort_keys=True, default=str),
                 "created_with": f"histalk-bench {__version__}"}
        for key, value in attrs.items():
            self._file.attrs[key] = value
        self._sequences = self._file.create_group("sequences")

    def write(self, subject: str, sentence: str, vertices: np.ndarray, condition: str | None = None) -> None:
        """vertices: (T, V, 3) float32; ``condition``: the training speaker whose style was used."""
        vertices = np.asarray(vertices, dtype=np.float32)
        ensure_free_space(self.path.parent, 2 * vertices.nbytes, f"predictions {self.path.name}")
        group = self._sequences.require_group(subject).require_group(sentence)
        if condition is not None:
            group = group.require_group("conditions").require_group(condition)
        if "vertices" in group:
            del group["vertices"]
        group.create_dataset("vertices", data=vertices, fletcher32=True)

    def close(self) -> Path:
        self._file.attrs["n_sequences"] = sum(len(group) for group in self._sequences.values())
        self._file.attrs["complete"] = True
        self._file.close()
        commit_file(self._temporary, self.path)
        lock.release(self.path)
        return self.path

    def __enter__(self) -> "PredictionWriter":
        return self

    def __exit__(self, exc_type, *rest) -> None:
        if exc_type is None:
            self.close()
        else:
            self._file.close()
            discard(self._temporary)
            lock.release(self.path)


class PredictionReader:
    """Read a predictions HDF5 written by :class:`PredictionWriter`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._file = _open_h5(self.path)
        if "sequences" not in self._file or "model" not in self._file.attrs:
            cache = "schema_version" in self._file.attrs
            self._file.close()
            raise UserError("this is a prepared cache, not predictions (give the output of 'predict' or 'compare')" if cache
                            else "not a histalk-bench predictions file (no /sequences or model attribute)", self.path)

    @property
    def attrs(self) -> dict:
        out = {k: _attr(v) for k, v in self._file.attrs.items()}
        if "meta" in out:
            out["meta"] = json.loads(out["meta"])
        return out

    def keys(self) -> list[tuple[str, str]]:
        return [(s, t) for s, group in sorted(self._file["sequences"].items()) for t in sorted(group)]

    def conditions(self, subject: str, sentence: str) -> list[str | None]:
        """Condition names for this sequence, or [None] when it was predicted once."""
        group = self._file["sequences"][subject][sentence]
        if "conditions" in group:
            return sorted(group["conditions"])
        return [None]

    def has(self, subject: str, sentence: str) -> bool:
        root = self._file["sequences"]
        return subject in root and sentence in root[subject]

    def vertices(self, subject: str, sentence: str, condition: str | None = None) -> np.ndarray:
        group = self._file["sequences"][subject][sentence]
        if condition is not None:
            group = group["conditions"][condition]
        return read_checked(group["vertices"])

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "PredictionReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
