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
    """The first min(T_pred, T_gt) frames of both."""
    n = min(pred.shape[0], gt.shape[0])
    return pred[:n], gt[:n]


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
    """mean over upper-face vertices of std_t(||X[t,v] - template[v]||^2), ddof 0."""
    motion = np.subtract(x[:, upper_ids], template[upper_ids][None], dtype=np.float64)
    return float(np.einsum("tvc,tvc->tv", motion, motion).std(axis=0).mean())


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
# Default LRP threshold in data units: 1 mm for VOCASET (metres); BIWI is in normalised units
# (template scale ~ decimetres) where 1e-2 plays the same role.  Always reported with the result.
LRP_THRESHOLD = {"vocaset": 1e-3, "biwi": 1e-2}


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
