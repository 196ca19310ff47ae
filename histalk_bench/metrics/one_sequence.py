"""The registered metrics on one sequence (tests, benchmarks, quick checks); across sequences use
:class:`~.accumulate.MetricAccumulator`, which pools them as the protocol defines."""

from __future__ import annotations

import numpy as np

from . import METRICS, core_specs
from .spec import EvalContext, SequenceView, compute_statistics


def score_one(name: str, pred: np.ndarray, gt: np.ndarray, template: np.ndarray | None = None, *,
              lip_ids=None, upper_ids=None, lrp_threshold: float = 0.0, fps: float = 30.0, mouth=None,
              phones=None) -> float:
    """The registered metric ``name`` of one sequence (its spec's compute, then pool over one sequence)."""
    n_vertices = gt.shape[1]
    template = np.zeros(gt.shape[1:]) if template is None else template
    context = EvalContext(np.arange(n_vertices) if lip_ids is None else lip_ids,
                          np.arange(n_vertices) if upper_ids is None else upper_ids, lrp_threshold, fps, mouth)
    spec = METRICS.get(name)
    stats = compute_statistics([spec], SequenceView(pred, gt, template, context, phones))
    return float(np.asarray(spec.pool({k: np.asarray(v)[None] for k, v in stats.items()})))


def lve(pred: np.ndarray, gt: np.ndarray, lip_ids: np.ndarray) -> float:
    """LVE of one sequence (squared data units). Across sequences LVE pools frames: use the accumulator."""
    return score_one("lve", pred, gt, lip_ids=lip_ids)


def fdd(pred: np.ndarray, gt: np.ndarray, template: np.ndarray, upper_ids: np.ndarray) -> float:
    """FDD of one sequence (signed, squared data units): dyn(G) - dyn(P)."""
    return score_one("fdd", pred, gt, template, upper_ids=upper_ids)


def mve(pred: np.ndarray, gt: np.ndarray) -> float:
    """MVE of one sequence: mean over frames and all vertices of ||P[t,v] - G[t,v]|| (data units)."""
    return score_one("mve", pred, gt)


def lrp(pred: np.ndarray, gt: np.ndarray, lip_ids: np.ndarray, threshold: float) -> float:
    """LRP of one sequence (percent; this toolkit's geometric reading, NOT published LRP)."""
    return score_one("lrp", pred, gt, lip_ids=lip_ids, lrp_threshold=threshold)


def sequence_statistics(pred: np.ndarray, gt: np.ndarray, template: np.ndarray, lip_ids: np.ndarray,
                        upper_ids: np.ndarray, lrp_threshold: float) -> dict[str, float]:
    """Sufficient statistics of one sequence for the core metrics (e.g. frames, lve_sum, fdd, mve_sum,
    n_vertices, lrp_hits)."""
    view = SequenceView(pred, gt, template, EvalContext(lip_ids, upper_ids, lrp_threshold))
    return compute_statistics(core_specs(), view)
