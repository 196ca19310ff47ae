"""Hierarchical units per mesh frame: which phone, word and utterance chunk each frame is in.

Two sources (``auto`` chooses between them per corpus, see :func:`resolve_units`):
- ``aligned``: the cache's forced-aligned ``phones``/``words`` tiers.  The timeline is fully
  segmented: every interval is a unit, and every gap between intervals (silence) is a unit too.
  Utterance chunks group whole words into spans of at least ~1000 ms.
- ``statistical``: SpeechFormer++'s fixed merge scales (FIELD.md section 3) at the given frame
  rate: phone-sized units of ~50 ms, word-sized units of ~250 ms made of whole phone units,
  utterance chunks of ~1000 ms made of whole word units (at the 50 Hz acoustic rate HiSTalk
  uses: 2, 12 and 48 frames, SpeechFormer++'s merges x2, x6, x4; at 30 fps: 2, 8 and 32).  SpeechFormer++'s attention windows (400 ms among phones,
  2000 ms among words, global among utterance chunks) are the model's ``phone_window`` and
  ``word_window`` (units each side), see models/histalk/config.py.

Every level nests in the next (a phone unit lies inside one word unit, a word unit inside one
utterance chunk).  Each index array is (T,) int64, non-decreasing, starting at 0, with no empty
unit.  A frame belongs to the interval containing its centre time (t + 0.5) / fps.
"""

from __future__ import annotations

import numpy as np

from ..common.errors import UserError

STATISTICAL_SECONDS = {"phone": 0.05, "word": 0.25, "utterance": 1.0}


def _compact(index: np.ndarray) -> np.ndarray:
    """Renumber so units are 0..K-1 in order of appearance with none empty."""
    if index.size == 0:
        return index.astype(np.int64)
    change = np.concatenate([[0], (np.diff(index) != 0).astype(np.int64)])
    return np.cumsum(change).astype(np.int64)


def nest(inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """Split ``inner`` units at ``outer`` boundaries so each inner unit lies in one outer unit."""
    if inner.size == 0:
        return inner.astype(np.int64)
    change = np.concatenate([[0], ((np.diff(inner) != 0) | (np.diff(outer) != 0)).astype(np.int64)])
    return np.cumsum(change).astype(np.int64)


def frames_to_units(intervals, n_frames: int, fps: float) -> np.ndarray:
    """(T,) unit index of each frame from (start s, end s, label) intervals; gaps are units."""
    if n_frames <= 0:
        return np.zeros(0, dtype=np.int64)
    times = (np.arange(n_frames) + 0.5) / fps  # frame centres
    if not intervals:
        return np.zeros(n_frames, dtype=np.int64)
    starts = np.asarray([s for s, _, _ in intervals], dtype=np.float64)
    ends = np.asarray([e for _, e, _ in intervals], dtype=np.float64)
    order = np.argsort(starts)
    starts, ends = starts[order], ends[order]
    position = np.searchsorted(starts, times, side="right") - 1  # last interval starting before t
    inside = (position >= 0) & (times < ends[np.clip(position, 0, None)])
    # interval k -> code 2k+1; the gap after interval k -> code 2k+2; before the first -> 0
    code = np.where(inside, 2 * position + 1, 2 * position + 2)
    return _compact(code.astype(np.int64))


def statistical_units(n_frames: int, fps: float, seconds: float) -> np.ndarray:
    """(T,) fixed-length chunks of ``seconds`` (at least one frame each)."""
    size = max(1, int(round(seconds * fps)))
    return (np.arange(n_frames) // size).astype(np.int64)


def statistical_sizes(fps: float) -> dict[str, int]:
    """Frames per phone, word and utterance unit; each a whole multiple of the level below."""
    phone = max(1, int(round(STATISTICAL_SECONDS["phone"] * fps)))
    word = phone * max(1, int(round(STATISTICAL_SECONDS["word"] * fps / phone)))
    utterance = word * max(1, int(round(STATISTICAL_SECONDS["utterance"] * fps / word)))
    return {"phone": phone, "word": word, "utterance": utterance}


def group_units(units: np.ndarray, min_frames: int) -> np.ndarray:
    """Merge consecutive units into groups of at least ``min_frames`` frames (the last group may
    be shorter): (T,) unit index -> (T,) group index."""
    if units.size == 0:
        return units.astype(np.int64)
    lengths = np.bincount(units)
    group_of_unit = np.zeros(len(lengths), dtype=np.int64)
    group, filled = 0, 0
    for unit, length in enumerate(lengths):
        if filled >= min_frames:
            group, filled = group + 1, 0
        group_of_unit[unit] = group
        filled += int(length)
    return group_of_unit[units]


def resolve_units(requested: str, all_have_tiers: bool, where: str = "") -> str:
    """'aligned' or 'statistical' for a corpus: ``auto`` takes tiers only when every sequence has
    them; ``aligned`` without tiers everywhere is a UserError naming ``where`` and the fix."""
    if requested not in ("aligned", "statistical", "auto"):
        raise UserError(f"units must be aligned, statistical or auto, got '{requested}'")
    if requested == "auto":
        return "aligned" if all_have_tiers else "statistical"
    if requested == "aligned" and not all_have_tiers:
        raise UserError("units=aligned needs phone and word tiers on every sequence; re-run "
                        "'histalk-bench prepare --aligner pocketsphinx|mfa|oracle ...' or choose --units statistical",
                        where or None)
    return requested


def hierarchy(n_frames: int, fps: float, phones=None, words=None, source: str = "aligned") -> dict[str, np.ndarray]:
    """{'phone': (T,), 'word': (T,), 'utterance': (T,)} nested unit indices at ``fps``.

    ``source='aligned'`` needs both tiers (ValueError otherwise: never a silent fallback);
    ``'statistical'`` ignores them.
    """
    if source not in ("aligned", "statistical"):
        raise ValueError("source must be 'aligned' or 'statistical'")
    use_tiers = source == "aligned"
    if use_tiers and (not phones or not words):
        raise ValueError("aligned units need both a phones and a words tier")
    sizes = statistical_sizes(fps)
    frames = np.arange(max(0, n_frames))
    if use_tiers:
        word = frames_to_units(words, n_frames, fps)
        phone = frames_to_units(phones, n_frames, fps)
        utterance = group_units(word, sizes["utterance"])
    else:
        word, phone, utterance = frames // sizes["word"], frames // sizes["phone"], frames // sizes["utterance"]
    word = nest(word, utterance)
    phone = nest(phone, word)
    return {"phone": phone.astype(np.int64), "word": word.astype(np.int64), "utterance": _compact(utterance)}
