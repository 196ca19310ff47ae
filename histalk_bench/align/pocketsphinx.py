"""``pocketsphinx``: offline word + phone forced alignment with the model shipped in the wheel.

Two decoding passes per utterance: word alignment against the transcript (``set_align_text``),
then phone alignment inside it (``set_alignment`` / ``get_alignment``).  The audio is padded
with 0.3 s of silence at both ends and the beams are widened, otherwise the decoder often
ends with "Final result does not match the grammar"; returned times are corrected for the pad.
Without a transcript the words are first recognised with the default language model.
Times come in 10 ms frames.
"""

from __future__ import annotations

import re

import numpy as np
from pocketsphinx import Decoder

from ..common.constants import SAMPLE_RATE
from .base import AlignerBase, Alignment, AlignRequest
from .lexicon import Lexicon, transcript_words

PAD_S = 0.3
FRAME_S = 0.01
_SILENCE_WORDS = {"<s>", "</s>", "<sil>", "[noise]", "[NOISE]", "<SIL>"}
_SILENCE_PHONES = {"SIL", "sil", "+SPN+", "+NSN+"}
# Decoder settings tried in turn: wide beams first; fast speech can still lose the grammar's
# final state, then the beams are widened further.
ATTEMPTS = (
    {"beam": 1e-100, "pbeam": 1e-100, "wbeam": 1e-80},
    {"beam": 1e-200, "pbeam": 1e-200, "wbeam": 1e-200},
    {"beam": 1e-100, "pbeam": 1e-100, "wbeam": 1e-80, "fsgusefiller": False},
)
_ALTERNATE = re.compile(r"\(\d+\)$")  # "the(2)": second pronunciation of "the"


def _pcm16(audio: np.ndarray) -> bytes:
    """(N,) float32 at 16 kHz -> padded 16-bit PCM bytes."""
    pad = np.zeros(int(PAD_S * SAMPLE_RATE), np.float32)
    padded = np.concatenate([pad, np.asarray(audio, np.float32).reshape(-1), pad])
    return (np.clip(padded, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


class PocketSphinxAligner(AlignerBase):
    """Forced alignment with pocketsphinx 5's bundled US English model (ARPAbet phones)."""

    name = "pocketsphinx"

    def __init__(self, lexicon: Lexicon | None = None, **_options):
        self.lexicon = lexicon
        self._aligners: dict[int, object] = {}
        self._recogniser = None

    # decoders are created on first use (about 0.3 s each) and reused
    def _align_decoder(self, attempt: int):
        if attempt not in self._aligners:
            self._aligners[attempt] = Decoder(samprate=SAMPLE_RATE, bestpath=False, loglevel="FATAL",
                                              **ATTEMPTS[attempt])
        return self._aligners[attempt]

    def _recognise(self, pcm: bytes) -> list[str]:
        if self._recogniser is None:
            self._recogniser = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        decoder = self._recogniser
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        return transcript_words(hypothesis.hypstr) if hypothesis is not None else []

    def _ensure_words(self, decoder, words: list[str]) -> None:
        """Add words missing from the decoder's dictionary (lexicon additions, cmudict, espeak-ng)."""
        if self.lexicon is None and any(decoder.lookup_word(w) is None for w in words):
            self.lexicon = Lexicon()
        for word in dict.fromkeys(words):
            if decoder.lookup_word(word) is None:
                phones = self.lexicon.pronounce(word)
                if not phones:
                    raise ValueError(f"no pronunciation for '{word}'")
                decoder.add_word(word, " ".join(phones), True)

    def align(self, request: AlignRequest) -> Alignment:
        audio = np.asarray(request.audio_16k, np.float32).reshape(-1)
        if audio.size < SAMPLE_RATE // 20:
            raise ValueError("audio shorter than 50 ms")
        if not np.all(np.isfinite(audio)):
            raise ValueError("audio contains NaN or infinite samples")
        if float(np.max(np.abs(audio))) < 1e-4:  # below -80 dBFS: digital silence, nothing to align
            raise ValueError("audio is silent")
        pcm = _pcm16(audio)
        words = transcript_words(request.transcript or "")
        source = self.name
        if not words:
            words = self._recognise(pcm)
            source = f"{self.name} (recognised)"
            if not words:
                raise ValueError("no transcript and no words recognised")
        errors = []
        for attempt in range(len(ATTEMPTS)):
            try:
                alignment = self._align_words(attempt, words, pcm)
                break
            except RuntimeError as exc:
                errors.append(str(exc))
        else:
            raise RuntimeError(f"pocketsphinx could not align the transcript ({'; '.join(dict.fromkeys(errors))})")
        return self._to_tiers(alignment, duration_s=audio.size / SAMPLE_RATE, source=source)

    def _align_words(self, attempt: int, words: list[str], pcm: bytes):
        """Pass 1: words against the transcript; pass 2 (after ``set_alignment``): phones."""
        decoder = self._align_decoder(attempt)
        self._ensure_words(decoder, words)
        try:
            decoder.set_align_text(" ".join(words))
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            matched = decoder.hyp() is not None
            if matched:
                decoder.set_alignment()
                decoder.start_utt()
                decoder.process_raw(pcm, full_utt=True)
                decoder.end_utt()
                alignment = decoder.get_alignment()
        except Exception:
            del self._aligners[attempt]  # a decoder left mid-utterance is not reused
            raise
        if not matched:
            raise RuntimeError("final result does not match the grammar")
        if alignment is None:
            raise RuntimeError("pocketsphinx produced no alignment")
        return alignment

    @staticmethod
    def _to_tiers(alignment, duration_s: float, source: str) -> Alignment:
        def seconds(frame: int) -> float:
            return float(min(max(frame * FRAME_S - PAD_S, 0.0), duration_s))

        result = Alignment(source=source)
        for word in alignment:
            label = _ALTERNATE.sub("", word.name)
            if label in _SILENCE_WORDS:
                continue
            start, end = seconds(word.start), seconds(word.start + word.duration)
            if end > start:
                result.words.append((round(start, 4), round(end, 4), label))
            for phone in word:
                if phone.name in _SILENCE_PHONES:
                    continue
                p_start, p_end = seconds(phone.start), seconds(phone.start + phone.duration)
                if p_end > p_start:
                    result.phones.append((round(p_start, 4), round(p_end, 4), phone.name))
        if not result.words:
            raise ValueError("alignment has no words inside the audio")
        return result
