"""The one way the toolkit finishes a file: write a temporary, fsync it, ``os.replace`` it over the
target, fsync the folder.  A crash (even ``kill -9``) leaves the old file or the new one, never half.

Temporaries in flight are tracked, so the CLI's error boundary removes them on any failure
(an exception, a full disk, Ctrl-C); :func:`ensure_free_space` refuses a write that cannot fit.
"""

from __future__ import annotations

import errno
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import UserError

_PENDING: set[Path] = set()  # temporaries in flight in this process (removed by the CLI boundary)


def _fsync_path(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # some filesystems do not open folders; the rename itself is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_file(temporary: str | os.PathLike, final: str | os.PathLike) -> Path:
    """Flush ``temporary`` to disk and atomically rename it to ``final``; returns ``final``."""
    temporary, final = Path(temporary), Path(final)
    _fsync_path(temporary)
    os.replace(temporary, final)
    _PENDING.discard(temporary)
    _fsync_path(final.parent, directory=True)
    return final


def temporary_name(path: str | os.PathLike) -> Path:
    """``path`` with ``.tmp`` appended (same folder, so the final rename stays on one filesystem)."""
    path = Path(path)
    return path.with_name(path.name + ".tmp")


def track(temporary: str | os.PathLike) -> Path:
    """Register a temporary in flight (removed by :func:`remove_pending` if the command fails)."""
    _PENDING.add(Path(temporary))
    return Path(temporary)


def untrack(temporary: str | os.PathLike) -> Path:
    """The temporary has been committed: no longer remove it on failure."""
    _PENDING.discard(Path(temporary))
    return Path(temporary)


def discard(temporary: str | os.PathLike) -> None:
    """Remove an unfinished temporary file or staging folder (no error when it is already gone)."""
    temporary = Path(temporary)
    _PENDING.discard(temporary)
    if temporary.is_dir() and not temporary.is_symlink():
        shutil.rmtree(temporary, ignore_errors=True)
        return
    try:
        temporary.unlink()
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        pass


def remove_pending() -> list[Path]:
    """Remove every temporary still in flight (the CLI calls this when a command fails)."""
    removed = sorted(_PENDING)
    for temporary in removed:
        discard(temporary)
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path to write; on success it is committed to ``path``, on error removed.
    A failure while the file system is full is reported as ENOSPC (torch.save's own message is
    cryptic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = track(temporary_name(path))
    try:
        yield temporary
    except BaseException as exc:
        full = isinstance(exc, (OSError, RuntimeError)) and _nearly_full(path.parent)
        discard(temporary)
        if full:
            raise OSError(errno.ENOSPC, "No space left on device", os.fspath(path)) from exc
        raise
    commit_file(temporary, path)


def _nearly_full(folder: Path) -> bool:
    """Less than 1 MiB free on ``folder``'s file system."""
    try:
        return shutil.disk_usage(folder).free < (1 << 20)
    except OSError:
        return False


def ensure_free_space(folder: str | os.PathLike, needed_bytes: int, what: str) -> None:
    """UserError before writing ``what`` when ``folder``'s file system has less than
    ``needed_bytes`` (+ 5% and 16 MiB) free: HDF5 fails badly (or crashes) on a full disk."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    wanted = int(needed_bytes * 1.05) + (16 << 20)
    if free < wanted:
        raise UserError(f"not enough disk space to write {what}: about {wanted / 2**20:.0f} MiB needed, "
                        f"{free / 2**20:.0f} MiB free; free some space and re-run (finished work is kept)", folder)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)
