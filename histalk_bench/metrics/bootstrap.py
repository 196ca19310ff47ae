"""Seeded bootstrap over sequences: confidence intervals and a paired test between two models."""

from __future__ import annotations

import numpy as np

from .accumulate import pooled
from .spec import FRAMES

N_RESAMPLES = 1000


def _indices(n: int, seed: int, n_resamples: int = N_RESAMPLES) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def _interval(values: np.ndarray, alpha: float) -> list[float] | None:
    """Percentile interval of the resampled values that are defined; None when none is."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    return [float(np.percentile(values, alpha)), float(np.percentile(values, 100 - alpha))]


def confidence_intervals(stats: dict[str, np.ndarray], seed: int = 0, level: float = 0.95) -> dict[str, list[float] | None]:
    """Percentile CI per metric, resampling sequences with replacement (LVE pools the resampled frames);
    None for an absent metric.  Resamples where a metric is undefined (e.g. no bilabial phone drawn)
    are left out of its interval."""
    n = len(stats[FRAMES])
    index = _indices(n, seed)
    resampled = pooled({k: v[index] for k, v in stats.items()})
    alpha = (1 - level) / 2 * 100
    return {k: _interval(v, alpha) for k, v in resampled.items()}


def paired_test(stats_a: dict[str, np.ndarray], stats_b: dict[str, np.ndarray], metric: str, seed: int = 0) -> dict:
    """Paired bootstrap test of metric(A) - metric(B), both scored on the same sequences in the same order.

    The same resampled sequence sets are applied to both models; p is twice the smaller fraction
    of resampled differences on either side of zero (the smallest level at which the percentile
    interval of the difference excludes 0), capped at 1; its resolution is 1/n_resamples."""
    n = len(stats_a[FRAMES])
    index = _indices(n, seed)
    diff = pooled({k: v[index] for k, v in stats_a.items()})[metric] - pooled({k: v[index] for k, v in stats_b.items()})[metric]
    observed = float(pooled(stats_a)[metric] - pooled(stats_b)[metric])
    p = 2 * min(float((diff <= 0).mean()), float((diff >= 0).mean()))
    return {"metric": metric, "difference": observed, "p_value": min(1.0, p), "n_resamples": int(index.shape[0])}
