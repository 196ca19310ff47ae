"""Predictions for a split of a cache: the one path used by ``predict`` and ``compare``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from ..cache import Cache, SequenceRef
from ..common.errors import UserError
from ..common.progress import progress_bar
from ..models.base import Predictor, model_entry
from .store import PredictionWriter


def predict_refs(predictor: Predictor, cache: Cache, refs: Iterable[SequenceRef],
                 out: str | os.PathLike, meta: dict | None = None, progress: bool = True) -> Path:
    """Run ``predictor`` over ``refs`` and write a predictions HDF5 atomically."""
    refs = list(refs)
    writer = PredictionWriter(out, model=predictor.name, dataset=cache.dataset, fps=cache.fps,
                              n_vertices=cache.n_vertices, meta=meta)
    with writer:
        for ref in progress_bar(refs, desc=f"predict {predictor.name}", enabled=progress):
            for condition, vertices in predictor.predict(cache, ref).items():
                writer.write(ref.subject, ref.sentence, vertices, condition=condition)
    return Path(out)


def prediction_provenance(model: str, cache: Cache, split: str, *, run_dir=None, checkpoint=None,
                          options: dict | None = None) -> dict:
    """What a predictions file is made from: model, run, every weight file used (path and sha256:
    ``weights``; the first also as ``checkpoint``/``checkpoint_sha256``), cache fingerprint, split and
    options (a stochastic model's seed among them).  ``compare`` reuses a file only when this matches."""
    from ..models.provenance import file_digest

    options = dict(options or {})
    files = model_entry(model).weights_files(run_dir, checkpoint, **options)
    weights = [{"path": str(path.absolute()), "sha256": file_digest(path)} for path in files]
    return {"model": model, "run": str(Path(run_dir).absolute()) if run_dir else None,
            "checkpoint": weights[0]["path"] if weights else None,
            "checkpoint_sha256": weights[0]["sha256"] if weights else None, "weights": weights,
            "cache_fingerprint": cache.provenance()["fingerprint"], "split": split, "options": options}


def require_weights(model: str, run_dir=None, checkpoint=None, run_option: str = "--run RUN_DIR") -> None:
    """A trainable model predicts only from a run or a checkpoint: a UserError saying how to get one."""
    if model_entry(model).trainable and run_dir is None and checkpoint is None:
        raise UserError(f"model '{model}' needs a trained run: pass {run_option} "
                        f"(train one with 'histalk-bench train {model} --data CACHE --out runs/{model}')")


def split_refs(cache, split: str) -> list:
    """The sequences of ``split``; a UserError naming the splits there when it has none."""
    refs = cache.sequences(split)
    if not refs:
        raise UserError(f"no sequences in split '{split}' (splits here: {', '.join(sorted({r.split for r in cache.sequences()}))})",
                        cache.path)
    return refs


def predict_split(model: str, cache: Cache, split: str, out: str | os.PathLike, *, run_dir=None, checkpoint=None,
                  device: str = "auto", options: dict | None = None, progress: bool = True) -> tuple[Path, int]:
    """Predict every sequence of ``split`` with registered model ``model``; returns (path, n sequences)."""
    from ..models.provenance import check_run_fits

    entry = model_entry(model)
    options = entry.prediction_options(options or {}, run_dir, checkpoint)
    require_weights(model, run_dir, checkpoint)
    refs = split_refs(cache, split)
    trained_on = check_run_fits(run_dir, cache) if run_dir is not None else None
    predictor = entry.load_predictor(cache, run_dir=run_dir, checkpoint=checkpoint, device=device, **options)
    meta = {**getattr(predictor, "settings", {}),
            **prediction_provenance(model, cache, split, run_dir=run_dir, checkpoint=checkpoint, options=options),
            "device": device, "run_trained_on": trained_on}
    return predict_refs(predictor, cache, refs, out, meta=meta, progress=progress), len(refs)
