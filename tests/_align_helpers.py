"""Helpers for the align tests: short espeak-ng speech with exact word times, a runnable stand-in mfa."""

from __future__ import annotations

import stat
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

FAKE_MFA = Path(__file__).resolve().parent / "fixtures" / "fake_mfa" / "mfa"


@lru_cache(maxsize=8)
def espeak_utterance(text: str, rate: int = 165):
    """(audio (N,) float32 at 16 kHz, words [(start s, end s, label)], phones) from espeak-ng."""
    import soxr

    from histalk_bench.synth.speech import Voice, synthesise

    utterance = synthesise(text, Voice(rate=rate))
    audio = soxr.resample(utterance.audio, utterance.sample_rate, 16000).astype(np.float32)
    return audio, list(utterance.words), list(utterance.phones)


def install_fake_mfa(folder: Path) -> Path:
    """Copy the stand-in ``mfa`` into ``folder`` with a shebang naming this interpreter."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "mfa"
    body = FAKE_MFA.read_text().split("\n", 1)[1]
    target.write_text(f"#!{sys.executable}\n{body}")
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return target
