"""Run provenance: what cache a run was trained on, and the one check that a run fits a cache.

``RUN/provenance.json`` records the cache fingerprint, dataset, fps, vertex count and training
speakers.  :func:`check_run_fits` is called from one place for prediction (``predict_split``)
and from :func:`training_run` for ``--resume``; runs written before provenance existed are
checked from their ``config.json`` (vertex count, fps, speakers).
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..cache import Cache
from ..common import lock
from ..common.atomic import write_text_atomic
from ..common.errors import UserError
from ..common.version import code_version

PROVENANCE = "provenance.json"
RUN_CACHE_FILE = "cache.json"  # RUN_DIR/cache.json: the cache a run was trained on (for templates, faces)


def cache_identity(cache: Cache) -> dict:
    """What a run or a prediction must agree with: dataset, fps, vertex count, training speakers."""
    return {"dataset": cache.dataset, "fps": cache.fps, "n_vertices": cache.n_vertices,
            "speakers": cache.subjects("train"), "cache": cache.provenance()}


def recorded_identity(run_dir: str | os.PathLike) -> dict | None:
    """The run's provenance.json, or what its config.json tells (older runs); None when neither."""
    run_dir = Path(run_dir)
    if (run_dir / PROVENANCE).is_file():
        return json.loads((run_dir / PROVENANCE).read_text())
    if not (run_dir / "config.json").is_file():
        return None
    task = json.loads((run_dir / "config.json").read_text()).get("task", {})
    config = task.get(task.get("model"), {}) if isinstance(task, dict) else {}
    return {k: config[k] for k in ("fps", "n_vertices", "speakers") if k in config} or None


def check_run_fits(run_dir: str | os.PathLike, cache: Cache, resume: bool = False) -> dict | None:
    """UserError when the run was trained on another dataset, vertex count or fps (and, for
    ``resume``, other training speakers); returns the recorded identity."""
    recorded = recorded_identity(run_dir)
    if recorded is None:
        return None
    now = cache_identity(cache)
    keys = ("dataset", "n_vertices", "fps") + (("speakers",) if resume else ())
    differing = [k for k in keys if k in recorded and _norm(recorded[k]) != _norm(now[k])]
    if differing:
        what = "; ".join(f"{k}: run {_short(recorded[k])}, cache {_short(now[k])}" for k in differing)
        action = "resume this run on" if resume else "use this run with"
        raise UserError(f"cannot {action} {cache.path}: it does not match the run ({what})", run_dir)
    return recorded


def _norm(value):
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else (float(value) if isinstance(value, (int, float)) else value)


def _short(value) -> str:
    return f"{len(value)} speakers" if isinstance(value, (list, tuple)) else str(value)


def file_digest(path: str | os.PathLike | None) -> str | None:
    """sha256 hex of a checkpoint file (None when absent)."""
    from ..cache import file_sha256

    return file_sha256(path) if path is not None and Path(path).is_file() else None


@contextmanager
def training_run(run_dir: str | os.PathLike, cache_path: str | os.PathLike, resume: bool,
                 training: dict | None = None) -> Iterator[Path]:
    """Lock the run folder, check ``--resume`` (a checkpoint, the same dataset, vertex count and
    speakers) and record provenance.json (the cache's identity, and ``training``: what the run is
    trained with, see :func:`training_record`); a fresh run that fails before its first checkpoint
    leaves no folder behind.  Under torchrun only rank 0 locks and writes.  Used through
    :func:`histalk_bench.models.runs.train_run`."""
    run_dir = Path(run_dir)
    existed = run_dir.exists()
    with Cache(cache_path) as cache:
        identity = {**cache_identity(cache), **({"training": training} if training is not None else {})}
        if resume:
            if not (run_dir / "last.pt").is_file():
                raise UserError("--resume needs a checkpoint, but there is no last.pt here "
                                "(train without --resume to start a new run)", run_dir)
            check_run_fits(run_dir, cache, resume=True)
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: rank 0 locks and records for all ranks
        yield run_dir
        return
    with lock.exclusive(run_dir, folder=True, what="run folder"):
        write_text_atomic(run_dir / PROVENANCE, json.dumps(identity, indent=1))
        try:
            yield run_dir
        except BaseException:
            if not existed and not (run_dir / "last.pt").exists():
                lock.release(run_dir, folder=True)
                shutil.rmtree(run_dir, ignore_errors=True)
            raise


def record_training_cache(run_dir: str | os.PathLike, cache_path: str | os.PathLike) -> None:
    """Write RUN_DIR/cache.json naming the cache a run was trained on (``animate`` and ``compare``
    read it); under torchrun only rank 0 writes it."""
    if os.environ.get("RANK", "0") not in ("", "0"):
        return
    write_text_atomic(Path(run_dir, RUN_CACHE_FILE), json.dumps({"cache": str(Path(cache_path).resolve())}))


def training_cache(run_dir: str | os.PathLike | None) -> str | None:
    """The cache recorded by :func:`record_training_cache` when it still exists, else None."""
    if not run_dir:
        return None
    try:
        cache = json.loads(Path(run_dir, RUN_CACHE_FILE).read_text())["cache"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return cache if Path(cache).is_file() else None


NOT_RECORDED = ("progress", "resume", "log_every")  # options that do not change the weights a run ends with


def training_record(model: str, options: dict) -> dict:
    """What decides a run's weights besides the cache: model, every option (seed, epochs, --set
    values ...; JSON values) and the code version."""
    kept = {k: v for k, v in sorted(options.items()) if k not in NOT_RECORDED}
    return json.loads(json.dumps({"model": model, "options": kept, "code_version": code_version()}, default=str))


def retrain_reason(run_dir: str | os.PathLike, cache: Cache, training: dict) -> str | None:
    """Why the run in ``run_dir`` does not stand for a run trained on ``cache`` with ``training``
    (None: it does): another data fingerprint, model, option or code version."""
    path = Path(run_dir) / PROVENANCE
    if not path.is_file():
        return "it records no provenance"
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return f"its {PROVENANCE} is unreadable ({exc})"
    then, now = (recorded.get("cache") or {}).get("fingerprint"), cache.provenance().get("fingerprint")
    if then != now:
        return f"it was trained on other data (fingerprint {str(then)[:12]}, now {str(now)[:12]})"
    old = recorded.get("training") or {}
    if old.get("model") != training["model"]:
        return f"it is a run of model '{old.get('model')}'"
    before, after = old.get("options", {}), training["options"]
    changed = [f"{k}={before.get(k, 'unset')!r} -> {after.get(k, 'unset')!r}" for k in sorted({*before, *after})
               if before.get(k) != after.get(k)]
    if changed:
        return "its options differ: " + ", ".join(changed)
    if old.get("code_version") != training["code_version"]:
        return f"it was trained by code version {old.get('code_version')}, this is {training['code_version']}"
    return None
