"""S2D: sparse-to-dense multi-branch decoder with attention-based fusion.

Branches take the gated level features (u*F_u, w*F_w, p*F_p, f*F_f) and the sparse prediction
S; each is a temporal convolution block; a per-frame attention score per branch, softmaxed over
branches (weights sum to 1), fuses them; a linear head gives dense displacements D (B, T, V, 3).
"""

from __future__ import annotations

import torch
from torch import nn


class Branch(nn.Module):
    def __init__(self, d_in: int, d: int, dropout: float):
        super().__init__()
        self.project = nn.Linear(d_in, d)
        self.conv = nn.Conv1d(d, d, kernel_size=3, padding=1)
        self.out = nn.Sequential(nn.GELU(), nn.Dropout(dropout), nn.Linear(d, d))
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        h = self.project(x) * valid[..., None]
        h = h + self.conv(h.transpose(1, 2)).transpose(1, 2)
        return self.norm(h + self.out(h)) * valid[..., None]


class SparseToDense(nn.Module):
    def __init__(self, branch_names: tuple[str, ...], d: int, n_landmarks: int, n_vertices: int, dropout: float):
        super().__init__()
        self.names = branch_names
        self.branches = nn.ModuleDict({
            name: Branch(n_landmarks * 3 if name == "sparse" else d, d, dropout) for name in branch_names
        })
        self.score = nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, 1, bias=False))
        self.head = nn.Linear(d, n_vertices * 3)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, inputs: dict[str, torch.Tensor], valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """inputs: name -> (B, T, d) (or (B, T, K*3) for 'sparse'); returns D (B, T, V, 3) and
        fusion weights (B, T, n_branches) summing to 1 over branches."""
        hidden = torch.stack([self.branches[n](inputs[n], valid) for n in self.names], dim=2)  # (B, T, n, d)
        weights = torch.softmax(self.score(hidden).squeeze(-1), dim=-1)
        fused = (weights[..., None] * hidden).sum(dim=2)
        b, t, _ = fused.shape
        return self.head(fused).view(b, t, -1, 3), weights
