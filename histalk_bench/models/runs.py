"""The one way to make a trained run, used by ``train``, the demo and ``ablate``.

:func:`train_run` checks the given options against the model's configuration (one line naming
an option it would not use), locks and checks the run folder (``--resume`` on the same data),
records provenance.json (cache identity, model, every option, code version), trains, and records
RUN/cache.json (the cache ``compare``, ``animate`` and ``predict --audio`` find templates in).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..common.errors import UserError
from .base import model_entry
from .provenance import record_training_cache, training_record, training_run


def train_run(model: str, cache_path: str | os.PathLike, out_dir: str | os.PathLike, options: dict, *,
              given: dict | None = None, labels: dict | None = None) -> Path:
    """Train registered ``model`` on ``cache_path`` into ``out_dir`` with ``options`` (train()'s
    keyword options; ``resume`` continues from RUN/last.pt).  ``given``: the options the user chose
    (default: all of ``options``), refused when the configuration would not use them; ``labels``:
    how each was given (e.g. '--set batch_size'), for the error line.  Returns the run folder."""
    entry = model_entry(model)
    if not entry.trainable:
        raise UserError(f"model '{model}' is not trainable (it predicts from the cache alone)")
    entry.refuse_options("train", options if given is None else given, labels)
    with training_run(out_dir, cache_path, bool(options.get("resume")), training_record(model, options)):
        run_dir = Path(entry.train(cache_path, out_dir, **options))
    record_training_cache(run_dir, cache_path)
    return run_dir
