"""Predictions + cache -> scores.json: one evaluator for our models and other repositories' outputs."""

from __future__ import annotations

import json
import os
import platform
import time
from importlib import metadata

import numpy as np

from .. import __version__
from ..cache import Cache
from ..common.atomic import write_text_atomic
from ..common.errors import UserError
from ..datasets.base import dataset_facts
from ..metrics import all_specs, display_scale
from ..metrics.accumulate import MetricAccumulator, as_reported
from ..metrics.bootstrap import confidence_intervals
from ..metrics.mouth import mouth_points
from ..metrics.phonetic import phonetic_parameters
from ..common.version import git_commit
from ..metrics.spec import FRAMES
from ..predict.sources import open_predictions


def required_regions(cache: Cache) -> tuple[np.ndarray, np.ndarray]:
    regions = cache.regions()
    missing = [name for name in ("lip", "upper_face") if name not in regions]
    if missing:
        raise UserError(f"the cache has no {' and '.join(missing)} region, so the lip and upper-face metrics cannot be computed: "
                        + dataset_facts(cache.dataset).region_help, cache.path)
    for name in ("lip", "upper_face"):
        ids = regions[name]
        if ids.size == 0 or ids.min() < 0 or ids.max() >= cache.n_vertices:
            raise UserError(f"region '{name}' has ids out of range [0, {cache.n_vertices}) (min {ids.min() if ids.size else '-'}, "
                            f"max {ids.max() if ids.size else '-'}): the region file does not match this mesh", cache.path)
    return regions["lip"], regions["upper_face"]


def _score_sequences(cache: Cache, source, refs, accumulator: MetricAccumulator) -> int:
    """Feed every predicted sequence of ``refs`` to the accumulator; returns how many had phone tiers."""
    with_tiers = 0
    for ref in refs:
        if not source.has(ref.subject, ref.sentence):
            continue
        predictions = source.get(ref.subject, ref.sentence, cache.n_vertices)
        phones = cache.tier(ref.subject, ref.sentence, "phones")
        with_tiers += phones is not None
        accumulator.update(ref.subject, ref.sentence, predictions, ground_truth(cache, ref),
                           cache.template(ref.subject), phones)
    return with_tiers


def _metric_fields(accumulator: MetricAccumulator, dataset: str, seed: int) -> dict:
    """metrics (None = absent), ci95, display scaling, directions and versions of every registered metric."""
    specs = all_specs()
    values = {k: as_reported(v) for k, v in accumulator.compute().items()}
    scale = display_scale(dataset)
    return {
        "metrics": values,
        "ci95": confidence_intervals(accumulator.arrays(), seed=seed),
        "display_scale": scale,
        "display": {"scale": scale, "values": {k: None if v is None else v * scale[k] for k, v in values.items()},
                    "note": "papers print value * scale (the dataset's display scale); 'metrics' holds raw values"},
        "higher_is_better": {s.name: s.higher_is_better for s in specs},
        "metric_versions": {s.name: s.version for s in specs},
        "metric_info": {s.name: {"title": s.title, "units": s.units, "table": s.table, "description": s.description,
                                 "sign": s.sign, "note": s.note} for s in specs},
    }


def _phonetic_fields(mouth, with_tiers: int, n_sequences: int) -> dict:
    """How the phonetic metrics were computed (or why they are absent)."""
    notes = []
    if with_tiers == 0:
        notes.append("no sequence has a phone tier: the metrics that need phone times are absent (prepare with --aligner)")
    if mouth is None:
        notes.append("no mouth points (no lip region): the mouth-opening metrics are absent")
    return {"sequences_with_phones": with_tiers, "n_sequences": n_sequences,
            "mouth_opening": None if mouth is None else mouth.info(),
            **phonetic_parameters(), "notes": notes}


def ground_truth(cache: Cache, ref) -> np.ndarray:
    """(T, V, 3) ground truth, checked as strictly as predictions: shape, finite values, and no
    vertex further from the template than 10x the template's size (corrupted bytes)."""
    where = f"{cache.path} [{ref.key}]"
    truth = cache.vertices(ref.subject, ref.sentence)
    if truth.ndim != 3 or truth.shape[1:] != (cache.n_vertices, 3) or truth.shape[0] != ref.n_frames or not len(truth):
        raise UserError(f"ground truth shaped {tuple(truth.shape)}, expected ({ref.n_frames}, {cache.n_vertices}, 3)", where)
    if not np.all(np.isfinite(truth)):
        raise UserError("ground truth contains NaN or infinite values: the cache is damaged (re-run prepare --force)", where)
    template = cache.template(ref.subject)
    size = float(np.ptp(template, axis=0).max()) or 1.0
    if float(np.abs(truth - template[None]).max()) > 10 * size:
        raise UserError(f"ground truth moves further than 10x the face size ({size:.3g}) from the template: "
                        "the cache is damaged (re-run prepare --force)", where)
    return truth


def run_environment() -> dict:
    """python, numpy and torch versions (torch read from package metadata, not imported)."""
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = None
    return {"python": platform.python_version(), "numpy": np.__version__, "torch": torch_version,
            "histalk_bench": __version__}


def evaluate(pred: str | os.PathLike, data: str | os.PathLike, split: str, *, allow_missing: bool = False,
             lrp_threshold: float | None = None, seed: int = 0, out: str | os.PathLike | None = None,
             model: str | None = None) -> dict:
    """Score predictions against the cache's ``split``; returns (and optionally writes) the scores dict."""
    with Cache(data) as cache:
        refs = cache.sequences(split)
        if not refs:
            raise UserError(f"no sequences in split '{split}'", data)
        lip_ids, upper_ids = required_regions(cache)
        threshold = float(lrp_threshold if lrp_threshold is not None else dataset_facts(cache.dataset).lrp_threshold)
        mouth = mouth_points(cache)
        source = open_predictions(pred, [(r.subject, r.sentence) for r in cache.sequences()], cache.dataset)
        try:
            missing = [r.key for r in refs if not source.has(r.subject, r.sentence)]
            if missing and not allow_missing:
                raise UserError(f"{len(missing)} of {len(refs)} sequences have no prediction: "
                                f"{', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''} ('evaluate --allow-missing' scores the rest)", pred)
            if len(missing) == len(refs):
                raise UserError("no prediction matches any sequence of the split", pred)
            accumulator = MetricAccumulator(lip_ids, upper_ids, threshold, fps=cache.fps, mouth=mouth)
            with_tiers = _score_sequences(cache, source, refs, accumulator)
            name = model or source.name
            made_from = source.reader.attrs.get("meta", {}) if hasattr(source, "reader") else {"folder": str(pred)}
        finally:
            source.close()
        scores = {
            "model": name,
            "dataset": cache.dataset,
            "split": split,
            "n_sequences": len(accumulator.rows),
            "n_frames": int(sum(r[FRAMES] for r in accumulator.rows)),
            "missing_sequences": missing,
            "unmatched_files": getattr(source, "unmatched", []),
            **_metric_fields(accumulator, cache.dataset, seed),
            "phonetic": _phonetic_fields(mouth, with_tiers, len(accumulator.rows)),
            "regions": cache.region_info(),
            "per_subject": accumulator.per_subject(),
            "per_sequence": accumulator.per_sequence(),
            "statistics": {k: v.tolist() for k, v in accumulator.arrays().items()},
            "provenance": {"cache": cache.provenance(), "predictions": made_from, "environment": run_environment()},
            "package_version": __version__,
            "git_commit": git_commit(),
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "options": {"pred": str(pred), "data": str(data), "split": split, "allow_missing": allow_missing,
                        "lrp_threshold": threshold, "bootstrap_seed": seed},
        }
    if out is not None:
        write_text_atomic(out, json.dumps(scores, indent=1))
    return scores
