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
    With ``span_valid`` (B, M) but no ``spans`` (a global stage) every valid token and word token
    sees every other.  A query with no allowed key (padding) attends to itself."""
    b, n = valid.shape
    m = 0 if span_valid is None else span_valid.shape[1]
    index = torch.arange(n, device=valid.device)
    tokens = valid[:, None, :].expand(-1, n, -1)
    if window is not None:
        tokens = tokens & ((index[None, :, None] - index[None, None, :]).abs() <= window)
    if groups is not None:
        tokens = tokens & (groups[:, :, None] == groups[:, None, :])
    allowed = tokens
    if m:
        if spans is None:  # global: every word token is everyone's
            own = valid[:, :, None] & span_valid[:, None, :]
            members = span_valid[:, :, None] & valid[:, None, :]
            eye = span_valid[:, :, None] & span_valid[:, None, :]
        else:
            own = (spans[:, :, None] == torch.arange(m, device=valid.device)[None, None, :]) & span_valid[:, None, :]
            members = own.transpose(1, 2) & valid[:, None, :]  # (B, M, N)
            eye = torch.eye(m, dtype=torch.bool, device=valid.device)[None] & span_valid[:, None, :]
        allowed = torch.cat([torch.cat([tokens, own], 2), torch.cat([members, eye.expand(b, -1, -1)], 2)], 1)
    lonely = ~allowed.any(dim=-1)
    allowed = allowed | (lonely[..., None] & torch.eye(n + m, dtype=torch.bool, device=valid.device)[None])
    return (~allowed).repeat_interleave(n_heads, dim=0)


class PostNormLayer(nn.Module):
    """A post-LN Transformer layer (ReLU FFN) that, given word tokens, updates them first: the
    word tokens attend (to their span's tokens and themselves), then the tokens attend to each
    other and to the updated word tokens, as in SpeechFormer++'s layers; then the FFN for both."""

    def __init__(self, d: int, n_heads: int, ffn: int, dropout: float):
        super().__init__()
        self.attention = nn.MultiheadAttention(d, n_heads, dropout=dropout, batch_first=True)
        self.linear1, self.linear2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.dropout = nn.Dropout(dropout)

    def _attend(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out, _ = self.attention(query, keys, keys, attn_mask=mask, need_weights=False)
        return self.norm1(query + self.dropout(out))

    def _feed(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm2(x + self.dropout(self.linear2(self.dropout(torch.relu(self.linear1(x))))))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, words: torch.Tensor | None = None):
        """x (B, N, d), words (B, M, d) or None, mask (B*heads, N+M, N+M) from :func:`attention_mask`
        -> (x, words) updated."""
        n = x.shape[1]
        if words is None:
            return self._feed(self._attend(x, x, mask)), None
        words = self._attend(words, torch.cat([x, words], 1), mask[:, n:])
        x = self._attend(x, torch.cat([x, words], 1), mask[:, :n])
        return self._feed(x), self._feed(words)


class LocalEncoder(nn.Module):
    """A stack of post-LN Transformer layers with local (windowed / in-unit) or global attention,
    optionally shared with word tokens (SpeechFormer++ stage)."""

    def __init__(self, d: int, n_heads: int, n_layers: int, ffn: int, dropout: float, window: int | None):
        super().__init__()
        self.window, self.n_heads = window, n_heads
        self.layers = nn.ModuleList(PostNormLayer(d, n_heads, ffn, dropout) for _ in range(n_layers))

    def forward(self, x: torch.Tensor, valid: torch.Tensor, groups: torch.Tensor | None = None,
                words: torch.Tensor | None = None, spans: torch.Tensor | None = None,
                span_valid: torch.Tensor | None = None):
        """x (B, N, d), valid (B, N) bool, groups/spans (B, N) int or None, words (B, M, d) or None
        (spans None with words: a global stage) -> (B, N, d) zero where invalid (and the updated
        word tokens when given)."""
        mask = attention_mask(valid, self.window, self.n_heads, groups, spans if words is not None else None,
                              span_valid if words is not None else None)
        for layer in self.layers:
            x, words = layer(x, mask, words)
        out = x * valid[..., None]
        return out if words is None else (out, words * span_valid[..., None])


class MergeBlock(nn.Module):
    """SpeechFormer++'s merge block: mean-pool the tokens of each unit, then Linear + LayerNorm
    (the same projection for the word tokens, which pass through the merge)."""

    def __init__(self, d: int):
        super().__init__()
        self.project = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, units: torch.Tensor, valid: torch.Tensor, words: torch.Tensor | None = None,
                span_valid: torch.Tensor | None = None):
        """x (B, T, d), units/valid (B, T) -> tokens (B, N, d), token mask (B, N), words (B, M, d) or None."""
        tokens, token_valid = pool_units(x, units, valid)
        tokens = self.norm(self.project(tokens)) * token_valid[..., None]
        if words is not None:
            words = self.norm(self.project(words)) * span_valid[..., None]
        return tokens, token_valid, words


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
