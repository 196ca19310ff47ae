"""The leaderboard's rows and columns, all taken from the metric specs (names, titles, units,
direction, signedness, display scale): shared by the tables (:mod:`.leaderboard`), the plots
(:mod:`.plots`) and the ablation (:mod:`.ablation`)."""

from __future__ import annotations

import math

from ..metrics import METRICS, all_specs, primary_spec
from ..metrics.spec import MetricSpec

MIN_SEQUENCES = 10  # below this, bootstrap intervals are marked unreliable and no p-value is printed
UNRELIABLE = "†"


def metric_order() -> tuple[str, ...]:
    """The main table's columns, read from the registry when needed (metrics registered later count)."""
    return tuple(spec.name for spec in all_specs("core"))


def phonetic_order() -> tuple[str, ...]:
    return tuple(spec.name for spec in all_specs("phonetic"))


def spec(name: str) -> MetricSpec:
    """The registered spec of metric ``name``."""
    return METRICS.get(name)


def scale_notation(scale: float) -> str:
    """' (x1e-5)' when values are shown multiplied by 1e5 (as papers print them), '' for 1;
    the one notation of ``evaluate`` and the leaderboard."""
    return "" if scale == 1 else f" (x1e{-int(round(math.log10(scale)))})"


def display_factor(scores: list[dict], metric: MetricSpec) -> float:
    """The factor ``metric`` is printed with: the one the scores recorded, else the spec's for the dataset."""
    recorded = scores[0].get("display_scale", {})
    return float(recorded[metric.name]) if metric.name in recorded else metric.scale_for(scores[0]["dataset"])


def column_title(metric: MetricSpec, factor: float) -> str:
    """'title (x1e-5) ↓': the spec's title, the display factor's notation and the direction."""
    return f"{metric.title}{scale_notation(factor)} {metric.arrow}"


def better(metric: MetricSpec) -> str:
    """Which values are better, in words: 'closer to 0' (signed), 'higher' or 'lower'."""
    return "closer to 0" if metric.signed else "higher" if metric.higher_is_better else "lower"


def metric_notes(specs) -> list[str]:
    """What a reader must know about the columns, from the specs: signed metrics and their notes."""
    lines = []
    for metric in specs:
        if metric.signed:
            lines.append(f"{metric.title} is signed ({metric.sign}): closer to 0 is better; the arrow follows the "
                         "papers' convention.")
        if metric.note:
            lines.append(metric.note)
    return lines


def interval_reliable(n_sequences: int) -> bool:
    return int(n_sequences) >= MIN_SEQUENCES


def leaderboard_rows(scores: list[dict]) -> list[dict]:
    """One row per model, raw (unscaled) values, best first by the primary metric (the first of the
    core table; a signed one ranks by distance to 0)."""
    rows = []
    phonetic = phonetic_order()
    for s in scores:
        row = {"model": s["model"], "dataset": s["dataset"], "split": s["split"], "n_sequences": s["n_sequences"],
               "ci_reliable": interval_reliable(s["n_sequences"])}
        for metric in metric_order() + phonetic:
            if metric not in s["metrics"] and metric in phonetic:
                continue  # scores written before the phonetic metrics existed
            value, ci = s["metrics"].get(metric), s["ci95"].get(metric)
            row[metric] = float("nan") if value is None else value
            row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = ci if ci else (float("nan"), float("nan"))
        rows.append(row)
    primary = primary_spec()
    return sorted(rows, key=lambda r: primary.rank_key(r.get(primary.name)))
