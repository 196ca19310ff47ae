"""Hierarchical units per mesh frame: which phone, word and utterance chunk each frame is in.

Two sources:
- ``aligned``: the cache's forced-aligned ``phones``/``words`` tiers.  The timeline is fully
  segmented: every interval is a unit, and every gap between intervals (silence) is a unit too.
- ``statistical``: SpeechFormer++'s fixed scales (FIELD.md section 3): phone-sized units of
  50 ms, word-sized units of 250 ms, utterance chunks of 1000 ms.

Each index array is (T,) int64, non-decreasing, starting at 0, with no empty unit.
"""

from __future__ import annotations

import numpy as np

STATISTICAL_SECONDS = {"phone": 0.05, "word": 0.25, "utterance": 1.0}


def _compact(index: np.ndarray) -> np.ndarray:
    """Renumber so units are 0..K-1 in order of appearance with none empty."""
    if index.size == 0:
        return index
    change = np.concatenate([[0], (np.diff(index) != 0).astype(np.int64)])
    return np.cumsum(change)


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


def hierarchy(n_frames: int, fps: float, phones=None, words=None, source: str = "aligned") -> dict[str, np.ndarray]:
    """{'phone': (T,), 'word': (T,), 'utterance': (T,)} unit indices.

    ``source='aligned'`` uses the tiers when present (falling back to statistical units for a
    missing tier); ``'statistical'`` ignores them.
    """
    use_tiers = source == "aligned"
    phone = frames_to_units(phones, n_frames, fps) if use_tiers and phones else statistical_units(n_frames, fps, STATISTICAL_SECONDS["phone"])
    word = frames_to_units(words, n_frames, fps) if use_tiers and words else statistical_units(n_frames, fps, STATISTICAL_SECONDS["word"])
    utterance = statistical_units(n_frames, fps, STATISTICAL_SECONDS["utterance"])
    return {"phone": phone, "word": word, "utterance": utterance}
