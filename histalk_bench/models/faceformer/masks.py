"""FaceFormer's periodic positional encoding and attention masks, built for any length."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..positional import sinusoidal_positions


class PeriodicPositionalEncoding(nn.Module):
    """Sinusoidal encoding of the position within a period, repeated: buffer ``pe`` (1, L, d).

    The buffer length follows the official checkpoints (period * (600 // period + 1)); longer
    sequences tile it further, so there is no 600-frame limit.
    """

    def __init__(self, d: int, period: int, max_len: int = 600, dropout: float = 0.1):
        super().__init__()
        self.period = period
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", self._table(d, period, period * (max_len // period + 1)))

    @staticmethod
    def _table(d: int, period: int, length: int) -> torch.Tensor:
        one = sinusoidal_positions(period, d)  # one period, then tiled
        repeats = -(-length // period)
        return one.repeat(repeats, 1)[:length][None]

    def encoding(self, n: int) -> torch.Tensor:
        """(n, d) encodings of positions 0..n-1 (the buffer, tiled beyond its length)."""
        pe = self.pe[0]
        if n > pe.shape[0]:
            pe = pe.repeat(-(-n // pe.shape[0]), 1)
        return pe[:n]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x + self.encoding(x.shape[1]).to(x.dtype)[None])


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Geometric head slopes; for 4 heads: 1/4, 1/16, 1/64, 1/256."""
    start = 2 ** (-(2 ** -(math.log2(n_heads) - 3)))
    return torch.tensor([start * start ** i for i in range(n_heads)])


def biased_causal_mask(n_heads: int, length: int, period: int, device=None) -> torch.Tensor:
    """(heads, T, T) additive mask: -slope_h * floor((i - j) / period) for j <= i, -inf for j > i."""
    i = torch.arange(length, device=device)[:, None]
    j = torch.arange(length, device=device)[None, :]
    distance = torch.div(i - j, period, rounding_mode="floor").clamp(min=0).float()
    bias = -alibi_slopes(n_heads).to(device)[:, None, None] * distance[None]
    return bias.masked_fill((j > i)[None], float("-inf"))


def memory_mask(length: int, n_audio: int, tokens_per_frame: int, device=None) -> torch.Tensor:
    """(T, S) bool, True = masked: frame i sees audio token i (1 token per frame) or 2i and 2i+1 (2)."""
    i = torch.arange(length, device=device)[:, None]
    j = torch.arange(n_audio, device=device)[None, :]
    allowed = (j // tokens_per_frame) == i
    return ~allowed
