"""Metrics (pure numpy): every metric is one :class:`~.spec.MetricSpec` registered in METRICS.

The accumulator, ``evaluate``, the leaderboard and the plots iterate over this registry.
Add a metric: one file defining a ``MetricSpec`` (its statistics, pooling, version, direction,
units, title, display scale) and one ``METRICS.register`` line below (docs/metrics.md).
"""

from ..registry import Registry
from .spec import check_spec, check_statistics

METRICS = Registry("metric", contract=check_spec)
METRICS.register("lve", "histalk_bench.metrics.core:LVE", help="lip vertex error (max squared, pooled frames)")
METRICS.register("fdd", "histalk_bench.metrics.core:FDD", help="upper-face dynamics deviation (signed)")
METRICS.register("mve", "histalk_bench.metrics.core:MVE", help="mean vertex error (L2)")
METRICS.register("lrp", "histalk_bench.metrics.core:LRP", help="lip readability percentage (geometric reading)")
METRICS.register("lve_bilabial", "histalk_bench.metrics.phonetic:LVE_BILABIAL", help="LVE inside p b m")
METRICS.register("lve_labiodental", "histalk_bench.metrics.phonetic:LVE_LABIODENTAL", help="LVE inside f v")
METRICS.register("lve_rounded", "histalk_bench.metrics.phonetic:LVE_ROUNDED", help="LVE inside uw ow w oy")
METRICS.register("lve_open", "histalk_bench.metrics.phonetic:LVE_OPEN", help="LVE inside aa ae ah ao aw ay")
METRICS.register("lve_other", "histalk_bench.metrics.phonetic:LVE_OTHER", help="LVE inside other phones")
METRICS.register("closure_rate", "histalk_bench.metrics.phonetic:CLOSURE", help="bilabial closure rate")
METRICS.register("lipsync_offset_ms", "histalk_bench.metrics.lipsync:OFFSET", help="lip-sync offset (ms, + = late)")
METRICS.register("lipsync_corr", "histalk_bench.metrics.lipsync:CORRELATION", help="mouth-opening correlation at the offset")
METRICS.register("opening_corr", "histalk_bench.metrics.lipsync:OPENING_CORRELATION", help="mouth-opening correlation at lag 0")


def all_specs(table: str | None = None) -> list:
    """Every registered spec (optionally of one table: 'core' or 'phonetic'), in display order; their
    statistic names checked against each other (:func:`~.spec.check_statistics`)."""
    specs = check_statistics(sorted((METRICS.get(name) for name in METRICS.names()), key=lambda s: (s.order, s.name)))
    return [s for s in specs if table is None or s.table == table]


def core_specs() -> list:
    return all_specs("core")


def primary_spec():
    """The metric that ranks models: the first of the core table (LVE unless a spec orders itself first)."""
    return all_specs("core")[0]


def display_scale(dataset: str) -> dict[str, float]:
    """metric name -> the factor papers print values with on ``dataset``."""
    return {spec.name: spec.scale_for(dataset) for spec in all_specs()}
