"""Reading reference alignments for ``align-report``: TextGrids with any common tier naming and
TIMIT ``.WRD``/``.PHN`` label files.

TextGrid tiers are found by name: ``words``/``word`` and ``phones``/``phone`` (also MFA's
``<speaker> - words``), case-insensitively; a stem's words and phones may sit in two files
(``<stem>_words.TextGrid`` and ``<stem>_phones.TextGrid``, as in praatio's examples).
TIMIT files hold ``start end label`` in samples at 16 kHz.  TIMIT phones are mapped to ARPAbet
(a stop closure ``bcl``/``dcl``/... is merged with the release that follows it, so the phone
starts at the closure; ``h#``, ``pau``, ``epi`` and the glottal stop ``q`` are dropped).
"""

from __future__ import annotations

import os
from pathlib import Path

from praatio import textgrid

from ..common.errors import UserError
from .base import Alignment

TIMIT_RATE = 16000
SILENCE = {"", "sil", "sp", "spn", "<eps>", "<sil>", "_", "h#", "pau", "epi"}
TIMIT_TO_ARPABET = {"ax": "AH", "ax-h": "AH", "axr": "ER", "ix": "IH", "ux": "UW", "hv": "HH", "el": "L",
                    "em": "M", "en": "N", "nx": "N", "eng": "NG", "dx": "T"}
_CLOSURES = {"bcl": "b", "dcl": "d", "gcl": "g", "pcl": "p", "tcl": "t", "kcl": "k"}
_DROPPED = {"h#", "pau", "epi", "q"}
_WORD_TIERS, _PHONE_TIERS = ("words", "word"), ("phones", "phone")


def _tier(grid, names: tuple[str, ...]):
    for name in grid.tierNames:
        base = name.split(" - ")[-1].strip().lower()
        if base in names:
            return grid.getTier(name)
    return None


def _open_grid(path: Path):
    try:
        return textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    except Exception as exc:
        raise UserError(f"unreadable TextGrid ({exc.__class__.__name__}: {exc})", path) from None


def _entries(tier) -> list[tuple[float, float, str]]:
    return [(float(s), float(e), str(label)) for s, e, label in tier.entries if str(label).strip().lower() not in SILENCE]


def read_textgrids(words_path: Path, phones_path: Path | None = None) -> Alignment:
    """Words (and phones) from one TextGrid, or words and phones from two; a missing phone tier
    gives no phones, a missing word tier is an error."""
    grid = _open_grid(words_path)
    words = _tier(grid, _WORD_TIERS)
    if words is None:
        raise UserError(f"TextGrid has no words/word tier (tiers: {', '.join(grid.tierNames)})", words_path)
    phone_grid = _open_grid(phones_path) if phones_path else grid
    phones = _tier(phone_grid, _PHONE_TIERS)
    return Alignment(phones=_entries(phones) if phones is not None else [], words=_entries(words), source=words_path.name)


def _timit_rows(path: Path) -> list[tuple[int, int, str]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            rows.append((int(parts[0]), int(parts[1]), parts[2]))
        except (ValueError, IndexError):
            raise UserError(f"line {number}: expected 'START END LABEL' (sample indices)", path) from None
    return rows


def timit_phones(rows: list[tuple[int, int, str]]) -> list[tuple[float, float, str]]:
    """TIMIT phone rows (samples) -> ARPAbet intervals in seconds (closures merged, pauses dropped)."""
    out: list[tuple[float, float, str]] = []
    pending: tuple[int, str] | None = None  # a closure waiting for its release
    for start, end, label in rows:
        label = label.lower()
        if label in _CLOSURES:
            pending = (start, _CLOSURES[label])
            continue
        if pending is not None:
            closure_start, stop = pending
            pending = None
            if label == stop:
                start = closure_start
            else:  # unreleased stop: the closure alone is the phone
                out.append((closure_start / TIMIT_RATE, start / TIMIT_RATE, stop.upper()))
        if label in _DROPPED:
            continue
        out.append((start / TIMIT_RATE, end / TIMIT_RATE, TIMIT_TO_ARPABET.get(label, label.upper())))
    return out


def read_timit(wrd_path: Path, phn_path: Path | None = None) -> Alignment:
    """A TIMIT ``.WRD`` file (and ``.PHN`` when given) as an alignment in seconds."""
    words = [(s / TIMIT_RATE, e / TIMIT_RATE, label) for s, e, label in _timit_rows(wrd_path)]
    phones = timit_phones(_timit_rows(phn_path)) if phn_path else []
    return Alignment(phones=phones, words=words, source=wrd_path.name)


def _find(folder: Path, names: list[str]) -> Path | None:
    """The first of ``names`` in ``folder``, compared case-insensitively."""
    present = {p.name.lower(): p for p in folder.iterdir()} if folder.is_dir() else {}
    return next((present[n.lower()] for n in names if n.lower() in present), None)


def reference_for(folder: Path, stem: str) -> Alignment | None:
    """The reference alignment of ``stem`` in ``folder`` (TextGrid, split TextGrids or TIMIT), or None."""
    grid = _find(folder, [f"{stem}.TextGrid"])
    if grid is not None:
        return read_textgrids(grid)
    words = _find(folder, [f"{stem}_words.TextGrid", f"{stem}_word.TextGrid"])
    if words is not None:
        return read_textgrids(words, _find(folder, [f"{stem}_phones.TextGrid", f"{stem}_phone.TextGrid"]))
    wrd = _find(folder, [f"{stem}.WRD"])
    if wrd is not None:
        return read_timit(wrd, _find(folder, [f"{stem}.PHN"]))
    return None


def hypothesis_stems(folder: str | os.PathLike) -> dict[str, Path]:
    """stem -> TextGrid path for every ``*.TextGrid`` in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError("hypothesis TextGrid folder not found", folder)
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() == ".textgrid"}
