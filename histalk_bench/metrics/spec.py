"""What a metric is: a :class:`MetricSpec` (identity, display, statistics, pooling) and the
per-sequence view its statistics are computed from.

A spec's ``compute(view) -> {statistic: value}`` gives the sufficient statistics of one sequence
(floats, or 1-D arrays for curve-valued statistics); ``pool(stats) -> value`` turns statistics of
many sequences into the metric.  In ``pool`` a scalar statistic is an array whose last axis is
the sequence (``(S,)``, or ``(B, S)`` for bootstrap resamples) and a curve statistic has the
sequence on the second-to-last axis (``(S, L)`` or ``(B, S, L)``).  A pooled value of NaN means
*absent* (e.g. no sequence had phone tiers): it is reported as ``null``, never as 0.

The statistics of all specs share one namespace, so the contract (:func:`check_spec`,
:func:`check_statistics`, :func:`compute_statistics`) keeps them apart: ``compute`` returns exactly
the declared statistics; a statistic name belongs to one ``compute`` (specs that share a compute
function share its statistics, e.g. the three lip-sync metrics); and :data:`FRAMES` (each
sequence's scored frame count) is supplied by the evaluator to every ``pool``, never declared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Mapping

import numpy as np

from ..common.errors import UserError
from ..datasets.base import dataset_facts
from .functional import check_ids, squared_error, truncate
from .visemes import frame_classes

FRAMES = "frames"  # the one statistic every sequence has: its scored frame count (supplied, never declared)
N_CONDITIONS = "n_conditions"  # the accumulator's per-sequence count of scored conditions (not a statistic)
TABLES = ("core", "phonetic")


@dataclass(frozen=True, kw_only=True)
class MetricSpec:
    """One metric, defined once (keyword arguments only: ``MetricSpec(name=..., version=..., ...)``).

    name: the registry name and the key in scores.json; version: changes when values change;
    higher_is_better: the direction the table's arrow shows; units: of the raw value; title: the
    display title of every table and plot; description: one line (scores.json, the leaderboard);
    statistics: the names ``compute(view)`` returns, exactly; pool: statistics arrays -> value.
    sign: for a signed metric (0 is perfect, the sign says which way the model errs), what a
    positive value means; tables and plots then rank by distance to 0 and state the meaning.
    note: a sentence the leaderboard prints under its table (e.g. a comparability caveat).
    table: 'core' (the main leaderboard table and metric bars) or 'phonetic' (the phonetic table).
    display_scale: dataset -> factor the value is multiplied by for printing, for datasets whose
    registry entry (histalk_bench.datasets.base.DatasetEntry.display_scale) does not name this
    metric (or ``scale_like``, the metric whose scale it shares); default 1.  A spec whose
    ``scale_like`` names another metric is a breakdown of it (plotted together, e.g. LVE per
    viseme class).
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
    sign: str = ""
    note: str = ""

    @property
    def signed(self) -> bool:
        return bool(self.sign)

    @property
    def arrow(self) -> str:
        """The table's direction mark, '↑' or '↓' (a signed metric keeps its papers' convention)."""
        return "↑" if self.higher_is_better else "↓"

    def rank_key(self, value: float) -> float:
        """Sort key, best first: distance to 0 for a signed metric; NaN (absent) sorts last."""
        value = float("nan") if value is None else float(value)
        if np.isnan(value):
            return float("inf")
        return abs(value) if self.signed else -value if self.higher_is_better else value

    def scale_for(self, dataset: str) -> float:
        """The factor papers print this metric with on ``dataset`` (the dataset's facts come first)."""
        facts = dataset_facts(dataset).display_scale
        key = self.scale_like or self.name
        if key in facts:
            return float(facts[key])
        return float(self.display_scale.get(dataset, self.display_scale.get("default", 1.0)))


def check_spec(target, name: str) -> "MetricSpec":
    """Registry contract of one spec: a MetricSpec named as registered, with distinct statistic
    names (not the supplied ``frames``), callable compute and pool, and a known table."""
    if not isinstance(target, MetricSpec):
        raise UserError(f"metric '{name}' must be a MetricSpec, got {type(target).__name__}")
    if target.name != name:
        raise UserError(f"metric registered as '{name}' but its spec is named '{target.name}'")
    statistics = target.statistics
    if not statistics or isinstance(statistics, str) or not all(isinstance(s, str) and s for s in statistics):
        raise UserError(f"metric '{name}' must name its statistics as a tuple of strings (got {statistics!r})")
    if len(set(statistics)) != len(statistics):
        raise UserError(f"metric '{name}' names a statistic twice: {list(statistics)}")
    if FRAMES in statistics:
        raise UserError(f"metric '{name}' declares the statistic '{FRAMES}', which the evaluator supplies to every "
                        "metric (each sequence's scored frame count): read it in pool, do not compute it")
    if N_CONDITIONS in statistics:
        raise UserError(f"metric '{name}' declares the statistic '{N_CONDITIONS}', the accumulator's own count of "
                        "scored conditions: rename it")
    if not callable(target.compute) or not callable(target.pool):
        raise UserError(f"metric '{name}': compute and pool must be callable")
    if target.table not in TABLES:
        raise UserError(f"metric '{name}': table '{target.table}' is not one of {', '.join(TABLES)}")
    return target


def check_statistics(specs: list["MetricSpec"]) -> list["MetricSpec"]:
    """Across specs: each statistic name belongs to one compute function (UserError naming both specs)."""
    owner: dict[str, MetricSpec] = {}
    for spec in specs:
        for statistic in spec.statistics:
            first = owner.setdefault(statistic, spec)
            if first.compute is not spec.compute:
                raise UserError(f"metric '{spec.name}' declares the statistic '{statistic}', which metric "
                                f"'{first.name}' already computes: statistic names are shared only by specs "
                                "with the same compute function; rename it")
    return specs


def compute_statistics(specs: list["MetricSpec"], view: "SequenceView") -> dict:
    """Every statistic of ``specs`` for one sequence, plus :data:`FRAMES`; each distinct compute runs
    once and must return exactly its spec's declared statistics (UserError naming the spec)."""
    stats: dict = {FRAMES: view.n_frames}
    done: set[int] = set()
    for spec in specs:
        if id(spec.compute) in done:
            continue
        done.add(id(spec.compute))
        values = spec.compute(view)
        if not isinstance(values, Mapping) or set(values) != set(spec.statistics):
            got = sorted(values) if isinstance(values, Mapping) else type(values).__name__
            raise UserError(f"metric '{spec.name}': compute returned {got}, but the spec declares the "
                            f"statistics {sorted(spec.statistics)} (they must be equal)")
        stats.update(values)
    return stats


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
        return None if self.phones is None else frame_classes(self.phones, self.n_frames, self.context.fps)
