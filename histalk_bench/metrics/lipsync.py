"""Lip-sync offset: the lag maximising the cross-correlation of predicted and ground-truth mouth
opening (positive = the model is late), and the correlation at that lag.

Per sequence, r(k) is the Pearson correlation of gt[t] with pred[t + k] over the frames where
both exist, for |k| <= K = round(:data:`MAX_LAG_S` x fps) (r = 0 when either side is constant).
Pooled over sequences, the curve is the overlap-weighted mean of the r(k); the offset is the lag
of its maximum (ties go to the smaller |k|) in ms (absent when the maximum is not positive, e.g.
for a constant mouth), and ``lipsync_corr`` the curve's value there;
``opening_corr`` is the pooled curve at lag 0.
"""

from __future__ import annotations

import numpy as np

from .spec import MetricSpec, SequenceView, ratio

MAX_LAG_S = 0.4


def max_lag_frames(fps: float) -> int:
    return max(1, int(round(MAX_LAG_S * fps)))


def correlation_curve(pred_open: np.ndarray, gt_open: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """((2K+1,) r(k), (2K+1,) overlap frames) for k = -K..K; r(k) pairs gt[t] with pred[t + k]."""
    n = min(len(pred_open), len(gt_open))
    pred_open, gt_open = np.asarray(pred_open[:n], np.float64), np.asarray(gt_open[:n], np.float64)
    r = np.zeros(2 * max_lag + 1)
    overlap = np.zeros(2 * max_lag + 1)
    for i, k in enumerate(range(-max_lag, max_lag + 1)):
        if n - abs(k) < 3:
            continue
        g = gt_open[max(0, -k) : n - max(0, k)]
        p = pred_open[max(0, k) : n - max(0, -k)]
        overlap[i] = g.size
        g, p = g - g.mean(), p - p.mean()
        denominator = np.sqrt((g * g).sum() * (p * p).sum())
        r[i] = float((g * p).sum() / denominator) if denominator > 1e-15 * g.size else 0.0
    return r, overlap


def _stats(view: SequenceView) -> dict:
    max_lag = max_lag_frames(view.context.fps)
    if view.openings is None:
        zeros = np.zeros(2 * max_lag + 1)
        return {"xcorr_wsum": zeros, "xcorr_n": zeros, "frame_ms": 1000.0 / view.context.fps}
    r, overlap = correlation_curve(*view.openings, max_lag)
    return {"xcorr_wsum": r * overlap, "xcorr_n": overlap, "frame_ms": 1000.0 / view.context.fps}


def pooled_curve(stats: dict) -> np.ndarray:
    """(..., L) overlap-weighted mean correlation per lag (NaN where no sequence overlaps)."""
    return ratio(stats["xcorr_wsum"].sum(axis=-2), stats["xcorr_n"].sum(axis=-2))


def _best(stats: dict) -> tuple[np.ndarray, np.ndarray]:
    """(best lag index offset from the centre, curve value there); NaN when the curve is all NaN."""
    curve = pooled_curve(stats)
    half = curve.shape[-1] // 2
    order = np.argsort(np.abs(np.arange(-half, half + 1)), kind="stable")  # ties -> smaller |lag|
    ranked = np.take(np.where(np.isnan(curve), -np.inf, curve), order, axis=-1)
    best = np.take(order, np.argmax(ranked, axis=-1))
    value = np.take_along_axis(curve, np.expand_dims(best, -1), axis=-1)[..., 0]
    lag = np.where(np.isnan(value), np.nan, best - half)
    return lag, value


def _offset(stats: dict) -> np.ndarray:
    """Best lag in ms; absent (NaN) when no lag correlates positively (e.g. a constant mouth)."""
    lag, value = _best(stats)
    return np.where(value > 0, lag, np.nan) * stats["frame_ms"].mean(axis=-1)


STATISTICS = ("xcorr_wsum", "xcorr_n", "frame_ms")

OFFSET = MetricSpec(
    name="lipsync_offset_ms", version="1.0", higher_is_better=False, units="ms (positive = model late)",
    title="lip-sync offset (ms, + = late)",
    description=f"lag (|lag| <= {MAX_LAG_S * 1000:g} ms) maximising the pooled cross-correlation of predicted "
                "and ground-truth mouth opening; positive = the prediction lags the ground truth; closer to 0 "
                "is better",
    statistics=STATISTICS, compute=_stats, pool=_offset, sign="+: model late, \u2212: model early",
    table="phonetic", order=400)

CORRELATION = MetricSpec(
    name="lipsync_corr", version="1.0", higher_is_better=True, units="Pearson r", title="opening corr. at best lag",
    description="pooled Pearson correlation of predicted and ground-truth mouth opening at the lip-sync offset",
    statistics=STATISTICS, compute=_stats, pool=lambda s: _best(s)[1], table="phonetic", order=410)

OPENING_CORRELATION = MetricSpec(
    name="opening_corr", version="1.0", higher_is_better=True, units="Pearson r", title="opening corr. (lag 0)",
    description="pooled Pearson correlation of predicted and ground-truth mouth opening without shift",
    statistics=STATISTICS, compute=_stats, pool=lambda s: pooled_curve(s)[..., pooled_curve(s).shape[-1] // 2],
    table="phonetic", order=420)
