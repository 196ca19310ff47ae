"""Scores of a stochastic model predicted with several seeds (``compare --seeds 1,2,3``).

- :func:`seed_diversity`: the mean pairwise distance between seeds' predictions: per sequence and
  condition, the mean over seed pairs of the per-vertex Euclidean distance averaged over frames and
  vertices (data units); conditions averaged per sequence, then sequences averaged (FaceDiffuser's
  diversity, taken between seeds instead of between speaker conditions).
- :func:`combine_seed_scores`: one scores dict for the leaderboard: per-sequence statistics averaged
  over seeds (as :class:`~histalk_bench.metrics.accumulate.MetricAccumulator` averages speaker
  conditions), so the pooled values are the seed-averaged scores and the bootstrap interval
  resamples sequences of the seed-averaged statistics; plus ``seeds``: each seed's values, their
  mean, standard deviation (ddof 1), min and max, and the diversity.
- :func:`seed_lines`: the leaderboard's Markdown section on seeds.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from ..metrics import all_specs
from ..metrics.accumulate import as_reported, pooled
from ..metrics.bootstrap import confidence_intervals
from ..predict.store import PredictionReader
from .table import display_factor, scale_notation


def seed_diversity(prediction_paths: list[Path], refs) -> dict:
    """Mean pairwise distance between the predictions of different seeds (see the module docstring)."""
    readers = [PredictionReader(path) for path in prediction_paths]
    try:
        per_sequence = []
        for ref in refs:
            conditions = readers[0].conditions(ref.subject, ref.sentence)
            values = []
            for condition in conditions:
                runs = [reader.vertices(ref.subject, ref.sentence, condition).astype(np.float64) for reader in readers]
                pairs = [np.linalg.norm(a - b, axis=-1).mean() for a, b in itertools.combinations(runs, 2)
                         if a.shape == b.shape]
                if pairs:
                    values.append(float(np.mean(pairs)))
            if values:
                per_sequence.append(float(np.mean(values)))
    finally:
        for reader in readers:
            reader.close()
    return {"value": float(np.mean(per_sequence)) if per_sequence else None, "n_sequences": len(per_sequence),
            "n_seeds": len(prediction_paths), "units": "data units (VOCASET: metres)",
            "definition": "mean over sequences (conditions averaged) of the mean over seed pairs of the per-vertex "
                          "L2 distance averaged over frames and vertices"}


def _averaged_statistics(seed_scores: list[dict]) -> dict[str, np.ndarray]:
    keys = [k for k in seed_scores[0]["statistics"] if all(k in s["statistics"] for s in seed_scores)]
    return {k: np.mean([np.asarray(s["statistics"][k], dtype=np.float64) for s in seed_scores], axis=0) for k in keys}


def _per_sequence(first: dict, stats: dict[str, np.ndarray]) -> list[dict]:
    rows = []
    for i, row in enumerate(first["per_sequence"]):
        single = pooled({k: v[i:i + 1] for k, v in stats.items()})
        rows.append({"subject": row["subject"], "sentence": row["sentence"], "frames": row["frames"],
                     "n_conditions": row.get("n_conditions"), **{k: as_reported(v) for k, v in single.items()}})
    return rows


def _per_subject(first: dict, stats: dict[str, np.ndarray]) -> dict:
    subjects = np.asarray([row["subject"] for row in first["per_sequence"]])
    return {subject: {k: as_reported(v) for k, v in pooled({k: v[subjects == subject] for k, v in stats.items()}).items()}
            for subject in sorted(set(subjects.tolist()))}


def combine_seed_scores(seed_scores: list[dict], seeds: list[int], diversity: dict,
                        sources: list[str] | None = None) -> dict:
    """One scores dict standing for a stochastic model over ``seeds`` (see the module docstring)."""
    if len(seed_scores) != len(seeds) or not seed_scores:
        raise ValueError("one scores dict per seed is needed")
    first = seed_scores[0]
    keys = [[(r["subject"], r["sentence"]) for r in s["per_sequence"]] for s in seed_scores]
    if any(k != keys[0] for k in keys):
        raise ValueError("the seeds' scores cover different sequences")
    stats = _averaged_statistics(seed_scores)
    metrics = {k: as_reported(v) for k, v in pooled(stats).items()}
    per_seed = {name: [s["metrics"].get(name) for s in seed_scores] for name in first["metrics"]}

    def summary(function):
        out = {}
        for name, values in per_seed.items():
            defined = [v for v in values if v is not None]
            out[name] = as_reported(function(np.asarray(defined))) if defined else None
        return out

    combined = dict(first)
    combined.update({
        "metrics": metrics,
        "ci95": confidence_intervals(stats, seed=first.get("options", {}).get("bootstrap_seed", 0)),
        "display": {**first.get("display", {}),
                    "values": {k: None if v is None else v * first["display_scale"][k] for k, v in metrics.items()}},
        "per_sequence": _per_sequence(first, stats),
        "per_subject": _per_subject(first, stats),
        "statistics": {k: v.tolist() for k, v in stats.items()},
        "seeds": {"seeds": list(seeds), "per_seed": per_seed, "mean": summary(np.mean),
                  "sd": summary(lambda v: np.std(v, ddof=1) if len(v) > 1 else np.nan),
                  "min": summary(np.min), "max": summary(np.max), "diversity": diversity,
                  "scores": list(sources or []),
                  "note": "metrics: per-sequence statistics averaged over seeds, then pooled; ci95: bootstrap over "
                          "sequences of those averaged statistics; sd: standard deviation of the seeds' scores (ddof 1)"},
    })
    return combined


def seed_lines(scores: list[dict]) -> list[str]:
    """'## Seeds' Markdown: per stochastic model and core metric, mean ± sd over seeds [min, max]
    beside the bootstrap half-interval, and the diversity; [] when no model was run with several seeds."""
    seeded = [s for s in scores if s.get("seeds")]
    if not seeded:
        return []
    specs = all_specs("core")
    factors = {metric.name: display_factor(scores, metric) for metric in specs}
    header = (["model", "seeds"] + [f"{metric.title}{scale_notation(factors[metric.name])}" for metric in specs]
              + ["diversity"])
    lines = ["## Seeds (stochastic models)", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for s in seeded:
        info = s["seeds"]
        cells = [s["model"], ",".join(map(str, info["seeds"]))]
        for metric in specs:
            name, k = metric.name, factors[metric.name]
            mean, sd, low, high = (info[key].get(name) for key in ("mean", "sd", "min", "max"))
            if mean is None:
                cells.append("absent")
                continue
            text = f"{mean * k:.4f}" + ("" if sd is None else f" ± {sd * k:.4f} sd") + f" [{low * k:.4f}, {high * k:.4f}]"
            ci = s["ci95"].get(name)
            if ci:
                text += f"; bootstrap ± {(ci[1] - ci[0]) / 2 * k:.4f}"
            cells.append(text)
        diversity = info.get("diversity", {}).get("value")
        cells.append("absent" if diversity is None else f"{diversity:.4e}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Per metric: mean ± standard deviation over seeds [lowest, highest seed], then the half-width of the "
              "95% bootstrap interval (sequences resampled) of the seed-averaged score shown in the main table. "
              "Diversity: mean pairwise distance between the seeds' predictions (per-vertex L2 averaged over frames "
              "and vertices, data units)."]
    return lines
