"""Predictions + cache -> scores.json: one evaluator for our models and other repositories' outputs."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np

from .. import __version__
from ..cache import Cache
from ..common.errors import UserError
from ..metrics.accumulate import MetricAccumulator
from ..metrics.bootstrap import confidence_intervals
from ..metrics.functional import ALL, LRP_THRESHOLD, display_scale
from ..predict.sources import open_predictions

REGION_HELP = {
    "biwi": "get CodeTalker's BIWI/regions/lve.txt and fdd.txt and re-run 'histalk-bench prepare biwi ... "
            "--regions DIR --regions-preset codetalker-biwi'",
    "vocaset": "get FLAME_masks.pkl (FLAME website) or FaceDiffuser's data/vocaset/regions/lve.txt and fdd.txt and "
               "re-run 'histalk-bench prepare vocaset ... --regions PATH' (presets: flame-masks, facediffuser-vocaset)",
}


def _git_commit() -> str | None:
    """The package checkout's commit (None outside a git checkout)."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def required_regions(cache: Cache) -> tuple[np.ndarray, np.ndarray]:
    regions = cache.regions()
    missing = [name for name in ("lip", "upper_face") if name not in regions]
    if missing:
        raise UserError(f"the cache has no {' and '.join(missing)} region, so LVE/FDD cannot be computed: "
                        + REGION_HELP.get(cache.dataset, "re-run prepare with --regions PATH"), cache.path)
    for name in ("lip", "upper_face"):
        ids = regions[name]
        if ids.size == 0 or ids.min() < 0 or ids.max() >= cache.n_vertices:
            raise UserError(f"region '{name}' has ids out of range [0, {cache.n_vertices}) (min {ids.min() if ids.size else '-'}, "
                            f"max {ids.max() if ids.size else '-'}): the region file does not match this mesh", cache.path)
    return regions["lip"], regions["upper_face"]


def evaluate(pred: str | os.PathLike, data: str | os.PathLike, split: str, *, allow_missing: bool = False,
             lrp_threshold: float | None = None, seed: int = 0, out: str | os.PathLike | None = None,
             model: str | None = None) -> dict:
    """Score predictions against the cache's ``split``; returns (and optionally writes) the scores dict."""
    with Cache(data) as cache:
        refs = cache.sequences(split)
        if not refs:
            raise UserError(f"no sequences in split '{split}'", data)
        lip_ids, upper_ids = required_regions(cache)
        threshold = float(lrp_threshold if lrp_threshold is not None else LRP_THRESHOLD.get(cache.dataset, 1e-3))
        source = open_predictions(pred, [(r.subject, r.sentence) for r in cache.sequences()], cache.dataset)
        try:
            missing = [r.key for r in refs if not source.has(r.subject, r.sentence)]
            if missing and not allow_missing:
                raise UserError(f"{len(missing)} of {len(refs)} sequences have no prediction: "
                                f"{', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''} (use --allow-missing to score the rest)", pred)
            if len(missing) == len(refs):
                raise UserError("no prediction matches any sequence of the split", pred)
            accumulator = MetricAccumulator(lip_ids, upper_ids, threshold)
            for ref in refs:
                if not source.has(ref.subject, ref.sentence):
                    continue
                predictions = source.get(ref.subject, ref.sentence, cache.n_vertices)
                accumulator.update(ref.subject, ref.sentence, predictions, cache.vertices(ref.subject, ref.sentence),
                                   cache.template(ref.subject))
            name = model or source.name
        finally:
            source.close()
        values = accumulator.compute()
        scores = {
            "model": name,
            "dataset": cache.dataset,
            "split": split,
            "n_sequences": len(accumulator.rows),
            "n_frames": int(sum(r["frames"] for r in accumulator.rows)),
            "missing_sequences": missing,
            "unmatched_files": getattr(source, "unmatched", []),
            "metrics": values,
            "ci95": confidence_intervals(accumulator.arrays(), seed=seed),
            "display_scale": display_scale(cache.dataset),
            "display": {"scale": display_scale(cache.dataset),
                        "values": {k: v * display_scale(cache.dataset)[k] for k, v in values.items()},
                        "note": "papers print value * scale (e.g. LVE x1e-5 on VOCASET); 'metrics' holds raw values"},
            "higher_is_better": {k: m.higher_is_better for k, m in ALL.items()},
            "metric_versions": {k: m.version for k, m in ALL.items()},
            "lrp": {"threshold": threshold, "threshold_units": "data units (VOCASET: metres)",
                    "definition": ALL["lrp"].description,
                    "note": "NOT comparable with published LRP (SelfTalk/HiSTalk): their definition is unpublished"},
            "regions": cache.region_info(),
            "per_subject": accumulator.per_subject(),
            "per_sequence": accumulator.per_sequence(),
            "statistics": {k: v.tolist() for k, v in accumulator.arrays().items()},
            "package_version": __version__,
            "git_commit": _git_commit(),
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "options": {"pred": str(pred), "data": str(data), "split": split, "allow_missing": allow_missing,
                        "lrp_threshold": threshold, "bootstrap_seed": seed},
        }
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        temporary = out.with_name(out.name + ".tmp")
        temporary.write_text(json.dumps(scores, indent=1))
        os.replace(temporary, out)
    return scores
