"""S2D: the multi-branch sparse-to-dense fusion decoder.

Five branches (u, w, S, p, f in the figure) take the weighted landmark streams u*F_u, w*F_w,
S, p*F_p, f*F_f (B, T, K, 3).  Each branch is a Transformer over mesh frames: the stream is
projected to d, gets positions, and goes through ``s2d_layers`` post-LN decoder layers with
self-attention over time and cross-attention to its level's hidden features F-hat (at the mesh
rate); the S branch, which has no single level, uses self-attention only.  An attention score
per branch and frame (tanh MLP), softmaxed over branches, fuses the branch outputs; a shared
linear layer (zero-initialised) maps them to dense displacements, so D = sum_b W_b * D_b with
D_b = head(h_b).
"""

from __future__ import annotations

import torch
from torch import nn

from ..positional import sinusoidal_positions


class Branch(nn.Module):
    def __init__(self, n_landmarks: int, d: int, n_heads: int, n_layers: int, dropout: float, cross: bool):
        super().__init__()
        self.project = nn.Linear(n_landmarks * 3, d)
        self.cross = cross
        layer = nn.TransformerDecoderLayer if cross else nn.TransformerEncoderLayer
        self.layers = nn.ModuleList(layer(d, n_heads, 2 * d, dropout, batch_first=True) for _ in range(n_layers))

    def forward(self, stream: torch.Tensor, memory: torch.Tensor | None, valid: torch.Tensor) -> torch.Tensor:
        """stream (B, T, K, 3), memory (B, T, d) or None, valid (B, T) -> (B, T, d)."""
        b, t = valid.shape
        h = self.project(stream.reshape(b, t, -1))
        h = (h + sinusoidal_positions(t, h.shape[-1], h.device)[None]) * valid[..., None]
        padding = ~valid
        for layer in self.layers:
            if self.cross:
                h = layer(h, memory, tgt_key_padding_mask=padding, memory_key_padding_mask=padding)
            else:
                h = layer(h, src_key_padding_mask=padding)
        return h * valid[..., None]


class SparseToDense(nn.Module):
    def __init__(self, branch_names: tuple[str, ...], d: int, n_heads: int, n_layers: int, n_landmarks: int,
                 n_vertices: int, dropout: float):
        super().__init__()
        self.names = branch_names
        self.branches = nn.ModuleDict({
            name: Branch(n_landmarks, d, n_heads, n_layers, dropout, cross=name != "sparse") for name in branch_names
        })
        self.score = nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, 1, bias=False))
        self.head = nn.Linear(d, n_vertices * 3)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, streams: dict[str, torch.Tensor], hidden: dict[str, torch.Tensor],
                valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """streams: name -> (B, T, K, 3); hidden: level -> (B, T, d).  Returns D (B, T, V, 3) and
        the fusion weights (B, T, n_branches), summing to 1 over branches."""
        outputs = torch.stack([self.branches[n](streams[n], hidden.get(n), valid) for n in self.names], dim=2)
        weights = torch.softmax(self.score(outputs).squeeze(-1), dim=-1)
        fused = (weights[..., None] * outputs).sum(dim=2)
        b, t, _ = fused.shape
        return self.head(fused).view(b, t, -1, 3), weights
