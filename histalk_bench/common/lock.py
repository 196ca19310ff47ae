"""One writer at a time: an advisory ``flock`` on ``<file>.lock`` (or ``<folder>/.lock``).

A second writer gets a one-line :class:`UserError` naming the process that holds the lock; the
lock is released (and the lock file removed) when the holder finishes or dies.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import UserError

_HELD: dict[Path, int] = {}  # lock path -> descriptor, held by this process (re-entrant)


def lock_path(target: str | os.PathLike, folder: bool = False) -> Path:
    target = Path(target)
    return target / ".lock" if folder else target.with_name(target.name + ".lock")


def acquire(target: str | os.PathLike, *, folder: bool = False, what: str = "output") -> Path:
    """Take the lock of ``target`` or raise UserError when another process holds it."""
    path = lock_path(target, folder).absolute()
    if path in _HELD:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise UserError(f"another histalk-bench process (pid {holder}) is writing this {what}; "
                            "wait for it to finish (or remove the lock file if that process is gone)",
                            target) from None
        try:  # the holder before us may have removed the file after we opened it: retry on a fresh one
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    _HELD[path] = fd
    try:  # the pid is only informational (a full disk must not stop the lock)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
    except OSError:
        pass
    return path


def release(target: str | os.PathLike, *, folder: bool = False) -> None:
    path = lock_path(target, folder).absolute()
    fd = _HELD.pop(path, None)
    if fd is None:
        return
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    os.close(fd)


def release_all() -> None:
    """Release every lock this process holds (the CLI calls this when a command fails)."""
    for path in list(_HELD):
        fd = _HELD.pop(path)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        os.close(fd)


@contextmanager
def exclusive(target: str | os.PathLike, *, folder: bool = False, what: str = "output") -> Iterator[Path]:
    """Hold the lock of ``target`` for the block (re-entrant within one process)."""
    path = lock_path(target, folder).absolute()
    mine = path not in _HELD
    acquire(target, folder=folder, what=what)
    try:
        yield path
    finally:
        if mine:
            release(target, folder=folder)
