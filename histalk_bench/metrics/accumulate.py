"""An accumulator fed one sequence at a time; it keeps only per-sequence sufficient statistics."""

from __future__ import annotations

import numpy as np

from .functional import sequence_statistics

STAT_KEYS = ("frames", "lve_sum", "fdd", "mve_sum", "n_vertices", "lrp_hits")


def pooled(stats: dict[str, np.ndarray]) -> dict[str, float]:
    """Metrics from arrays of per-sequence statistics (each (S,) or (B, S) for bootstrap)."""
    frames = stats["frames"].sum(axis=-1)
    return {
        "lve": stats["lve_sum"].sum(axis=-1) / frames,
        "fdd": stats["fdd"].mean(axis=-1),
        "mve": stats["mve_sum"].sum(axis=-1) / (stats["frames"] * stats["n_vertices"]).sum(axis=-1),
        "lrp": 100.0 * stats["lrp_hits"].sum(axis=-1) / frames,
    }


class MetricAccumulator:
    """``update(subject, sentence, {condition: pred}, gt, template)`` per sequence, then ``compute()``.

    Predictions made under several conditions (training-speaker styles) are scored per condition
    and their statistics averaged, so each test sequence counts once.
    """

    def __init__(self, lip_ids: np.ndarray, upper_ids: np.ndarray, lrp_threshold: float):
        self.lip_ids = np.asarray(lip_ids, dtype=np.int64)
        self.upper_ids = np.asarray(upper_ids, dtype=np.int64)
        self.lrp_threshold = float(lrp_threshold)
        self.keys: list[tuple[str, str]] = []
        self.rows: list[dict[str, float]] = []

    def update(self, subject: str, sentence: str, predictions: dict, gt: np.ndarray, template: np.ndarray) -> dict:
        per_condition = [sequence_statistics(p, gt, template, self.lip_ids, self.upper_ids, self.lrp_threshold)
                         for p in predictions.values()]
        row = {key: float(np.mean([s[key] for s in per_condition])) for key in STAT_KEYS}
        row["n_conditions"] = len(per_condition)
        self.keys.append((subject, sentence))
        self.rows.append(row)
        return row

    def arrays(self, mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
        out = {key: np.asarray([row[key] for row in self.rows], dtype=np.float64) for key in STAT_KEYS}
        return out if mask is None else {k: v[mask] for k, v in out.items()}

    def compute(self) -> dict[str, float]:
        if not self.rows:
            raise ValueError("no sequences were scored")
        return {k: float(v) for k, v in pooled(self.arrays()).items()}

    def per_sequence(self) -> list[dict]:
        out = []
        for (subject, sentence), row in zip(self.keys, self.rows):
            single = pooled({k: np.asarray([row[k]]) for k in STAT_KEYS})
            out.append({"subject": subject, "sentence": sentence, "frames": int(row["frames"]),
                        "n_conditions": int(row["n_conditions"]), **{k: float(v) for k, v in single.items()}})
        return out

    def per_subject(self) -> dict[str, dict[str, float]]:
        subjects = np.asarray([s for s, _ in self.keys])
        return {subject: {k: float(v) for k, v in pooled(self.arrays(subjects == subject)).items()}
                for subject in sorted(set(subjects.tolist()))}
