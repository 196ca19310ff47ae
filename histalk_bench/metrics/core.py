"""The community metrics LVE, FDD, MVE and LRP as specs (formulas: docs/metrics.md)."""

from __future__ import annotations

import numpy as np

from .functional import upper_face_dynamics
from .spec import FRAMES, MetricSpec, SequenceView, ratio


def _lve_stats(view: SequenceView) -> dict:
    return {"lve_sum": float(view.lip_max.sum())}


def _fdd_stats(view: SequenceView) -> dict:
    fdd = upper_face_dynamics(view.gt, view.template, view.upper_ids) - upper_face_dynamics(view.pred, view.template, view.upper_ids)
    return {"fdd": float(fdd)}


def _mve_stats(view: SequenceView) -> dict:
    return {"mve_sum": float(np.sqrt(view.squared).sum()), "n_vertices": int(view.pred.shape[1])}


def _lrp_stats(view: SequenceView) -> dict:
    return {"lrp_hits": int((np.sqrt(view.lip_max) < view.context.lrp_threshold).sum())}


LVE = MetricSpec(
    name="lve", version="1.0", higher_is_better=False, units="squared data units", title="LVE",
    description="lip vertex error: per frame, max over lip vertices of the squared L2 error; mean over all "
                "frames pooled across sequences",
    statistics=("lve_sum",), compute=_lve_stats,
    pool=lambda s: ratio(s["lve_sum"].sum(axis=-1), s[FRAMES].sum(axis=-1)),
    order=10)

FDD = MetricSpec(
    name="fdd", version="1.0", higher_is_better=False, units="squared data units", title="FDD (GT - pred)",
    description="upper-face dynamics deviation: per sequence, mean over upper-face vertices of std over time "
                "(ddof 0) of ||X - template||^2, ground truth minus prediction (signed); mean over sequences",
    statistics=("fdd",), compute=_fdd_stats, pool=lambda s: s["fdd"].mean(axis=-1),
    sign="+: upper face stiller than GT, \u2212: livelier", order=20)

MVE = MetricSpec(
    name="mve", version="1.0", higher_is_better=False, units="data units", title="MVE",
    description="mean vertex error: mean non-squared L2 distance over all vertices and frames, pooled",
    statistics=("mve_sum", "n_vertices"), compute=_mve_stats,
    pool=lambda s: ratio(s["mve_sum"].sum(axis=-1), (s[FRAMES] * s["n_vertices"]).sum(axis=-1)),
    order=30)

LRP = MetricSpec(
    name="lrp", version="0.1-geometric", higher_is_better=True, units="percent of frames", title="LRP (%, geometric)",
    description="lip readability percentage (this toolkit's geometric reading, NOT comparable with published "
                "LRP): percentage of frames whose max lip-vertex L2 error (non-squared) is below a threshold",
    statistics=("lrp_hits",), compute=_lrp_stats,
    pool=lambda s: 100.0 * ratio(s["lrp_hits"].sum(axis=-1), s[FRAMES].sum(axis=-1)),
    note="LRP here is this toolkit's geometric reading (frames whose max lip-vertex error is below the "
         "lrp_threshold evaluation option, in data units), not comparable with published LRP numbers.",
    order=40)
