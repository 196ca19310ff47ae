"""Reading and writing TextGrids with praatio (tiers ``words`` and ``phones``)."""

from __future__ import annotations

import os
from pathlib import Path

from praatio import textgrid

from ..common.errors import UserError
from .base import Alignment

SILENCE_LABELS = {"", "sil", "sp", "spn", "<eps>", "SIL", "<sil>", "_"}


def _tier_named(grid, kind: str):
    """The tier called ``kind`` or ``<speaker> - kind`` (MFA's multi-speaker naming)."""
    for name in grid.tierNames:
        if name == kind or name.endswith(f" - {kind}"):
            return grid.getTier(name)
    return None


def read_textgrid(path: str | os.PathLike) -> Alignment:
    """Words and phones of a TextGrid; silence/empty intervals are dropped."""
    if not os.path.exists(path):
        raise UserError("TextGrid not found", path)
    try:
        grid = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    except Exception as exc:
        raise UserError(f"unreadable TextGrid ({exc.__class__.__name__}: {exc})", path) from None
    tiers = {}
    for kind in ("words", "phones"):
        tier = _tier_named(grid, kind)
        if tier is None:
            raise UserError(f"TextGrid has no '{kind}' tier (tiers: {', '.join(grid.tierNames)})", path)
        tiers[kind] = [(float(s), float(e), str(lab)) for s, e, lab in tier.entries if lab.strip() not in SILENCE_LABELS]
    return Alignment(phones=tiers["phones"], words=tiers["words"], source=Path(path).name)


def write_textgrid(path: str | os.PathLike, alignment: Alignment, duration_s: float) -> Path:
    """Write ``alignment`` as a long TextGrid with tiers ``words`` and ``phones``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    end_time = max([duration_s] + [e for _, e, _ in alignment.words + alignment.phones])
    grid = textgrid.Textgrid()
    for name, intervals in (("words", alignment.words), ("phones", alignment.phones)):
        entries, cursor = [], 0.0
        for start, end, label in sorted(intervals):  # clip overlaps so Praat accepts the tier
            start = max(float(start), cursor)
            if float(end) > start and str(label).strip():
                entries.append((start, float(end), str(label)))
                cursor = float(end)
        grid.addTier(textgrid.IntervalTier(name, entries, 0.0, end_time))
    grid.save(str(path), format="long_textgrid", includeBlankSpaces=True)
    return path
