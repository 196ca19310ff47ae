"""What a metric is: a :class:`MetricSpec` (identity, display, statistics, pooling) and the
per-sequence view its statistics are computed from.

A spec's ``compute(view) -> {statistic: value}`` gives the sufficient statistics of one sequence
(floats, or 1-D arrays for curve-valued statistics); ``pool(stats) -> value`` turns statistics of
many sequences into the metric.  In ``pool`` a scalar statistic is an array whose last axis is
the sequence (``(S,)``, or ``(B, S)`` for bootstrap resamples) and a curve statistic has the
sequence on the second-to-last axis (``(S, L)`` or ``(B, S, L)``).  A pooled value of NaN means
*absent* (e.g. no sequence had phone tiers): it is reported as ``null``, never as 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Mapping

import numpy as np


@dataclass(frozen=True)
class MetricSpec:
    """One metric, defined once.

    table: 'core' (the main leaderboard table and metric bars) or 'phonetic' (the phonetic table).
    display_scale: dataset -> factor the value is multiplied by for printing, for datasets whose
    registry entry (histalk_bench.datasets.base.DatasetEntry.display_scale) does not name this
    metric (or ``scale_like``, the metric whose scale it shares); default 1.
    """

    name: str
    version: str
    higher_is_better: bool
    units: str
    title: str
    description: str
    statistics: tuple[str, ...]
    compute: Callable[["SequenceView"], dict]
    pool: Callable[[dict], np.ndarray]
    display_scale: Mapping[str, float] = field(default_factory=dict)
    table: str = "core"
    order: int = 100
    scale_like: str = ""

    def scale_for(self, dataset: str) -> float:
        """The factor papers print this metric with on ``dataset`` (the dataset's facts come first)."""
        from ..datasets.base import dataset_facts

        facts = dataset_facts(dataset).display_scale
        key = self.scale_like or self.name
        if key in facts:
            return float(facts[key])
        return float(self.display_scale.get(dataset, self.display_scale.get("default", 1.0)))


def check_spec(target, name: str) -> "MetricSpec":
    """Registry contract: a MetricSpec whose name matches its registry name."""
    from ..common.errors import UserError

    if not isinstance(target, MetricSpec):
        raise UserError(f"metric '{name}' must be a MetricSpec, got {type(target).__name__}")
    if target.name != name:
        raise UserError(f"metric registered as '{name}' but its spec is named '{target.name}'")
    if not target.statistics:
        raise UserError(f"metric '{name}' names no statistics")
    return target


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator with 0/0 -> NaN (absent) and no warning."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(numerator, dtype=np.float64) / np.asarray(denominator, dtype=np.float64)


@dataclass
class EvalContext:
    """What every sequence of one evaluation shares.

    lip_ids / upper_ids: vertex ids; lrp_threshold: data units; fps: mesh frame rate;
    mouth: :class:`~histalk_bench.metrics.mouth.MouthPoints` or None (no mouth-opening metrics).
    """

    lip_ids: np.ndarray
    upper_ids: np.ndarray
    lrp_threshold: float
    fps: float = 30.0
    mouth: object | None = None


class SequenceView:
    """One scored sequence: truncated ``pred``/``gt`` (T, V, 3), ``template`` (V, 3), the phone
    tier (list of (start s, end s, label) or None) and intermediates shared by several metrics,
    each computed once on first use."""

    def __init__(self, pred: np.ndarray, gt: np.ndarray, template: np.ndarray, context: EvalContext,
                 phones: list | None = None):
        from .functional import check_ids, truncate

        self.pred, self.gt = truncate(pred, gt)
        self.template = np.asarray(template)
        if self.template.shape != self.gt.shape[1:]:
            raise ValueError(f"template shaped {self.template.shape}, expected {self.gt.shape[1:]}")
        self.context = context
        self.lip_ids = check_ids(context.lip_ids, self.gt.shape[1], "lip")
        self.upper_ids = check_ids(context.upper_ids, self.gt.shape[1], "upper_face")
        self.phones = phones

    @property
    def n_frames(self) -> int:
        return int(self.gt.shape[0])

    @cached_property
    def squared(self) -> np.ndarray:
        """(T, V) squared L2 error, float64."""
        from .functional import squared_error

        return squared_error(self.pred, self.gt)

    @cached_property
    def lip_max(self) -> np.ndarray:
        """(T,) max over lip vertices of the squared error."""
        return self.squared[:, self.lip_ids].max(axis=1)

    @cached_property
    def openings(self) -> tuple[np.ndarray, np.ndarray] | None:
        """((T,) predicted, (T,) ground-truth) mouth opening, or None without mouth points."""
        mouth = self.context.mouth
        return None if mouth is None else (mouth.opening(self.pred), mouth.opening(self.gt))

    @cached_property
    def frame_classes(self) -> np.ndarray | None:
        """(T,) viseme class index per frame (-1 outside phones), or None without a phone tier."""
        from .visemes import frame_classes

        return None if self.phones is None else frame_classes(self.phones, self.n_frames, self.context.fps)
