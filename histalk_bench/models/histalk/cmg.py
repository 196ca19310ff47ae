"""CMG, the coarse motion generator: a light Transformer from the speech embedding to coarse
dense displacements C (B, T, V, 3) in model units."""

from __future__ import annotations

import torch
from torch import nn

from .layers import LocalEncoder


class CoarseMotionGenerator(nn.Module):
    def __init__(self, d: int, n_heads: int, n_layers: int, n_vertices: int, dropout: float):
        super().__init__()
        self.encoder = LocalEncoder(d, n_heads, n_layers, 2 * d, dropout, window=None)
        self.head = nn.Linear(d, n_vertices * 3)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(x, valid)
        b, t, _ = hidden.shape
        return self.head(hidden).view(b, t, -1, 3)
