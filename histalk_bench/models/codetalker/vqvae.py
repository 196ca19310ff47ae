"""CodeTalker's stage 1: a VQ-VAE over facial motion (displacements from the template).

Attribute names follow the official state dicts (``encoder.*``, ``decoder.*``,
``quantize.embedding``) so ``{vocaset,biwi}_stage1.pth.tar`` loads unchanged.  Behaviour that
decides the numbers, reproduced as the official code runs it:

- the Transformer blocks are pre-norm (LayerNorm eps 1e-5), without a final norm or a mask;
  attention scores are scaled by 1/sqrt(width) (the block width, e.g. 1024), not by
  1/sqrt(head width); the MLP's GELU is the tanh approximation;
- the sinusoidal encoding buffer ``pe`` has shape (5000, 1, width) and the official code adds
  ``pe[:batch]`` to batch-first tensors, so with its batch of one every frame gets position 0's
  vector.  Here every sequence gets position 0's vector whatever the batch size (the official
  batch-of-one behaviour, also when speaker conditions are decoded together);
- Conv1d (kernel 5, replicate padding) + LeakyReLU(0.2) + InstanceNorm1d (no affine) on the
  motion axis: the normalisation spans the whole sequence given;
- quantisation picks the nearest codebook entry by ``|z|^2 + |e|^2 - 2 z.e`` (the official
  formula; run it with TF32 off so near-ties resolve as in float32).

Shapes: motion (B, T, V*3); a frame's code vector (B, T, codes_per_frame * code_dim), the
concatenation of its ``codes_per_frame`` quantised tokens of ``code_dim`` values.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..positional import sinusoidal_positions
from .config import VQConfig


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GELU with the tanh approximation (the official MLP's activation)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3))))


class WidthScaledAttention(nn.Module):
    """Multi-head self-attention without mask; scores scaled by 1/sqrt(width).

    ``to_qkv`` (3 * width, width) packs q, k, v then heads: channel = part * width + head * dh + i."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.scale = width ** -0.5
        self.to_qkv = nn.Linear(width, 3 * width, bias=False)
        self.to_out = nn.Linear(width, width)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, width = x.shape
        return x.view(b, n, self.heads, width // self.heads).transpose(1, 2)  # (B, h, n, dh)

    def forward(self, x: torch.Tensor, queries: int | None = None) -> torch.Tensor:
        """x (B, n, width) -> (B, n', width): n' = n, or the last ``queries`` rows only."""
        if queries is None:
            q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        else:  # keys and values of every row, queries of the last rows only
            width = x.shape[-1]
            q = F.linear(x[:, -queries:], self.to_qkv.weight[:width])
            k, v = F.linear(x, self.to_qkv.weight[width:]).chunk(2, dim=-1)
        q, k, v = self._split(q), self._split(k), self._split(v)
        weights = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * self.scale, dim=-1)
        out = torch.matmul(weights, v).transpose(1, 2).reshape(q.shape[0], q.shape[2], -1)
        return self.to_out(out)


class TanhGeluMLP(nn.Module):
    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.l1 = nn.Linear(width, hidden)
        self.l2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l2(gelu_tanh(self.l1(x)))


class PreNorm(nn.Module):
    """LayerNorm then ``fn`` (official names: ``norm``, ``fn``)."""

    def __init__(self, fn: nn.Module, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, eps=1e-5)
        self.fn = fn


class Residual(nn.Module):
    """x + fn.fn(fn.norm(x)) (official names: ``fn.norm``, ``fn.fn``)."""

    def __init__(self, fn: nn.Module, width: int):
        super().__init__()
        self.fn = PreNorm(fn, width)

    def forward(self, x: torch.Tensor, queries: int | None = None) -> torch.Tensor:
        normed = self.fn.norm(x)
        if isinstance(self.fn.fn, WidthScaledAttention):
            out = self.fn.fn(normed, queries)
        else:
            out = self.fn.fn(normed if queries is None else normed[:, -queries:])
        return (x if queries is None else x[:, -queries:]) + out


class BlockStack(nn.Module):
    """``depth`` pre-norm blocks, stored as ``net.{2i}`` (attention) and ``net.{2i+1}`` (MLP)."""

    def __init__(self, width: int, depth: int, heads: int, mlp: int):
        super().__init__()
        blocks = []
        for _ in range(depth):
            blocks += [Residual(WidthScaledAttention(width, heads), width), Residual(TanhGeluMLP(width, mlp), width)]
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor, last_rows: int | None = None) -> torch.Tensor:
        """x (B, n, width) -> (B, n, width), or only the last ``last_rows`` rows: the final block
        then attends from those rows alone (the earlier blocks still see every row)."""
        blocks = list(self.net)
        for block in blocks[:-2]:
            x = block(x)
        x = blocks[-2](x, last_rows)
        return blocks[-1](x)


class Linear(nn.Module):
    """A Linear layer under the official name ``net``."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.net = nn.Linear(n_in, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _temporal_conv(width: int, slope: float) -> nn.Sequential:
    """Conv1d(k5, replicate padding) + LeakyReLU + InstanceNorm1d (no affine), on (B, C, T)."""
    return nn.Sequential(nn.Conv1d(width, width, 5, stride=1, padding=2, padding_mode="replicate"),
                         nn.LeakyReLU(slope), nn.InstanceNorm1d(width, affine=False))


class BatchFirstPositionQuirk(nn.Module):
    """The official sinusoidal encoding: buffer ``pe`` (5000, 1, width); what it adds to a
    batch-first (B, T, width) tensor of a batch of one is ``pe[0]`` at every frame."""

    def __init__(self, width: int, max_len: int = 5000, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)  # active in training only, as the official
        self.register_buffer("pe", sinusoidal_positions(max_len, width)[:, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x + self.pe[0].to(x.dtype))


class MotionEncoder(nn.Module):
    def __init__(self, config: VQConfig):
        super().__init__()
        width = config.hidden
        self.vertice_mapping = nn.Sequential(nn.Linear(config.n_vertices * 3, width), nn.LeakyReLU(config.negative_slope))
        self.squasher = nn.Sequential(_temporal_conv(width, config.negative_slope))
        self.encoder_transformer = BlockStack(width, config.depth, config.heads, config.mlp)
        self.encoder_pos_embedding = BatchFirstPositionQuirk(width)
        self.encoder_linear_embedding = Linear(width, width)
        if config.projections:
            self.encoder_linear_embedding_post = Linear(width, config.frame_code_width)

    def forward(self, motion: torch.Tensor) -> torch.Tensor:
        """motion (B, T, V*3) -> unquantised frame codes (B, T, codes_per_frame * code_dim)."""
        x = self.vertice_mapping(motion)
        x = self.squasher(x.transpose(1, 2)).transpose(1, 2)
        x = self.encoder_transformer(self.encoder_pos_embedding(self.encoder_linear_embedding(x)))
        if hasattr(self, "encoder_linear_embedding_post"):
            x = self.encoder_linear_embedding_post(x)
        return x


class MotionDecoder(nn.Module):
    def __init__(self, config: VQConfig):
        super().__init__()
        width = config.hidden
        if config.projections:
            self.decoder_linear_embedding_pre = Linear(config.frame_code_width, width)
        self.expander = nn.ModuleList([_temporal_conv(width, config.negative_slope)])
        self.decoder_transformer = BlockStack(width, config.depth, config.heads, config.mlp)
        self.decoder_pos_embedding = BatchFirstPositionQuirk(width)
        self.decoder_linear_embedding = Linear(width, width)
        self.vertice_map_reverse = nn.Linear(width, config.n_vertices * 3, bias=config.output_bias)

    def forward(self, codes: torch.Tensor, last_rows: int | None = None) -> torch.Tensor:
        """codes (B, T, codes_per_frame * code_dim) -> motion (B, T, V*3), or its last ``last_rows``
        frames only (same values: the convolution, normalisation and earlier blocks still span T)."""
        x = codes
        if hasattr(self, "decoder_linear_embedding_pre"):
            x = self.decoder_linear_embedding_pre(x)
        x = self.expander[0](x.transpose(1, 2)).transpose(1, 2)
        x = self.decoder_pos_embedding(self.decoder_linear_embedding(x))
        return self.vertice_map_reverse(self.decoder_transformer(x, last_rows))


class Codebook(nn.Module):
    """``embedding`` (n_codes, code_dim): nearest-entry quantisation."""

    def __init__(self, n_codes: int, code_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(n_codes, code_dim)
        self.embedding.weight.data.uniform_(-1.0 / n_codes, 1.0 / n_codes)

    def indices(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (N, code_dim) -> (N,) nearest entries by |z|^2 + |e|^2 - 2 z.e (the official formula)."""
        e = self.embedding.weight
        distance = torch.sum(tokens ** 2, dim=1, keepdim=True) + torch.sum(e ** 2, dim=1) - 2 * torch.matmul(tokens, e.t())
        return torch.argmin(distance, dim=1)


class VQAutoEncoder(nn.Module):
    def __init__(self, config: VQConfig):
        super().__init__()
        self.config = config
        self.encoder = MotionEncoder(config)
        self.decoder = MotionDecoder(config)
        self.quantize = Codebook(config.n_codes, config.code_dim)

    def quantise(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """frames (..., codes_per_frame * code_dim) -> (quantised frames, same shape;
        indices (..., codes_per_frame)).  No gradient flows to the codebook from here."""
        tokens = frames.reshape(-1, self.config.code_dim)
        index = self.quantize.indices(tokens)
        quantised = self.quantize.embedding.weight[index].view(frames.shape)
        return quantised, index.view(*frames.shape[:-1], self.config.codes_per_frame)

    def quantise_with_loss(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training: straight-through quantised frames and the VQ loss
        beta * |sg(z_q) - z|^2 + |z_q - sg(z)|^2 (means)."""
        _, index = self.quantise(frames.detach())
        quantised = self.quantize.embedding.weight[index.reshape(-1)].view(frames.shape)  # gradient to the codebook
        loss = self.config.beta * torch.mean((quantised.detach() - frames) ** 2) + torch.mean((quantised - frames.detach()) ** 2)
        return frames + (quantised - frames).detach(), loss

    def decode(self, codes: torch.Tensor, last_rows: int | None = None) -> torch.Tensor:
        return self.decoder(codes, last_rows)

    def forward(self, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training: motion (B, T, V*3) -> (reconstruction (B, T, V*3), VQ loss)."""
        quantised, loss = self.quantise_with_loss(self.encoder(motion))
        return self.decode(quantised), loss
