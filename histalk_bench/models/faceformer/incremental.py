"""Autoregressive decoding with cached past keys and values.

FaceFormer's decoder is one post-norm ``nn.TransformerDecoderLayer`` under a causal mask, so the
output at frame t depends on input tokens 0..t only: the official loop, which re-decodes the whole
prefix at every step, computes the same frame-t output T - t times.  Here each step decodes only
the new token; its self-attention reads the keys/values of earlier tokens from a cache and its
cross-attention reads the audio tokens it may see (token t, or 2t and 2t+1 for BIWI) from keys and
values projected once.  Outputs equal the full recomputation to float rounding (eval mode only:
dropout is not applied).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .masks import alibi_slopes


def _split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """(B, ..., d) -> (B, heads, ..., d / heads)."""
    b, *rest, d = x.shape
    return x.reshape(b, *rest, n_heads, d // n_heads).movedim(-2, 1)


class IncrementalDecoder:
    """``step(token)`` for a (B, d) input token at the next position -> (B, d) decoder output.

    ``memory`` (B or 1, S, d) are the projected audio tokens; ``tokens_per_frame`` audio tokens
    belong to each frame; ``max_len`` bounds the number of steps (cache size).
    """

    def __init__(self, layer: nn.TransformerDecoderLayer, memory: torch.Tensor, n_heads: int, period: int,
                 tokens_per_frame: int, max_len: int):
        if layer.norm_first or layer.training:
            raise ValueError("incremental decoding needs a post-norm decoder layer in eval mode")
        self.layer, self.n_heads, self.period, self.tpf = layer, n_heads, period, tokens_per_frame
        self.slopes = alibi_slopes(n_heads).to(memory)[None, :, None]  # (1, heads, 1)
        cross = layer.multihead_attn
        d = cross.embed_dim
        k = F.linear(memory, cross.in_proj_weight[d:2 * d], cross.in_proj_bias[d:2 * d])
        v = F.linear(memory, cross.in_proj_weight[2 * d:], cross.in_proj_bias[2 * d:])
        self.memory_k, self.memory_v = _split_heads(k, n_heads), _split_heads(v, n_heads)  # (B|1, h, S, dh)
        self.keys = self.values = None
        self.max_len, self.t = max_len, 0
        self.scale = 1.0 / math.sqrt(d // n_heads)

    def _self_attention(self, x: torch.Tensor) -> torch.Tensor:
        attention = self.layer.self_attn
        q, k, v = F.linear(x, attention.in_proj_weight, attention.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (_split_heads(part, self.n_heads) for part in (q, k, v))  # (B, h, dh)
        if self.keys is None:
            shape = (*k.shape[:2], self.max_len, k.shape[-1])
            self.keys, self.values = k.new_zeros(shape), v.new_zeros(shape)
        t = self.t
        self.keys[:, :, t], self.values[:, :, t] = k, v
        distance = torch.div(t - torch.arange(t + 1, device=x.device), self.period, rounding_mode="floor")
        scores = torch.einsum("bhd,bhjd->bhj", q * self.scale, self.keys[:, :, : t + 1])
        weights = torch.softmax(scores - self.slopes * distance.to(scores), dim=-1)
        context = torch.einsum("bhj,bhjd->bhd", weights, self.values[:, :, : t + 1])
        return attention.out_proj(context.reshape(len(x), -1))

    def _cross_attention(self, x: torch.Tensor) -> torch.Tensor:
        attention = self.layer.multihead_attn
        d = attention.embed_dim
        q = _split_heads(F.linear(x, attention.in_proj_weight[:d], attention.in_proj_bias[:d]), self.n_heads)
        start = self.t * self.tpf
        keys, values = self.memory_k[:, :, start:start + self.tpf], self.memory_v[:, :, start:start + self.tpf]
        if keys.shape[2] == 0:
            raise ValueError(f"frame {self.t} has no audio token (memory of {self.memory_k.shape[2]} tokens)")
        weights = torch.softmax(torch.einsum("bhd,bhjd->bhj", q * self.scale, keys), dim=-1)
        context = torch.einsum("bhj,bhjd->bhd", weights, values)
        return attention.out_proj(context.reshape(len(x), -1))

    def step(self, token: torch.Tensor) -> torch.Tensor:
        """token (B, d) (positional encoding added) -> (B, d) decoder output at this position."""
        if self.t >= self.max_len:
            raise ValueError(f"more than {self.max_len} steps")
        layer = self.layer
        x = layer.norm1(token + self._self_attention(token))
        x = layer.norm2(x + self._cross_attention(x))
        x = layer.norm3(x + layer.linear2(layer.activation(layer.linear1(x))))
        self.t += 1
        return x
