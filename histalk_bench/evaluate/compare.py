"""compare: predict with each model (reusing stored predictions), evaluate all, write the leaderboard."""

from __future__ import annotations

import difflib
import logging
import os
from pathlib import Path
from typing import Callable

from ..cache import Cache
from ..common import lock
from ..common.errors import UserError
from ..models.base import model_entry
from ..models.provenance import training_cache
from ..predict.split import predict_split, prediction_provenance, require_weights, split_refs
from ..predict.store import PredictionReader
from .leaderboard import leaderboard_rows, write_leaderboard
from .plots import plot_lip_opening, write_score_plots
from .scores import evaluate

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
    options = model_entry(name).prediction_options(options or {}, run_dir, checkpoint,
                                                   {"run_dir": f"--run {name}=...", "checkpoint": f"--checkpoint {name}=..."})
    require_weights(name, run_dir, checkpoint, run_option=f"--run {name}=RUN_DIR or --checkpoint {name}=FILE")
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


def parse_run_options(items, models: list[str]) -> dict[str, Path]:
    """``--run NAME=RUN_DIR`` items -> {name: folder}; every NAME among ``models`` (a run for a model
    not compared would be ignored), each at most once."""
    runs: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UserError(f"--run expects NAME=RUN_DIR, got '{item}'")
        if name not in models:
            close = difflib.get_close_matches(name, models, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UserError(f"--run {item}: '{name}' is not one of the compared models ({', '.join(models)}){hint}")
        if name in runs:
            raise UserError(f"--run {name}=... is given twice")
        runs[name] = Path(path)
    return runs


def resolve_runs(models: list[str], runs: dict[str, str | Path] | None = None, without=()) -> dict[str, Path]:
    """Each model's run folder: the one given, else runs/NAME for a trainable model when present
    (not for the models ``without``, e.g. those given weight files by --checkpoint)."""
    resolved = {name: Path(path) for name, path in (runs or {}).items()}
    for name in models:
        if name not in resolved and name not in without and model_entry(name).trainable and (Path("runs") / name).is_dir():
            resolved[name] = Path("runs") / name
            logger.info("[compare] %s: using the run folder %s (pass --run %s=DIR for another)", name, resolved[name], name)
    return resolved


def recorded_cache(runs: dict[str, Path]) -> str:
    """The cache the runs were trained on (RUN/cache.json), when they agree; else a UserError asking for --data."""
    caches = {name: training_cache(path) for name, path in runs.items()}
    found = {str(Path(c).resolve()) for c in caches.values() if c}
    if len(found) == 1:
        chosen = found.pop()
        logger.info("[compare] cache %s (recorded by the run%s)", chosen, "s" if len(runs) > 1 else "")
        return chosen
    if len(found) > 1:
        raise UserError("the runs were trained on different caches ("
                        + ", ".join(f"{n}: {c}" for n, c in caches.items() if c) + "); pass --data CACHE.h5")
    raise UserError("--data CACHE.h5 is required (no run folder of the compared models records the cache it was "
                    "trained on)")


def run_compare(models: list[str], cache_path: str | os.PathLike, split: str, out_dir: str | os.PathLike,
                runs: dict[str, str | Path] | None = None, force: bool = False, lrp_threshold: float | None = None,
                checkpoints: dict[str, list[str]] | None = None, finish: Callable | None = None) -> Path:
    """Predict + evaluate every model; write leaderboard.csv/.md (with the phonetic table) and plots.
    ``checkpoints`` maps a model to its weight files (e.g. official releases) instead of a run;
    ``finish(out_dir, cache, scores, {model: predictions.h5}, split)`` runs last, inside the output
    folder's lock (the HTML report: ``report.build.build_report``).  Returns the CSV path."""
    out_dir = Path(out_dir)
    models = list(dict.fromkeys(models))  # each model once, in the order given
    runs = resolve_runs(models, runs, without=checkpoints or {})
    scores = []
    with Cache(cache_path) as cache:  # before the lock creates the output folder
        split_refs(cache, split)
        for name in models:
            model_entry(name)
        weights = checkpoint_options(models, checkpoints or {}, runs)
    with lock.exclusive(out_dir, folder=True, what="compare output folder"), Cache(cache_path) as cache:
        for name in models:
            options = dict(weights.get(name, {}))
            checkpoint = options.pop("checkpoint", None)
            prediction_path = predictions_for(name, cache, split, out_dir, runs.get(name), force,
                                              checkpoint=checkpoint, options=options)
            scores.append(evaluate(prediction_path, cache_path, split, lrp_threshold=lrp_threshold,
                                   out=out_dir / name / "scores.json", model=name))
        csv_path, _ = write_leaderboard(scores, out_dir, phonetic=True)
        plots = out_dir / "plots"
        write_score_plots(scores, plots, phonetic=True)
        readers = {name: PredictionReader(out_dir / name / "predictions.h5") for name in models}
        try:
            order = [row["model"] for row in leaderboard_rows(scores)]
            plot_lip_opening(cache, readers, plots / "lip_opening.png", split, order=order)
        finally:
            for reader in readers.values():
                reader.close()
        if finish is not None:
            finish(out_dir, cache, scores, {name: out_dir / name / "predictions.h5" for name in models}, split)
    return csv_path
