"""Numpy primitives of the community metrics (nothing here knows the specs).

Conventions (CodeTalker's evaluation protocol, see docs/metrics.md): ``pred`` and ``gt`` are
(T, V, 3) in the data's units (metres for VOCASET, normalised units for BIWI), truncated to
the shorter length; no template is subtracted except where FDD defines it.  The formulas live
once, in the metric specs (:mod:`.core`, :mod:`.phonetic`, :mod:`.lipsync`); :mod:`.one_sequence`
runs those specs on one sequence.
"""

from __future__ import annotations

import numpy as np


def truncate(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first min(T_pred, T_gt) frames of both; ValueError unless both are (T, V, 3) with equal V."""
    if pred.ndim != 3 or gt.ndim != 3 or pred.shape[2] != 3 or gt.shape[2] != 3:
        raise ValueError(f"pred and gt must be (T, V, 3), got {pred.shape} and {gt.shape}")
    if pred.shape[1] != gt.shape[1]:
        raise ValueError(f"vertex counts differ: pred {pred.shape[1]}, gt {gt.shape[1]}")
    n = min(pred.shape[0], gt.shape[0])
    if n == 0:
        raise ValueError("a sequence with no frames cannot be scored")
    return pred[:n], gt[:n]


def check_ids(ids: np.ndarray, n_vertices: int, name: str) -> np.ndarray:
    """int64 vertex ids, ValueError when empty or out of [0, n_vertices)."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size == 0:
        raise ValueError(f"region '{name}' is empty")
    if ids.min() < 0 or ids.max() >= n_vertices:
        raise ValueError(f"region '{name}' has ids outside [0, {n_vertices})")
    return ids


def squared_error(pred: np.ndarray, gt: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
    """(T, V') squared L2 distances in float64, over ``ids`` when given."""
    if ids is not None:
        pred, gt = pred[:, ids], gt[:, ids]
    out = np.empty(pred.shape[:2], dtype=np.float64)
    for start in range(0, pred.shape[0], 8):  # frame blocks stay in cache
        diff = np.subtract(pred[start : start + 8], gt[start : start + 8], dtype=np.float64)
        np.einsum("tvc,tvc->tv", diff, diff, out=out[start : start + 8])
    return out


def lip_max_squared_error(pred: np.ndarray, gt: np.ndarray, lip_ids: np.ndarray) -> np.ndarray:
    """(T,) per frame: max over lip vertices of ||P[t,v] - G[t,v]||^2 (no square root)."""
    pred, gt = truncate(pred, gt)
    return squared_error(pred, gt, lip_ids).max(axis=1)


def upper_face_dynamics(x: np.ndarray, template: np.ndarray, upper_ids: np.ndarray) -> float:
    """mean over upper-face vertices of std_t(||X[t,v] - template[v]||^2), ddof 0 (squared data units).

    x: (T, V, 3); computed in float64, in frame blocks so temporaries stay small."""
    upper_ids = np.asarray(upper_ids, dtype=np.int64)
    rest = np.asarray(template, dtype=np.float64)[upper_ids]
    squared_norms = np.empty((x.shape[0], upper_ids.size), dtype=np.float64)  # (T, U)
    for start in range(0, x.shape[0], 16):
        motion = np.take(x[start : start + 16], upper_ids, axis=1).astype(np.float64)
        motion -= rest
        np.einsum("tvc,tvc->tv", motion, motion, out=squared_norms[start : start + 16])
    return float(squared_norms.std(axis=0).mean())
