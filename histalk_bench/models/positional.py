"""Fixed sinusoidal position encodings shared by the models."""

from __future__ import annotations

import math

import torch


def sinusoidal_positions(n: int, d: int, device=None) -> torch.Tensor:
    """(n, d) table: sin at even channels, cos at odd channels, frequencies 10000^(-2i/d)."""
    position = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, d, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / d))
    table = torch.zeros(n, d, device=device)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: d // 2])
    return table
