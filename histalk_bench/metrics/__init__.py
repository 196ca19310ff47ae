"""Metrics (pure numpy): each has name, version, higher_is_better and a per-sequence statistic."""

from ..registry import Registry

METRICS = Registry("metric")
