"""compare: predict with each model (reusing stored predictions), evaluate all, write the leaderboard."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ..cache import Cache
from ..common import lock
from ..common.atomic import write_text_atomic
from ..common.errors import UserError
from ..models.base import model_entry
from ..predict.split import predict_split, prediction_provenance, require_weights, split_refs
from ..predict.store import PredictionReader
from .leaderboard import leaderboard_rows, write_leaderboard
from .plots import plot_lip_opening, write_score_plots
from .scores import evaluate
from .seeds import combine_seed_scores, seed_diversity

logger = logging.getLogger(__name__)


REUSED_KEYS = ("model", "run", "checkpoint_sha256", "weights", "cache_fingerprint", "split", "options")


def reuse_problem(target: Path, wanted: dict, cache: Cache, split: str) -> str | None:
    """Why stored predictions cannot stand for what would be made now (None: they can)."""
    try:
        with PredictionReader(target) as reader:
            attrs, keys = reader.attrs, set(reader.keys())
    except (UserError, OSError) as exc:
        return f"unreadable: {exc}"
    if attrs.get("complete") is not True:
        return "incomplete, or written before predictions recorded their provenance"
    stored = attrs.get("meta", {})
    differing = [k for k in REUSED_KEYS if stored.get(k) != wanted.get(k)]
    if differing:
        return "made from a different " + ", ".join(differing)
    missing = [r.key for r in cache.sequences(split) if (r.subject, r.sentence) not in keys]
    return f"{len(missing)} sequences of split '{split}' missing" if missing else None


def predictions_for(name: str, cache: Cache, split: str, out_dir: Path, run_dir: Path | None, force: bool,
                    checkpoint: str | None = None, options: dict | None = None) -> Path:
    """``out_dir/<name>/predictions.h5``: reused only when complete and made from the same run,
    weight files, cache, split and options (a stochastic model's seed included), unless ``force``;
    otherwise predicted again."""
    target = out_dir / name / "predictions.h5"
    require_weights(name, run_dir, checkpoint, run_option=f"--run {name}=RUN_DIR or --checkpoint {name}=FILE")
    options = model_entry(name).prediction_options(options or {})
    if target.exists() and not force:
        wanted = prediction_provenance(name, cache, split, run_dir=run_dir, checkpoint=checkpoint, options=options)
        problem = reuse_problem(target, wanted, cache, split)
        if problem is None:
            logger.info("[compare] reusing %s (same run, weights, cache, split and options)", target)
            return target
        logger.info("[compare] not reusing %s: %s; predicting again", target, problem)
    return predict_split(name, cache, split, target, run_dir=run_dir, checkpoint=checkpoint, options=options)[0]


def checkpoint_options(models: list[str], checkpoints: dict[str, list[str]], runs: dict) -> dict[str, dict]:
    """``--checkpoint NAME=P1[,P2]`` per model -> that model's weight-file options; a NAME that is
    not compared, or that also has a ``--run``, is a UserError."""
    out = {}
    for name, paths in checkpoints.items():
        if name not in models:
            raise UserError(f"--checkpoint {name}=... names a model that is not in --models ({', '.join(models)})")
        if name in runs:
            raise UserError(f"model '{name}' has both --run and --checkpoint: give one")
        out[name] = model_entry(name).checkpoint_options(list(paths))
    return out


def seeded_predictions_for(name: str, cache: Cache, split: str, out_dir: Path, run_dir: Path | None, force: bool,
                           seed: int, checkpoint=None, options: dict | None = None) -> Path:
    """``out_dir/<name>/seed-<seed>/predictions.h5`` of a stochastic model: reused only when complete
    and made from the same run, weights, cache, split and options, the seed included."""
    options = model_entry(name).prediction_options({**(options or {}), "seed": int(seed)})
    target = out_dir / name / f"seed-{seed}" / "predictions.h5"
    require_weights(name, run_dir, checkpoint, run_option=f"--run {name}=RUN_DIR or --checkpoint {name}=FILE")
    if target.exists() and not force:
        wanted = prediction_provenance(name, cache, split, run_dir=run_dir, checkpoint=checkpoint, options=options)
        problem = reuse_problem(target, wanted, cache, split)
        if problem is None:
            logger.info("[compare] reusing %s (same run, weights, cache, split and seed)", target)
            return target
        logger.info("[compare] not reusing %s: %s; predicting again", target, problem)
    target.parent.mkdir(parents=True, exist_ok=True)
    return predict_split(name, cache, split, target, run_dir=run_dir, checkpoint=checkpoint, options=options)[0]


def seeded_scores(name: str, cache: Cache, cache_path, split: str, out_dir: Path, run_dir: Path | None, force: bool,
                  seeds: list[int], lrp_threshold: float | None = None, checkpoint=None,
                  options: dict | None = None) -> tuple[dict, Path]:
    """Predict and score a stochastic model once per seed (``<name>/seed-<s>/scores.json``); returns
    the seed-combined scores (written to ``<name>/scores.json``, see :mod:`.seeds`) and the first
    seed's predictions (for the lip-opening plot)."""
    paths, per_seed = [], []
    for seed in seeds:
        path = seeded_predictions_for(name, cache, split, out_dir, run_dir, force, seed, checkpoint, options)
        paths.append(path)
        per_seed.append(evaluate(path, cache_path, split, lrp_threshold=lrp_threshold,
                                 out=path.parent / "scores.json", model=name))
    diversity = seed_diversity(paths, cache.sequences(split)) if len(paths) > 1 else {"value": None, "n_seeds": len(paths)}
    combined = combine_seed_scores(per_seed, list(seeds), diversity, [str(p.parent / "scores.json") for p in paths])
    write_text_atomic(out_dir / name / "scores.json", json.dumps(combined, indent=1))
    return combined, paths[0]


def run_compare(models: list[str], cache_path: str | os.PathLike, split: str, out_dir: str | os.PathLike,
                runs: dict[str, str | Path] | None = None, force: bool = False, lrp_threshold: float | None = None,
                checkpoints: dict[str, list[str]] | None = None, seeds: list[int] | None = None) -> Path:
    """Predict + evaluate every model; write leaderboard.csv/.md (with the phonetic table) and plots.
    ``checkpoints`` maps a model to its weight files (e.g. official releases) instead of a run;
    ``seeds``: stochastic models predict once per seed (deterministic ones once).  Returns the CSV path."""
    out_dir = Path(out_dir)
    runs = dict(runs or {})
    models = list(dict.fromkeys(models))  # each model once, in the order given
    scores, prediction_paths = [], {}
    with Cache(cache_path) as cache:  # before the lock creates the output folder
        split_refs(cache, split)
        for name in models:
            model_entry(name)
        weights = checkpoint_options(models, checkpoints or {}, runs)
        if seeds and not any(model_entry(name).stochastic for name in models):
            raise UserError(f"--seeds applies to stochastic models (e.g. facediffuser); none of {', '.join(models)} is: "
                            "drop --seeds")
    with lock.exclusive(out_dir, folder=True, what="compare output folder"), Cache(cache_path) as cache:
        for name in models:
            run_dir = runs.get(name)
            options = dict(weights.get(name, {}))
            checkpoint = options.pop("checkpoint", None)
            if run_dir is None and checkpoint is None and model_entry(name).trainable and (Path("runs") / name).is_dir():
                run_dir = Path("runs") / name
                logger.info("[compare] %s: using the run folder %s (pass --run %s=DIR for another)", name, run_dir, name)
            if seeds and model_entry(name).stochastic:
                combined, prediction_paths[name] = seeded_scores(name, cache, cache_path, split, out_dir,
                                                                 Path(run_dir) if run_dir else None, force, seeds,
                                                                 lrp_threshold, checkpoint=checkpoint, options=options)
                scores.append(combined)
                continue
            prediction_path = prediction_paths[name] = predictions_for(
                name, cache, split, out_dir, Path(run_dir) if run_dir else None, force, checkpoint=checkpoint,
                options=options)
            scores.append(evaluate(prediction_path, cache_path, split, lrp_threshold=lrp_threshold,
                                   out=out_dir / name / "scores.json", model=name))
        csv_path, _ = write_leaderboard(scores, out_dir, phonetic=True)
        plots = out_dir / "plots"
        write_score_plots(scores, plots, phonetic=True)
        readers = {name: PredictionReader(prediction_paths[name]) for name in models}
        try:
            order = [row["model"] for row in leaderboard_rows(scores)]
            plot_lip_opening(cache, readers, plots / "lip_opening.png", split, order=order)
        finally:
            for reader in readers.values():
                reader.close()
    return csv_path
