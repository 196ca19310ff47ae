"""The community metrics LVE, FDD, MVE and LRP as specs (formulas: docs/metrics.md)."""

from __future__ import annotations

import numpy as np

from .functional import upper_face_dynamics
from .spec import MetricSpec, SequenceView, ratio


def _lve_stats(view: SequenceView) -> dict:
    return {"frames": view.n_frames, "lve_sum": float(view.lip_max.sum())}


def _fdd_stats(view: SequenceView) -> dict:
    fdd = upper_face_dynamics(view.gt, view.template, view.upper_ids) - upper_face_dynamics(view.pred, view.template, view.upper_ids)
    return {"fdd": float(fdd)}


def _mve_stats(view: SequenceView) -> dict:
    return {"frames": view.n_frames, "mve_sum": float(np.sqrt(view.squared).sum()), "n_vertices": int(view.pred.shape[1])}


def _lrp_stats(view: SequenceView) -> dict:
    hits = int((np.sqrt(view.lip_max) < view.context.lrp_threshold).sum())
    return {"frames": view.n_frames, "lrp_hits": hits}


LVE = MetricSpec(
    "lve", "1.0", False, "squared data units", "LVE",
    "lip vertex error: per frame, max over lip vertices of the squared L2 error; mean over all frames pooled "
    "across sequences",
    ("frames", "lve_sum"), _lve_stats,
    lambda s: ratio(s["lve_sum"].sum(axis=-1), s["frames"].sum(axis=-1)),
    {}, order=10)

FDD = MetricSpec(
    "fdd", "1.0", False, "squared data units", "FDD (GT - pred, signed)",
    "upper-face dynamics deviation: per sequence, mean over upper-face vertices of std over time (ddof 0) of "
    "||X - template||^2, ground truth minus prediction (signed); mean over sequences",
    ("fdd",), _fdd_stats, lambda s: s["fdd"].mean(axis=-1),
    {}, order=20)

MVE = MetricSpec(
    "mve", "1.0", False, "data units", "MVE",
    "mean vertex error: mean non-squared L2 distance over all vertices and frames, pooled",
    ("frames", "mve_sum", "n_vertices"), _mve_stats,
    lambda s: ratio(s["mve_sum"].sum(axis=-1), (s["frames"] * s["n_vertices"]).sum(axis=-1)),
    {}, order=30)

LRP = MetricSpec(
    "lrp", "0.1-geometric", True, "percent of frames", "LRP (%, geometric)",
    "lip readability percentage (this toolkit's geometric reading, NOT comparable with published LRP): "
    "percentage of frames whose max lip-vertex L2 error (non-squared) is below a threshold",
    ("frames", "lrp_hits"), _lrp_stats,
    lambda s: 100.0 * ratio(s["lrp_hits"].sum(axis=-1), s["frames"].sum(axis=-1)),
    {}, order=40)
