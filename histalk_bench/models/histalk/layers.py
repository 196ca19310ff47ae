"""Building blocks: masked local attention with word tokens, unit pooling, rate conversion."""

from __future__ import annotations

import torch
from torch import nn


def attention_mask(valid: torch.Tensor, window: int | None, n_heads: int, groups: torch.Tensor | None = None,
                   spans: torch.Tensor | None = None, span_valid: torch.Tensor | None = None) -> torch.Tensor:
    """(B*heads, N+M, N+M) bool, True = may NOT attend, for N tokens followed by M word tokens.

    Token i may attend to valid token j within +-``window`` positions (when given) and in its
    group (``groups`` (B, N): enclosing unit, when given), and to the word token of its span
    (``spans`` (B, N) in 0..M-1); word token m attends to itself and to the tokens of span m.
    A query with no allowed key (padding) attends to itself."""
    b, n = valid.shape
    m = 0 if spans is None else span_valid.shape[1]
    index = torch.arange(n, device=valid.device)
    tokens = valid[:, None, :].expand(-1, n, -1)
    if window is not None:
        tokens = tokens & ((index[None, :, None] - index[None, None, :]).abs() <= window)
    if groups is not None:
        tokens = tokens & (groups[:, :, None] == groups[:, None, :])
    allowed = tokens
    if m:
        own = (spans[:, :, None] == torch.arange(m, device=valid.device)[None, None, :]) & span_valid[:, None, :]
        members = own.transpose(1, 2) & valid[:, None, :]  # (B, M, N)
        eye = torch.eye(m, dtype=torch.bool, device=valid.device)[None] & span_valid[:, None, :]
        allowed = torch.cat([torch.cat([tokens, own], 2), torch.cat([members, eye.expand(b, -1, -1)], 2)], 1)
    lonely = ~allowed.any(dim=-1)
    allowed = allowed | (lonely[..., None] & torch.eye(n + m, dtype=torch.bool, device=valid.device)[None])
    return (~allowed).repeat_interleave(n_heads, dim=0)


class LocalEncoder(nn.Module):
    """A stack of post-LN Transformer layers with local (windowed / in-unit) or global attention,
    optionally shared with word tokens (SpeechFormer++ stage)."""

    def __init__(self, d: int, n_heads: int, n_layers: int, ffn: int, dropout: float, window: int | None):
        super().__init__()
        self.window, self.n_heads = window, n_heads
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d, n_heads, ffn, dropout, batch_first=True, norm_first=False) for _ in range(n_layers)
        )

    def forward(self, x: torch.Tensor, valid: torch.Tensor, groups: torch.Tensor | None = None,
                words: torch.Tensor | None = None, spans: torch.Tensor | None = None,
                span_valid: torch.Tensor | None = None):
        """x (B, N, d), valid (B, N) bool, groups/spans (B, N) int or None, words (B, M, d) or None
        -> (B, N, d) zero where invalid (and the updated word tokens when given)."""
        mask = attention_mask(valid, self.window, self.n_heads, groups, spans if words is not None else None, span_valid)
        n = x.shape[1]
        z = x if words is None else torch.cat([x, words], dim=1)
        for layer in self.layers:
            z = layer(z, src_mask=mask)
        out = z[:, :n] * valid[..., None]
        return out if words is None else (out, z[:, n:] * span_valid[..., None])


def pool_units(x: torch.Tensor, units: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge block: mean of frame features within each unit: (B, T, d), (B, T) -> tokens (B, N, d), mask (B, N)."""
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


def to_mesh(x: torch.Tensor, batch: dict) -> torch.Tensor:
    """Acoustic frames (B, T_a, ...) -> mesh frames (B, T, ...) by the batch's linear interpolation."""
    shape = x.shape
    flat = x.reshape(shape[0], shape[1], -1)

    def take(index):
        return flat.gather(1, index[..., None].expand(-1, -1, flat.shape[-1]))

    weight = batch["mesh_weight"][..., None].to(x.dtype)
    out = take(batch["mesh_low"]) * (1 - weight) + take(batch["mesh_high"]) * weight
    return (out * batch["mask"][..., None]).reshape((shape[0], out.shape[1]) + shape[2:])


def masked_mean(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B, T, d) -> (B, d) mean over valid frames."""
    weight = valid.to(x.dtype)[..., None]
    return (x * weight).sum(1) / weight.sum(1).clamp(min=1.0)
