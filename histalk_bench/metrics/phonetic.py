"""Phonetic metrics: LVE per viseme class and the bilabial closure rate (need the phone tier).

Both are *absent* (pooled to NaN, reported as null) when no scored sequence has a phone tier,
and a class with no frames is absent, never 0.
"""

from __future__ import annotations

import numpy as np

from .lipsync import MAX_LAG_S
from .spec import MetricSpec, SequenceView, ratio
from .visemes import ARPABET_CLASSES, CLASSES, VISEME_VERSION, label_classes, phone_frames

# A bilabial phone counts as closed when the predicted opening comes within this fraction of the
# ground truth's opening range (max - min over the sequence) of the ground truth's minimum
# opening during that phone.
CLOSURE_TOLERANCE = 0.2
_BILABIAL = CLASSES.index("bilabial")


def _viseme_stats(cls: str):
    index = CLASSES.index(cls)

    def compute(view: SequenceView) -> dict:
        classes = view.frame_classes
        if classes is None:
            return {f"frames_{cls}": 0, f"lve_sum_{cls}": 0.0}
        inside = classes[: view.n_frames] == index
        return {f"frames_{cls}": int(inside.sum()), f"lve_sum_{cls}": float(view.lip_max[inside].sum())}

    return compute


def viseme_lve_spec(cls: str, order: int) -> MetricSpec:
    """LVE pooled over the frames inside phones of viseme class ``cls``."""
    frames, total = f"frames_{cls}", f"lve_sum_{cls}"
    return MetricSpec(
        name=f"lve_{cls}", version=VISEME_VERSION, higher_is_better=False, units="squared data units",
        title=f"LVE {cls}",
        description=f"LVE (max lip-vertex squared error per frame) pooled over the frames inside {cls} phones "
                    "(viseme table: docs/metrics.md)",
        statistics=(frames, total), compute=_viseme_stats(cls),
        pool=lambda s: ratio(s[total].sum(axis=-1), s[frames].sum(axis=-1)),
        table="phonetic", order=order, scale_like="lve")


LVE_BILABIAL, LVE_LABIODENTAL, LVE_ROUNDED, LVE_OPEN, LVE_OTHER = (viseme_lve_spec(cls, 200 + i) for i, cls in enumerate(CLASSES))


def closure_counts(phones: list, pred_open: np.ndarray, gt_open: np.ndarray, fps: float) -> tuple[int, int]:
    """(bilabial phones with at least one frame, those during which the prediction closed)."""
    n = min(len(pred_open), len(gt_open))
    tolerance = CLOSURE_TOLERANCE * float(gt_open[:n].max() - gt_open[:n].min())
    classes = label_classes([label for _, _, label in phones])
    total = hits = 0
    for (start, end, _), cls in zip(phones, classes):
        if cls != _BILABIAL:
            continue
        frames = phone_frames(start, end, n, fps)
        if frames.size == 0:
            continue
        total += 1
        hits += bool(pred_open[frames].min() <= gt_open[frames].min() + tolerance)
    return total, hits


def _closure_stats(view: SequenceView) -> dict:
    if view.phones is None or view.openings is None:
        return {"bilabial_phones": 0, "closure_hits": 0}
    total, hits = closure_counts(view.phones, *view.openings, view.context.fps)
    return {"bilabial_phones": total, "closure_hits": hits}


CLOSURE = MetricSpec(
    name="closure_rate", version="1.0", higher_is_better=True, units="percent of p/b/m phones",
    title="bilabial closure (%)",
    description="percentage of p/b/m phones during which the predicted mouth opening comes within "
                f"{CLOSURE_TOLERANCE:g} x the ground truth's opening range (over the sequence) of the ground "
                "truth's minimum opening during the phone",
    statistics=("bilabial_phones", "closure_hits"), compute=_closure_stats,
    pool=lambda s: 100.0 * ratio(s["closure_hits"].sum(axis=-1), s["bilabial_phones"].sum(axis=-1)),
    table="phonetic", order=300)


def phonetic_parameters() -> dict:
    """How the phonetic metrics are computed (recorded in scores.json): viseme classes and version,
    the closure tolerance and the largest lip-sync lag."""
    return {"viseme_classes": {**{k: list(v) for k, v in ARPABET_CLASSES.items()}, "other": "every other phone"},
            "viseme_version": VISEME_VERSION, "closure_tolerance": CLOSURE_TOLERANCE,
            "max_lag_ms": MAX_LAG_S * 1000.0}
