"""An accumulator fed one sequence at a time; it keeps only per-sequence sufficient statistics
of every registered metric (see :mod:`histalk_bench.metrics`)."""

from __future__ import annotations

import numpy as np

from . import all_specs
from .spec import FRAMES, N_CONDITIONS, EvalContext, SequenceView, compute_statistics


def pooled(stats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every registered metric whose statistics are all present, from arrays of per-sequence
    statistics (scalars (S,) or (B, S); curves (S, L) or (B, S, L)); NaN = absent."""
    return {spec.name: spec.pool(stats) for spec in all_specs() if all(k in stats for k in spec.statistics)}


def as_reported(value) -> float | None:
    """A pooled value for scores.json: a float, or None when absent (NaN)."""
    value = float(value)
    return None if np.isnan(value) else value


class MetricAccumulator:
    """``update(subject, sentence, {condition: pred}, gt, template, phones)`` per sequence, then ``compute()``.

    Predictions made under several conditions (training-speaker styles) are scored per condition
    and their statistics averaged, so each test sequence counts once.  ``mouth``: the cache's
    :class:`~histalk_bench.metrics.mouth.MouthPoints` (None: the mouth-opening metrics are absent);
    ``fps``: the mesh frame rate (phone times -> frames, lags -> ms).
    """

    def __init__(self, lip_ids: np.ndarray, upper_ids: np.ndarray, lrp_threshold: float, fps: float = 30.0,
                 mouth=None):
        self.context = EvalContext(np.asarray(lip_ids, dtype=np.int64), np.asarray(upper_ids, dtype=np.int64),
                                   float(lrp_threshold), float(fps), mouth)
        self.specs = all_specs()
        self.keys: list[tuple[str, str]] = []
        self.rows: list[dict] = []

    @property
    def lrp_threshold(self) -> float:
        return self.context.lrp_threshold

    def statistics(self, pred: np.ndarray, gt: np.ndarray, template: np.ndarray, phones=None) -> dict:
        """Sufficient statistics of every registered metric for one prediction (and ``frames``)."""
        return compute_statistics(self.specs, SequenceView(pred, gt, template, self.context, phones))

    def update(self, subject: str, sentence: str, predictions: dict, gt: np.ndarray, template: np.ndarray,
               phones: list | None = None) -> dict:
        per_condition = [self.statistics(p, gt, template, phones) for p in predictions.values()]
        row = {key: np.mean([np.asarray(s[key], dtype=np.float64) for s in per_condition], axis=0)
               for key in per_condition[0]}
        row[N_CONDITIONS] = len(per_condition)
        self.keys.append((subject, sentence))
        self.rows.append(row)
        return row

    def arrays(self, mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
        keys = [k for k in self.rows[0] if k != N_CONDITIONS] if self.rows else []
        out = {key: np.asarray([row[key] for row in self.rows], dtype=np.float64) for key in keys}
        return out if mask is None else {k: v[mask] for k, v in out.items()}

    def compute(self) -> dict[str, float]:
        """Pooled values (NaN where absent)."""
        if not self.rows:
            raise ValueError("no sequences were scored")
        return {k: float(v) for k, v in pooled(self.arrays()).items()}

    def per_sequence(self) -> list[dict]:
        out = []
        for (subject, sentence), row in zip(self.keys, self.rows):
            single = pooled({k: np.asarray(v)[None] for k, v in row.items() if k != N_CONDITIONS})
            out.append({"subject": subject, "sentence": sentence, FRAMES: int(row[FRAMES]),
                        N_CONDITIONS: int(row[N_CONDITIONS]), **{k: as_reported(v) for k, v in single.items()}})
        return out

    def per_subject(self) -> dict[str, dict[str, float | None]]:
        subjects = np.asarray([s for s, _ in self.keys])
        return {subject: {k: as_reported(v) for k, v in pooled(self.arrays(subjects == subject)).items()}
                for subject in sorted(set(subjects.tolist()))}
