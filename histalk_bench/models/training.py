"""The training loop every trainable model shares.

A model plugs in through a :class:`TrainTask`::

    task.model                         the nn.Module
    task.loss(model, batch)            -> (loss tensor, {name: float}) for one training batch
    task.validate(model, batch)        -> {'loss': sum over sequences, 'lve_sum': ..., 'frames': ...}
    task.run_config()                  -> JSON-able dict saved as RUN_DIR/config.json

``fit`` handles seeding (deterministic on CPU), padding/masking through ``collate``, Adam,
optional AMP and ``torch.compile`` on GPU, checkpoints with resume, validation loss and LVE
each epoch, early stopping, a progress bar, and DistributedDataParallel when launched by
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch

from ..common.progress import progress_bar


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
    return torch.load(path, map_location=map_location, weights_only=True)


def _distributed() -> tuple[bool, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return False, 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return True, dist.get_rank(), world


def fit(task: TrainTask, train_set, val_set, out_dir: str | os.PathLike, options: TrainOptions,
        collate: Callable) -> list[dict]:
    """Train ``task.model``; returns the per-epoch history (also in history.jsonl)."""
    distributed, rank, world = _distributed()
    out_dir = Path(out_dir)
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(options.seed + rank)
    device = resolve_device(options.device)
    if distributed and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)

    model = task.model.to(device)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=options.lr,
                                 weight_decay=options.weight_decay)
    start_epoch, best, stale, history = 0, math.inf, 0, []
    last_path = out_dir / "last.pt"
    if options.resume and last_path.exists():
        state = load_checkpoint(last_path, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, best, stale = int(state["epoch"]) + 1, float(state["best"]), int(state["stale"])
        history = json.loads(state["history"])
        torch.set_rng_state(state["rng"].cpu())

    train_model = model
    if distributed:
        train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None,
                                                              find_unused_parameters=options.find_unused_parameters)
    if options.compile and device.type == "cuda":
        train_model = torch.compile(train_model)
    use_amp = options.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    sampler = torch.utils.data.DistributedSampler(train_set, shuffle=True, seed=options.seed) if distributed else None
    generator = torch.Generator().manual_seed(options.seed)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=options.batch_size, shuffle=sampler is None,
                                               sampler=sampler, collate_fn=collate, num_workers=options.num_workers,
                                               generator=generator)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=options.batch_size, shuffle=False, collate_fn=collate,
                                             num_workers=options.num_workers) if val_set is not None and len(val_set) else None
    best_state = None  # best weights not yet written to best.pt
    if rank == 0:  # history.jsonl restarts, or continues from the resumed checkpoint's epochs
        (out_dir / "history.jsonl").write_text("".join(json.dumps(record) + "\n" for record in history))
        (out_dir / "config.json").write_text(json.dumps({"task": task.run_config(), "train": asdict(options)}, indent=1, default=str))

    epochs = progress_bar(range(start_epoch, options.epochs), desc="train", total=options.epochs - start_epoch,
                          enabled=options.progress and rank == 0)
    for epoch in epochs:
        if sampler is not None:
            sampler.set_epoch(epoch)
        generator.manual_seed(epoch_seed(options.seed, epoch))  # shuffle order depends on (seed, epoch) only: exact resume
        train_model.train()
        totals: dict[str, float] = {}
        n_batches = 0
        for batch in train_loader:
            batch = to_device(batch, device)
            with torch.autocast(device.type, enabled=use_amp):
                loss, logs = task.loss(train_model, batch)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if options.grad_clip:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), options.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            n_batches += 1
            for key, value in {"loss": float(loss.detach()), **logs}.items():
                totals[key] = totals.get(key, 0.0) + value
        record = {"epoch": epoch, **{f"train_{k}": v / max(1, n_batches) for k, v in totals.items()}}
        if val_loader is not None:
            record.update(_validate(task, model, val_loader, device))
        monitored = record.get("val_loss", record.get("train_loss", math.inf))
        improved = monitored < best
        best, stale = (monitored, 0) if improved else (best, stale + 1)
        history.append(record)
        stop = bool(options.patience) and stale >= options.patience
        if rank == 0:
            if improved:
                best_state = {"model": {k: v.detach().clone() for k, v in model.state_dict().items()}, "epoch": epoch,
                              "config": json.dumps(task.run_config(), default=str)}
            if stop or epoch == options.epochs - 1 or (epoch + 1) % max(1, options.save_every) == 0:
                if best_state is not None:
                    _save(best_state, out_dir / "best.pt")
                    best_state = None
                _save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, "best": best,
                       "stale": stale, "history": json.dumps(history), "rng": torch.get_rng_state(),
                       "config": json.dumps(task.run_config(), default=str)}, last_path)
            with open(out_dir / "history.jsonl", "a") as handle:
                handle.write(json.dumps(record) + "\n")
            if hasattr(epochs, "set_postfix"):
                epochs.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k in ("train_loss", "val_loss", "val_lve")})
        if stop:
            break
    if distributed:
        import torch.distributed as dist

        dist.barrier()
    return history


def _save(state: dict, path: Path) -> None:
    """torch.save through a temporary file, so a crash never leaves a half-written checkpoint."""
    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    os.replace(partial, path)


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
