"""The one way the toolkit finishes a file: write a temporary, fsync it, ``os.replace`` it over the
target, fsync the folder.  A crash (even ``kill -9``) leaves the old file or the new one, never half."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


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
    _fsync_path(final.parent, directory=True)
    return final


def temporary_name(path: str | os.PathLike) -> Path:
    """``path`` with ``.tmp`` appended (same folder, so the final rename stays on one filesystem)."""
    path = Path(path)
    return path.with_name(path.name + ".tmp")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path to write; on success it is committed to ``path``, on error removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path)
    try:
        yield temporary
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    commit_file(temporary, path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)
