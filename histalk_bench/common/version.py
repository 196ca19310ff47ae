"""Which code made an artifact: the package version and, from a git checkout, its commit."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

from .. import __version__


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the checkout the package runs from (None when installed outside a checkout)."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return (result.stdout.strip() or None) if result.returncode == 0 else None


def code_version() -> str:
    """'0.1.0+g<12 hex digits of the commit>' from a checkout, else the package version."""
    commit = git_commit()
    return f"{__version__}+g{commit[:12]}" if commit else __version__
