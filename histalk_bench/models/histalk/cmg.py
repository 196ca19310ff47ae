"""CMG, the coarse motion generator: its own learned mix of the feature layers -> a light
Transformer (global attention, 50 Hz) -> coefficients of a low-dimensional PCA motion basis at
the mesh rate -> coarse displacements C (B, T, V, 3) in model units.

The basis (``cmg_basis`` components and the mean displacement) is computed from the training
split when a run starts (:func:`motion_basis`) and stored as buffers, so it travels with every
checkpoint.  C can only express the dominant low-dimensional motion; the fine decoder D fits
the residual M - C.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .layers import LocalEncoder, to_mesh


def motion_basis(motion: np.ndarray, n_basis: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """PCA of (N, V*3) displacements: mean (V*3,), basis (n_basis, V*3) orthonormal rows, and the
    fraction of variance the basis explains."""
    x = torch.from_numpy(np.asarray(motion, dtype=np.float32))
    mean = x.mean(0)
    centred = x - mean
    k = max(1, min(n_basis, *centred.shape))
    torch.manual_seed(seed)
    _, s, v = torch.svd_lowrank(centred, q=min(k + 8, *centred.shape), niter=4)
    total = float((centred ** 2).sum()) or 1.0
    return mean.numpy(), v[:, :k].T.contiguous().numpy(), float((s[:k] ** 2).sum()) / total


class CoarseMotionGenerator(nn.Module):
    def __init__(self, d: int, n_heads: int, n_layers: int, n_vertices: int, n_basis: int, dropout: float):
        super().__init__()
        self.encoder = LocalEncoder(d, n_heads, n_layers, 2 * d, dropout, window=None)
        self.register_buffer("basis", torch.zeros(n_basis, n_vertices * 3))
        self.register_buffer("basis_mean", torch.zeros(n_vertices * 3))
        self.head = nn.Linear(d, n_basis)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def set_basis(self, mean: np.ndarray, basis: np.ndarray) -> None:
        self.basis_mean.copy_(torch.from_numpy(mean))
        self.basis[: basis.shape[0]].copy_(torch.from_numpy(basis))

    def forward(self, x: torch.Tensor, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T_a, d) embedded acoustic frames -> C (B, T, V, 3) and coefficients (B, T, n_basis)."""
        hidden = to_mesh(self.encoder(x, batch["audio_mask"]), batch)
        coefficients = self.head(hidden)
        b, t, _ = coefficients.shape
        coarse = (coefficients @ self.basis + self.basis_mean).view(b, t, -1, 3)
        return coarse * batch["mask"][..., None, None], coefficients
