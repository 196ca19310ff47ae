"""Building blocks: masked local attention layers and unit pooling."""

from __future__ import annotations

import torch
from torch import nn


def attention_mask(valid: torch.Tensor, window: int | None, n_heads: int, groups: torch.Tensor | None = None) -> torch.Tensor:
    """(B*heads, N, N) bool, True = may NOT attend.  Keys must be valid, within +-``window``
    positions (when given) and in the query's group (``groups`` (B, N): the enclosing unit of
    each token, when given); a query with no allowed key (padding) attends to itself."""
    n = valid.shape[1]
    index = torch.arange(n, device=valid.device)
    allowed = valid[:, None, :].expand(-1, n, -1)
    if window is not None:
        allowed = allowed & ((index[None, :, None] - index[None, None, :]).abs() <= window)
    if groups is not None:
        allowed = allowed & (groups[:, :, None] == groups[:, None, :])
    lonely = ~allowed.any(dim=-1)
    allowed = allowed | (lonely[..., None] & torch.eye(n, dtype=torch.bool, device=valid.device)[None])
    return (~allowed).repeat_interleave(n_heads, dim=0)


class LocalEncoder(nn.Module):
    """A stack of post-LN Transformer layers with local (windowed) or global attention."""

    def __init__(self, d: int, n_heads: int, n_layers: int, ffn: int, dropout: float, window: int | None):
        super().__init__()
        self.window, self.n_heads = window, n_heads
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d, n_heads, ffn, dropout, batch_first=True, norm_first=False) for _ in range(n_layers)
        )

    def forward(self, x: torch.Tensor, valid: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, N, d), valid (B, N) bool, groups (B, N) int or None -> (B, N, d), zero where invalid."""
        mask = attention_mask(valid, self.window, self.n_heads, groups)
        for layer in self.layers:
            x = layer(x, src_mask=mask)
        return x * valid[..., None]


def pool_units(x: torch.Tensor, units: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of frame features within each unit: (B, T, d), (B, T) -> tokens (B, N, d), token mask (B, N)."""
    n_units = int(units.max().item()) + 1 if units.numel() else 1
    weight = valid.to(x.dtype)[..., None]
    index = units[..., None].expand(-1, -1, x.shape[-1])
    sums = torch.zeros(x.shape[0], n_units, x.shape[-1], dtype=x.dtype, device=x.device).scatter_add_(1, index, x * weight)
    counts = torch.zeros(x.shape[0], n_units, 1, dtype=x.dtype, device=x.device).scatter_add_(1, units[..., None], weight)
    return sums / counts.clamp(min=1.0), counts[..., 0] > 0


def unit_parents(units: torch.Tensor, parents: torch.Tensor) -> torch.Tensor:
    """The enclosing (parent) unit of each unit: frame-level (B, T) indices of nested levels ->
    (B, N) with N = units.max() + 1 as in :func:`pool_units` (0 for units absent from a row)."""
    n_units = int(units.max().item()) + 1 if units.numel() else 1
    return torch.zeros(units.shape[0], n_units, dtype=parents.dtype, device=units.device).scatter_(1, units, parents)


def broadcast_units(tokens: torch.Tensor, units: torch.Tensor) -> torch.Tensor:
    """Tokens (B, N, d) back to frames (B, T, d) by unit index."""
    return tokens.gather(1, units[..., None].expand(-1, -1, tokens.shape[-1]))


def masked_mean(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B, T, d) -> (B, d) mean over valid frames."""
    weight = valid.to(x.dtype)[..., None]
    return (x * weight).sum(1) / weight.sum(1).clamp(min=1.0)
