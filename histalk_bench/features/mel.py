"""Log-mel spectrogram features (no weights): 80 bins, 25 ms Hann window, 10 ms hop -> 100 Hz."""

from __future__ import annotations

import numpy as np

from ..common.constants import SAMPLE_RATE
from .base import FeatureExtractorBase


def _hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _mel_to_hz(mel):
    return 700.0 * (10 ** (np.asarray(mel) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int = SAMPLE_RATE, fmin: float = 20.0, fmax: float = 7600.0) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters on the HTK mel scale."""
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    bank = np.zeros((n_mels, bins.size))
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        bank[m] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, None)
    return bank.astype(np.float32)


class LogMelExtractor(FeatureExtractorBase):
    """``extract(audio_16k) -> (T_f, 80)`` float32 at 100 Hz, T_f = ceil(N / 160)."""

    name = "mel"

    def __init__(self, n_mels: int = 80, win_ms: float = 25.0, hop_ms: float = 10.0, fmin: float = 20.0,
                 fmax: float = 7600.0, **_options):
        self.n_mels = n_mels
        self.fmin, self.fmax = float(fmin), float(fmax)
        self.win = int(SAMPLE_RATE * win_ms / 1000)
        self.hop = int(SAMPLE_RATE * hop_ms / 1000)
        self.n_fft = 1 << (self.win - 1).bit_length()
        self.rate = SAMPLE_RATE / self.hop
        self._bank = mel_filterbank(n_mels, self.n_fft, fmin=self.fmin, fmax=self.fmax)
        self._window = np.hanning(self.win).astype(np.float32)

    def config(self) -> dict:
        return {"name": "mel", "n_mels": self.n_mels, "win": self.win, "hop": self.hop, "n_fft": self.n_fft,
                "fmin": self.fmin, "fmax": self.fmax, "window": "hann", "log": "ln(power + 1e-6)"}

    def extract(self, audio_16k: np.ndarray) -> np.ndarray:
        audio = np.asarray(audio_16k, dtype=np.float32).reshape(-1)
        n_frames = max(1, int(np.ceil(len(audio) / self.hop)))
        padded = np.pad(audio, (self.win // 2, self.win // 2 + n_frames * self.hop))
        starts = np.arange(n_frames) * self.hop
        frames = padded[starts[:, None] + np.arange(self.win)[None]] * self._window
        power = np.abs(np.fft.rfft(frames, n=self.n_fft, axis=1)) ** 2
        return np.log(power @ self._bank.T + 1e-6).astype(np.float32)
