"""Progress bars (tqdm) that stay quiet when output is not a terminal or when disabled."""

from __future__ import annotations

import sys
from typing import Iterable, TypeVar

T = TypeVar("T")


def progress_bar(items: Iterable[T], desc: str = "", total: int | None = None, enabled: bool = True):
    """Wrap ``items`` in a tqdm bar with ETA on stderr; a plain iterator when disabled."""
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, total=total, file=sys.stderr, dynamic_ncols=True,
                disable=None, leave=False)
