"""Prediction sources for ``evaluate``: a predictions HDF5, or a folder of .npy files as other
repositories write them.  Both give ``{condition: (T, V, 3) float32}`` per sequence, checked."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..common.errors import UserError


class NpyPredictions:
    """A folder of ``<subject>_<sentence>.npy`` or ``<subject>_<sentence>_condition_<speaker>.npy``
    files shaped (T, V*3) or (T, V, 3), as FaceFormer, CodeTalker and SelfTalk write them."""

    def __init__(self, folder: Path, keys: list[tuple[str, str]]):
        self.folder = folder
        self.files: dict[tuple[str, str], dict[str | None, Path]] = {}
        known = {f"{s}_{t}": (s, t) for s, t in keys}
        for path in sorted(folder.glob("*.npy")):
            stem = path.stem
            base, _, condition = stem.partition("_condition_")
            if base in known:
                self.files.setdefault(known[base], {})[condition or None] = path
        self.name = folder.name
        matched = {p.name for files in self.files.values() for p in files.values()}
        self.unmatched = sorted(p.name for p in folder.glob("*.npy") if p.name not in matched)

    def has(self, subject: str, sentence: str) -> bool:
        return (subject, sentence) in self.files

    def get(self, subject: str, sentence: str, n_vertices: int) -> dict[str | None, np.ndarray]:
        return {condition: checked_vertices(load_npy_vertices(path), n_vertices, str(path))
                for condition, path in self.files[(subject, sentence)].items()}

    def close(self) -> None:
        pass


class H5Predictions:
    """A predictions HDF5 written by ``predict``/``compare``."""

    def __init__(self, path: Path, dataset: str | None = None):
        from .store import PredictionReader

        self.reader = PredictionReader(path)
        self.path = path
        self.name = self.reader.attrs.get("model", path.stem)
        made_for = self.reader.attrs.get("dataset")
        if dataset and made_for and made_for != dataset:
            self.reader.close()
            raise UserError(f"predictions were made for dataset '{made_for}', the cache is '{dataset}'", path)

    def has(self, subject: str, sentence: str) -> bool:
        return self.reader.has(subject, sentence)

    def get(self, subject: str, sentence: str, n_vertices: int) -> dict[str | None, np.ndarray]:
        return {c: checked_vertices(self.reader.vertices(subject, sentence, c), n_vertices, f"{self.path} [{subject}/{sentence}]")
                for c in self.reader.conditions(subject, sentence)}

    def close(self) -> None:
        self.reader.close()


def load_npy_vertices(path: Path) -> np.ndarray:
    """A .npy of (T, V*3) or (T, V, 3) vertices as (T, V, 3) (other shapes unchanged)."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"unreadable .npy file ({exc.__class__.__name__}: {exc})", path) from None
    if array.size == 0:
        raise UserError(f"no vertices (shape {array.shape})", path)
    if array.ndim == 2 and array.shape[1] % 3 == 0:
        array = array.reshape(array.shape[0], -1, 3)
    return array


def checked_vertices(array: np.ndarray, n_vertices: int, source: str) -> np.ndarray:
    """``array`` when it is (T >= 1, n_vertices, 3) and finite, else a UserError naming ``source``."""
    if array.ndim != 3 or array.shape[1:] != (n_vertices, 3):
        raise UserError(f"wrong vertex count: prediction shaped {tuple(array.shape)}, expected (T, {n_vertices}, 3)", source)
    if array.shape[0] == 0:
        raise UserError("prediction has no frames", source)
    if not np.all(np.isfinite(array)):
        raise UserError("prediction contains NaN or infinite values", source)
    return array


def open_predictions(path: str | os.PathLike, keys: list[tuple[str, str]], dataset: str | None = None):
    """A predictions source: a folder of .npy files or a predictions HDF5."""
    path = Path(path)
    if path.is_dir():
        return NpyPredictions(path, keys)
    if not path.exists():
        raise UserError("predictions not found", path)
    return H5Predictions(path, dataset)
