"""Viseme classes of phone labels (ARPAbet, with or without stress digits, or espeak-ng mnemonics).

| class        | ARPAbet phones          |
|--------------|-------------------------|
| bilabial     | P B M                   |
| labiodental  | F V                     |
| rounded      | UW OW W OY              |
| open         | AA AE AH AO AW AY       |
| other        | every other phone       |

Silence and noise labels ('', sil, sp, spn, h#, pau, ...) have no class.  A tier is read as
ARPAbet when every label (digits removed, upper-cased) is an ARPAbet phone, otherwise as espeak-ng
mnemonics (the synthetic corpus's oracle tiers), which are mapped to ARPAbet with
:data:`histalk_bench.align.lexicon.ESPEAK_TO_ARPABET` (the first ARPAbet phone decides the class).
A mesh frame t (time t / fps) belongs to the phone whose [start, end) contains it.
"""

from __future__ import annotations

import re

import numpy as np

from ..align.lexicon import ARPABET, ESPEAK_TO_ARPABET

VISEME_VERSION = "1.0"
CLASSES = ("bilabial", "labiodental", "rounded", "open", "other")
ARPABET_CLASSES = {
    "bilabial": ("P", "B", "M"),
    "labiodental": ("F", "V"),
    "rounded": ("UW", "OW", "W", "OY"),
    "open": ("AA", "AE", "AH", "AO", "AW", "AY"),
}
SILENCE = {"", "sil", "sp", "spn", "<eps>", "<sil>", "_", "h#", "pau", "epi", "+spn+", "+nsn+", "<unk>"}
_CLASS_OF = {phone: CLASSES.index(name) for name, phones in ARPABET_CLASSES.items() for phone in phones}
_DIGITS = re.compile(r"\d")


def _arpabet(label: str) -> str:
    return _DIGITS.sub("", label).upper()


def is_arpabet_tier(labels: list[str]) -> bool:
    """True when every non-silence label is ARPAbet (stress digits and case ignored)."""
    spoken = [label for label in labels if label.strip().lower() not in SILENCE]
    return bool(spoken) and all(_arpabet(label) in ARPABET for label in spoken)


def label_classes(labels: list[str]) -> np.ndarray:
    """(N,) class index into :data:`CLASSES` per label, -1 for silence."""
    arpabet = is_arpabet_tier(labels)
    out = np.full(len(labels), -1, dtype=np.int64)
    for i, label in enumerate(labels):
        if label.strip().lower() in SILENCE:
            continue
        if arpabet:
            phone = _arpabet(label)
        else:
            token = label.strip().replace("'", "").replace(",", "")
            mapped = ESPEAK_TO_ARPABET.get(token) or ESPEAK_TO_ARPABET.get(token.rstrip(":#-0123456789;/"), ())
            phone = mapped[0] if mapped else ""
        out[i] = _CLASS_OF.get(phone, CLASSES.index("other"))
    return out


def phone_frames(start: float, end: float, n_frames: int, fps: float) -> np.ndarray:
    """Frame indices t with t / fps in [start, end); the frame nearest the midpoint when none is."""
    first, last = int(np.ceil(start * fps - 1e-9)), int(np.ceil(end * fps - 1e-9))
    frames = np.arange(max(first, 0), min(last, n_frames))
    if frames.size == 0:
        middle = int(round((start + end) / 2 * fps))
        frames = np.arange(middle, middle + 1) if 0 <= middle < n_frames else frames
    return frames


def frame_classes(phones: list, n_frames: int, fps: float) -> np.ndarray:
    """(T,) class index per mesh frame (-1 outside any phone)."""
    out = np.full(n_frames, -1, dtype=np.int64)
    classes = label_classes([label for _, _, label in phones])
    times = np.arange(n_frames) / fps
    for (start, end, _), cls in zip(phones, classes):
        out[(times >= start) & (times < end)] = cls
    return out
