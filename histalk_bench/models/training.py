"""The training loop every trainable model shares.

A model plugs in through a :class:`TrainTask`::

    task.model                         the nn.Module
    task.loss(model, batch)            -> (loss tensor, {name: float}) for one training batch
    task.validate(model, batch)        -> {'loss': sum over sequences, 'lve_sum': ..., 'frames': ...}
    task.run_config()                  -> JSON-able dict saved as RUN_DIR/config.json

``fit`` handles seeding (deterministic on CPU), padding/masking through ``collate``, Adam,
optional AMP and ``torch.compile`` on GPU, checkpoints with resume, validation loss and LVE
each epoch, early stopping, progress inside each epoch (a bar on a terminal, a line every
``log_every`` steps otherwise, with steps/s and time left), and DistributedDataParallel when launched by
``torchrun`` (WORLD_SIZE > 1) without code changes.  Checkpoints are plain state dicts and
JSON-able values, loaded with ``torch.load(..., weights_only=True)``.

Run folder: config.json, history.jsonl (one line per epoch), last.pt (model + optimizer +
epoch + RNG state, for --resume; a resumed run repeats the uninterrupted one exactly on CPU),
best.pt (model state dict of the best validation epoch, or the best training epoch without a
validation split).  Both are written every ``save_every`` epochs and at the end.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch

from ..common.atomic import atomic_path, write_text_atomic
from ..common.errors import UserError
from ..common.progress import Progress


@dataclass
class TrainOptions:
    epochs: int = 50
    batch_size: int = 4
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    patience: int = 15
    amp: bool = False
    compile: bool = False
    num_workers: int = 0
    grad_clip: float = 1.0
    resume: bool = False
    progress: bool = True
    max_frames: int | None = None
    find_unused_parameters: bool = False  # DDP: set when some parameters get no gradient in a step
    save_every: int = 1  # write last.pt/best.pt every N epochs (and always at the end)
    log_every: int = 0  # progress lines every N steps when not on a terminal (0: about 10 per epoch)


class TrainTask(Protocol):
    model: torch.nn.Module

    def loss(self, model, batch: dict) -> tuple[torch.Tensor, dict]: ...

    def validate(self, model, batch: dict) -> dict: ...

    def run_config(self) -> dict: ...


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed of the shuffle order of one epoch."""
    return seed * 1_000_003 + epoch


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """A checkpoint saved by this loop (plain tensors and JSON-able values only)."""
    import pickle
    import zipfile

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError) as exc:
        first = " ".join(str(exc).split()).split(". ")[0][:160]
        raise UserError(f"not a readable checkpoint ({exc.__class__.__name__}: {first})", path) from None


def _distributed() -> tuple[bool, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return False, 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return True, dist.get_rank(), world


@dataclass
class _RunState:
    """What carries from epoch to epoch (and through last.pt to a resumed run)."""

    start_epoch: int = 0
    best: float = math.inf
    stale: int = 0
    history: list = field(default_factory=list)
    best_state: dict | None = None  # best weights not yet written to best.pt


def _setup(options: TrainOptions, out_dir: Path) -> tuple[bool, int, torch.device]:
    """Process group, seeds and device; returns (distributed, rank, device)."""
    device = resolve_device(options.device)
    for flag in ("amp", "compile"):
        if getattr(options, flag) and device.type != "cuda":
            raise UserError(f"--{flag} needs a CUDA device; this run uses '{device}' (drop --{flag}, or --device cuda)")
    distributed, rank, _world = _distributed()
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(options.seed + rank)
    if distributed and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    return distributed, rank, device


def _resume(model, optimizer, path: Path, device) -> _RunState:
    """Model, optimizer and RNG state from last.pt; the epoch counters and history it holds."""
    state = load_checkpoint(path, map_location=device)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"].cpu())
    return _RunState(int(state["epoch"]) + 1, float(state["best"]), int(state["stale"]), json.loads(state["history"]))


def _wrap(model, options: TrainOptions, distributed: bool, device):
    """The module the training steps call: DDP and/or torch.compile around ``model`` when asked."""
    if distributed:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None,
                                                          find_unused_parameters=options.find_unused_parameters)
    if options.compile and device.type == "cuda":
        model = torch.compile(model)
    return model


def _loaders(train_set, val_set, options: TrainOptions, collate: Callable, distributed: bool):
    """(train loader, validation loader or None, distributed sampler or None, shuffle generator)."""
    sampler = torch.utils.data.DistributedSampler(train_set, shuffle=True, seed=options.seed) if distributed else None
    generator = torch.Generator().manual_seed(options.seed)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=options.batch_size, shuffle=sampler is None,
                                               sampler=sampler, collate_fn=collate, num_workers=options.num_workers,
                                               generator=generator)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=options.batch_size, shuffle=False, collate_fn=collate,
                                             num_workers=options.num_workers) if val_set is not None and len(val_set) else None
    return train_loader, val_loader, sampler, generator


class _Stepper:
    """One optimisation step (autocast, backward, optional clipping, optimizer/scaler step)."""

    def __init__(self, task: TrainTask, model, train_model, options: TrainOptions, device):
        self.task, self.model, self.train_model, self.options, self.device = task, model, train_model, options, device
        self.optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=options.lr,
                                          weight_decay=options.weight_decay)
        self.use_amp = options.amp and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)

    def __call__(self, batch: dict) -> dict[str, float]:
        batch = to_device(batch, self.device)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            loss, logs = self.task.loss(self.train_model, batch)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.options.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.options.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return {"loss": float(loss.detach()), **logs}


def _train_epoch(step: _Stepper, loader, epoch: int, options: TrainOptions, show: bool) -> dict[str, float]:
    """One pass over ``loader`` with progress inside the epoch; mean of each logged value."""
    step.train_model.train()
    totals: dict[str, float] = {}
    n_batches = 0
    with Progress(len(loader), f"train epoch {epoch + 1}/{options.epochs}", enabled=show,
                  every=options.log_every or None) as progress:
        for batch in loader:
            logs = step(batch)
            n_batches += 1
            for key, value in logs.items():
                totals[key] = totals.get(key, 0.0) + value
            progress.update(loss=totals["loss"] / n_batches)
    return {f"train_{k}": v / max(1, n_batches) for k, v in totals.items()}


def _checkpoint(task: TrainTask, step: _Stepper, run: _RunState, epoch: int, improved: bool, final: bool,
                out_dir: Path) -> None:
    """Keep the best weights; write best.pt and last.pt every ``save_every`` epochs and at the end."""
    model, options = step.model, step.options
    if improved:
        run.best_state = {"model": {k: v.detach().clone() for k, v in model.state_dict().items()}, "epoch": epoch,
                          "config": json.dumps(task.run_config(), default=str)}
    if final or (epoch + 1) % max(1, options.save_every) == 0:
        if run.best_state is not None:
            _save(run.best_state, out_dir / "best.pt")
            run.best_state = None
        _save({"model": model.state_dict(), "optimizer": step.optimizer.state_dict(), "epoch": epoch, "best": run.best,
               "stale": run.stale, "history": json.dumps(run.history), "rng": torch.get_rng_state(),
               "config": json.dumps(task.run_config(), default=str)}, out_dir / "last.pt")


class _EpochTimer:
    """Wall time and peak GPU memory of one epoch, kept apart from the (deterministic) history."""

    def __init__(self, device: torch.device):
        self.device, self.started = device, time.perf_counter()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

    def append_to(self, path: Path, epoch: int) -> None:
        record = {"epoch": epoch, "epoch_s": round(time.perf_counter() - self.started, 3), "device": str(self.device)}
        if self.device.type == "cuda":
            record["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated(self.device) / 2**30, 3)
        with open(path, "a") as handle:
            handle.write(json.dumps(record) + "\n")


def _start_run_folder(task: TrainTask, options: TrainOptions, out_dir: Path, history: list) -> None:
    """history.jsonl restarts, or continues from the resumed checkpoint's epochs; config.json.
    timings.jsonl (wall seconds and peak GPU memory per epoch) restarts with a fresh run."""
    write_text_atomic(out_dir / "history.jsonl", "".join(json.dumps(record) + "\n" for record in history))
    if not history:
        (out_dir / "timings.jsonl").unlink(missing_ok=True)
    write_text_atomic(out_dir / "config.json", json.dumps({"task": task.run_config(), "train": asdict(options)}, indent=1, default=str))


def fit(task: TrainTask, train_set, val_set, out_dir: str | os.PathLike, options: TrainOptions,
        collate: Callable) -> list[dict]:
    """Train ``task.model``; returns the per-epoch history (also in history.jsonl)."""
    out_dir = Path(out_dir)
    distributed, rank, device = _setup(options, out_dir)
    model = task.model.to(device)
    step = _Stepper(task, model, None, options, device)
    run = _RunState()
    if options.resume and (out_dir / "last.pt").exists():
        run = _resume(model, step.optimizer, out_dir / "last.pt", device)
    step.train_model = _wrap(model, options, distributed, device)
    train_loader, val_loader, sampler, generator = _loaders(train_set, val_set, options, collate, distributed)
    if rank == 0:
        _start_run_folder(task, options, out_dir, run.history)
    show = options.progress and rank == 0
    epochs = Progress(options.epochs - run.start_epoch, "train", "epoch", enabled=show, every=1, leave=True)
    for epoch in range(run.start_epoch, options.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        generator.manual_seed(epoch_seed(options.seed, epoch))  # shuffle order depends on (seed, epoch) only: exact resume
        timer = _EpochTimer(device)
        record = {"epoch": epoch, **_train_epoch(step, train_loader, epoch, options, show)}
        if val_loader is not None:
            record.update(_validate(task, model, val_loader, device))
        monitored = record.get("val_loss", record.get("train_loss", math.inf))
        improved = monitored < run.best
        run.best, run.stale = (monitored, 0) if improved else (run.best, run.stale + 1)
        run.history.append(record)
        stop = bool(options.patience) and run.stale >= options.patience
        if rank == 0:
            _checkpoint(task, step, run, epoch, improved, stop or epoch == options.epochs - 1, out_dir)
            with open(out_dir / "history.jsonl", "a") as handle:
                handle.write(json.dumps(record) + "\n")
            timer.append_to(out_dir / "timings.jsonl", epoch)
        epochs.update(**{k: v for k, v in record.items() if k in ("train_loss", "val_loss", "val_lve")})
        if stop:
            break
    epochs.close()
    if distributed:
        import torch.distributed as dist

        dist.barrier()
    return run.history


def _save(state: dict, path: Path) -> None:
    """torch.save through a temporary file, so a crash never leaves a half-written checkpoint."""
    with atomic_path(path) as partial:  # removed on any failure, Ctrl-C included
        try:
            torch.save(state, partial)
        except RuntimeError as exc:  # torch reports a failed write (size limit, I/O error) as RuntimeError
            import errno

            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise OSError(errno.EIO, f"could not write the checkpoint ({reason})", os.fspath(path)) from exc


def _validate(task: TrainTask, model, loader, device) -> dict:
    model.eval()
    sums: dict[str, float] = {}
    n_sequences = 0
    with torch.no_grad():
        for batch in loader:
            batch = to_device(batch, device)
            for key, value in task.validate(model, batch).items():
                sums[key] = sums.get(key, 0.0) + float(value)
            n_sequences += int(batch["mask"].shape[0])
    out = {"val_loss": sums.get("loss", 0.0) / max(1, n_sequences)}
    if sums.get("frames"):
        out["val_lve"] = sums["lve_sum"] / sums["frames"]
    return out
