"""The community metrics as pure, vectorised numpy functions of one sequence.

Conventions (CodeTalker's evaluation protocol, see docs/metrics.md): ``pred`` and ``gt`` are
(T, V, 3) in the data's units (metres for VOCASET, normalised units for BIWI), truncated to
the shorter length; no template is subtracted except where FDD defines it.  Every function
returns *sufficient statistics* of the sequence, so that pooling across sequences is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def _squared_error(pred: np.ndarray, gt: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
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
    return _squared_error(pred, gt, lip_ids).max(axis=1)


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


def lve(pred: np.ndarray, gt: np.ndarray, lip_ids: np.ndarray) -> float:
    """LVE of one sequence: mean_t max_{v in lip} ||P[t,v] - G[t,v]||^2 (squared data units).
    Across sequences LVE pools frames: use the accumulator, not the mean of these values."""
    return float(lip_max_squared_error(pred, gt, lip_ids).mean())


def fdd(pred: np.ndarray, gt: np.ndarray, template: np.ndarray, upper_ids: np.ndarray) -> float:
    """FDD of one sequence (signed, squared data units): dyn(G) - dyn(P), where
    dyn(X) = mean_{v in upper} std_t ||X[t,v] - template[v]||^2 (ddof 0)."""
    pred, gt = truncate(pred, gt)
    return upper_face_dynamics(gt, template, upper_ids) - upper_face_dynamics(pred, template, upper_ids)


def mve(pred: np.ndarray, gt: np.ndarray) -> float:
    """MVE of one sequence: mean over frames and all vertices of ||P[t,v] - G[t,v]|| (data units)."""
    pred, gt = truncate(pred, gt)
    return float(np.sqrt(_squared_error(pred, gt)).mean())


def lrp(pred: np.ndarray, gt: np.ndarray, lip_ids: np.ndarray, threshold: float) -> float:
    """LRP (this toolkit's geometric reading, version 0.1-geometric; NOT published LRP):
    100 * fraction of frames t with max_{v in lip} ||P[t,v] - G[t,v]|| < threshold (percent)."""
    return float(100.0 * (np.sqrt(lip_max_squared_error(pred, gt, lip_ids)) < threshold).mean())


@dataclass(frozen=True)
class Metric:
    """A metric's identity: the accumulator in accumulate.py computes it."""

    name: str
    version: str
    higher_is_better: bool
    units: str
    description: str


LVE = Metric("lve", "1.0", False, "squared data units",
             "lip vertex error: per frame, max over lip vertices of the squared L2 error; mean over all frames pooled "
             "across sequences")
FDD = Metric("fdd", "1.0", False, "squared data units",
             "upper-face dynamics deviation: per sequence, mean over upper-face vertices of std over time (ddof 0) of "
             "||X - template||^2, ground truth minus prediction (signed); mean over sequences")
MVE = Metric("mve", "1.0", False, "data units",
             "mean vertex error: mean non-squared L2 distance over all vertices and frames, pooled")
LRP = Metric("lrp", "0.1-geometric", True, "percent of frames",
             "lip readability percentage (this toolkit's geometric reading, NOT comparable with published LRP): "
             "percentage of frames whose max lip-vertex L2 error (non-squared) is below a threshold")

ALL = {m.name: m for m in (LVE, FDD, MVE, LRP)}

# Conventional display scaling used by papers (value * scale is printed).
DISPLAY_SCALE = {
    "vocaset": {"lve": 1e5, "fdd": 1e7, "mve": 1e3, "lrp": 1.0},
    "biwi": {"lve": 1e4, "fdd": 1e5, "mve": 1.0, "lrp": 1.0},
}
# Default LRP threshold in data units, about 3 mm of lip error on both datasets: VOCASET is in
# metres (3e-3); a BIWI template is ~0.83 units across a ~15 cm face, so 3 mm ~ 1.7e-2 units.
# (Published LVEs correspond to a typical worst-lip error of ~5 mm on VOCASET and ~0.02 units on
# BIWI, so these thresholds separate good and poor frames.)  Always reported with the result.
LRP_THRESHOLD = {"vocaset": 3e-3, "biwi": 1.7e-2}


def display_scale(dataset: str) -> dict[str, float]:
    return DISPLAY_SCALE.get(dataset, {"lve": 1.0, "fdd": 1.0, "mve": 1.0, "lrp": 1.0})


def sequence_statistics(pred: np.ndarray, gt: np.ndarray, template: np.ndarray, lip_ids: np.ndarray,
                        upper_ids: np.ndarray, lrp_threshold: float) -> dict[str, float]:
    """Sufficient statistics of one sequence for every metric.

    Returns frames (T), lve_sum (sum over frames of the lip max squared error), fdd (the
    sequence's signed FDD), mve_sum (sum of L2 errors over T*V), n_vertices, lrp_hits (frames
    whose lip max L2 error < threshold).
    """
    pred, gt = truncate(pred, gt)
    if template.shape != gt.shape[1:]:
        raise ValueError(f"template shaped {template.shape}, expected {gt.shape[1:]}")
    lip_ids = check_ids(lip_ids, gt.shape[1], "lip")
    upper_ids = check_ids(upper_ids, gt.shape[1], "upper_face")
    squared = _squared_error(pred, gt)  # (T, V)
    lip_max = squared[:, lip_ids].max(axis=1)
    fdd = upper_face_dynamics(gt, template, upper_ids) - upper_face_dynamics(pred, template, upper_ids)
    return {
        "frames": int(pred.shape[0]),
        "lve_sum": float(lip_max.sum()),
        "fdd": float(fdd),
        "mve_sum": float(np.sqrt(squared).sum()),
        "n_vertices": int(pred.shape[1]),
        "lrp_hits": int((np.sqrt(lip_max) < lrp_threshold).sum()),
    }
