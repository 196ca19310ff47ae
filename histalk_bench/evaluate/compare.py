"""compare: predict with each model (reusing stored predictions), evaluate all, write the leaderboard."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..cache import Cache
from ..common import lock
from ..common.errors import UserError
from ..models.base import model_entry

logger = logging.getLogger(__name__)


REUSED_KEYS = ("model", "run", "checkpoint_sha256", "weights", "cache_fingerprint", "split", "options")


def reuse_problem(target: Path, wanted: dict, cache: Cache, split: str) -> str | None:
    """Why stored predictions cannot stand for what would be made now (None: they can)."""
    from ..predict.store import PredictionReader

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
    from ..predict.split import prediction_provenance, predict_split, require_weights

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


def run_compare(models: list[str], cache_path: str | os.PathLike, split: str, out_dir: str | os.PathLike,
                runs: dict[str, str | Path] | None = None, force: bool = False, lrp_threshold: float | None = None,
                checkpoints: dict[str, list[str]] | None = None) -> Path:
    """Predict + evaluate every model; write leaderboard.csv/.md (with the phonetic table) and plots.
    ``checkpoints`` maps a model to its weight files (e.g. official releases) instead of a run.
    Returns the CSV path."""
    from .scores import evaluate
    from ..predict.split import split_refs
    from ..predict.store import PredictionReader
    from .leaderboard import leaderboard_rows, write_leaderboard
    from .plots import plot_lip_opening, plot_metric_bars, plot_per_subject_lve, plot_phonetic

    out_dir = Path(out_dir)
    runs = dict(runs or {})
    models = list(dict.fromkeys(models))  # each model once, in the order given
    scores = []
    with Cache(cache_path) as cache:  # before the lock creates the output folder
        split_refs(cache, split)
        for name in models:
            model_entry(name)
        weights = checkpoint_options(models, checkpoints or {}, runs)
    with lock.exclusive(out_dir, folder=True, what="compare output folder"), Cache(cache_path) as cache:
        for name in models:
            run_dir = runs.get(name)
            options = dict(weights.get(name, {}))
            checkpoint = options.pop("checkpoint", None)
            if run_dir is None and checkpoint is None and model_entry(name).trainable and (Path("runs") / name).is_dir():
                run_dir = Path("runs") / name
                logger.info("[compare] %s: using the run folder %s (pass --run %s=DIR for another)", name, run_dir, name)
            prediction_path = predictions_for(name, cache, split, out_dir, Path(run_dir) if run_dir else None, force,
                                              checkpoint=checkpoint, options=options)
            scores.append(evaluate(prediction_path, cache_path, split, lrp_threshold=lrp_threshold,
                                   out=out_dir / name / "scores.json", model=name))
        csv_path, _ = write_leaderboard(scores, out_dir, phonetic=True)
        plots = out_dir / "plots"
        plots.mkdir(exist_ok=True)
        plot_metric_bars(scores, plots / "metrics.png")
        plot_per_subject_lve(scores, plots / "lve_per_subject.png")
        plot_phonetic(scores, plots)
        readers = {name: PredictionReader(out_dir / name / "predictions.h5") for name in models}
        try:
            order = [row["model"] for row in leaderboard_rows(scores)]
            plot_lip_opening(cache, readers, plots / "lip_opening.png", split, order=order)
        finally:
            for reader in readers.values():
                reader.close()
    return csv_path
