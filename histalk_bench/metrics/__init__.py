"""Metrics (pure numpy): each has name, version, higher_is_better and a per-sequence statistic.

Add a metric: its statistic in functional.sequence_statistics, its pooling in accumulate.pooled,
its identity (a ``Metric``) registered below.
"""

from ..registry import Registry

METRICS = Registry("metric")
METRICS.register("lve", "histalk_bench.metrics.functional:LVE", help="lip vertex error (max squared, pooled frames)")
METRICS.register("fdd", "histalk_bench.metrics.functional:FDD", help="upper-face dynamics deviation (signed)")
METRICS.register("mve", "histalk_bench.metrics.functional:MVE", help="mean vertex error (L2)")
METRICS.register("lrp", "histalk_bench.metrics.functional:LRP", help="lip readability percentage (geometric reading)")
