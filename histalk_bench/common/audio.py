"""Audio reading and resampling to the cache's 16 kHz float32 mono."""

from __future__ import annotations

import os

import numpy as np
import soundfile
import soxr

from .constants import SAMPLE_RATE
from .errors import UserError


def to_float_mono(audio: np.ndarray) -> np.ndarray:
    """int16/int32/float arrays, mono or (N, C), -> (N,) float32 in [-1, 1]."""
    audio = np.asarray(audio)
    if audio.ndim == 2:
        audio = audio.mean(axis=1) if audio.shape[1] <= 8 else audio.mean(axis=0)
    if audio.dtype == np.int16:
        return audio.astype(np.float32) / 32768.0
    if audio.dtype == np.int32:
        return audio.astype(np.float32) / 2147483648.0
    if audio.dtype.kind == "u":
        return (audio.astype(np.float32) - 128.0) / 128.0
    return audio.astype(np.float32)


def resample_to_16k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """(N,) any rate -> (M,) float32 at 16 kHz (soxr, high quality)."""
    audio = to_float_mono(audio)
    if int(sample_rate) == SAMPLE_RATE:
        return audio
    return soxr.resample(audio, int(sample_rate), SAMPLE_RATE).astype(np.float32)


def check_audio(audio: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """Reject empty or non-finite audio with a one-line error naming ``path``."""
    if audio.size == 0:
        raise UserError("audio is empty", path)
    if not np.all(np.isfinite(audio)):
        raise UserError("audio contains NaN or infinite samples", path)
    return audio


def read_audio_16k(path: str | os.PathLike) -> np.ndarray:
    """Read a sound file and return (N,) float32 mono at 16 kHz."""
    if not os.path.exists(path):
        raise UserError("audio file not found", path)
    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    except Exception as exc:
        raise UserError(f"unreadable audio ({exc.__class__.__name__})", path) from None
    return check_audio(resample_to_16k(audio, rate), path)
