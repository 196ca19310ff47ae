"""CMG, the coarse motion generator: its own learned mix of the feature layers -> a light
Transformer (global attention, 50 Hz) -> coefficients of a low-rank PCA motion basis at the mesh
rate, temporally low-passed -> coarse displacements C (B, T, V, 3) in model units.

Coarse by construction, in space and time: the basis holds the fewest principal components
(at most ``cmg_basis``) that explain ``cmg_variance`` of the training motion after the same
low-pass (:func:`choose_rank`), and the coefficient trajectories go through a Gaussian low-pass
with its -3 dB point at ``cmg_cutoff_hz`` (:func:`low_pass`).  The basis and the mean
displacement are computed from the training split when a run starts and stored as buffers, so
they travel with every checkpoint.  The fine decoder D fits the residual M - C.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .layers import LocalEncoder, to_mesh

GAUSSIAN_3DB = 0.1325  # sigma * f for a Gaussian whose amplitude response is 1/sqrt(2) at f


def gaussian_kernel(cutoff_hz: float, fps: float) -> np.ndarray:
    """Normalised Gaussian taps (odd length, +-3 sigma) with its -3 dB point at ``cutoff_hz``;
    [1.0] when the cutoff is 0 (no filtering) or above the frame rate's Nyquist frequency."""
    if cutoff_hz <= 0 or cutoff_hz >= fps / 2:
        return np.ones(1)
    sigma = GAUSSIAN_3DB / cutoff_hz * fps  # frames
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return taps / taps.sum()


def low_pass_array(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """(T, C) -> (T, C) filtered along time, renormalised at the ends (no zero padding bias)."""
    if len(taps) == 1:
        return x
    ones = np.convolve(np.ones(len(x)), taps, mode="same")
    return np.stack([np.convolve(column, taps, mode="same") for column in x.T], 1) / ones[:, None]


def low_pass(x: torch.Tensor, valid: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """(B, T, C) -> (B, T, C) filtered along time over valid frames only."""
    if taps.numel() == 1:
        return x
    weight = valid.to(x.dtype)[:, None, :]  # (B, 1, T)
    kernel = taps.to(x.dtype)[None, None, :]
    pad = taps.numel() // 2
    flat = (x * valid[..., None]).transpose(1, 2).reshape(-1, 1, x.shape[1])
    sums = torch.nn.functional.conv1d(flat, kernel, padding=pad).view(x.shape[0], x.shape[2], -1)
    counts = torch.nn.functional.conv1d(weight, kernel, padding=pad)
    return (sums / counts.clamp(min=1e-6)).transpose(1, 2) * valid[..., None]


def choose_rank(explained: np.ndarray, variance: float, max_rank: int) -> int:
    """The fewest components whose cumulative explained fraction reaches ``variance`` (at most ``max_rank``)."""
    reached = np.flatnonzero(np.cumsum(explained) >= variance - 1e-12)
    return int(min(max_rank, reached[0] + 1 if reached.size else len(explained)))


def motion_basis(motion: np.ndarray, n_basis: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA of (N, V*3) displacements: mean (V*3,), basis (n_basis, V*3) orthonormal rows, and the
    fraction of variance each component explains (n_basis,)."""
    x = torch.from_numpy(np.asarray(motion, dtype=np.float32))
    mean = x.mean(0)
    centred = x - mean
    k = max(1, min(n_basis, *centred.shape))
    torch.manual_seed(seed)
    _, s, v = torch.svd_lowrank(centred, q=min(k + 8, *centred.shape), niter=4)
    total = float((centred ** 2).sum()) or 1.0
    return mean.numpy(), v[:, :k].T.contiguous().numpy(), (s[:k] ** 2).numpy().astype(np.float64) / total


class CoarseMotionGenerator(nn.Module):
    def __init__(self, d: int, n_heads: int, n_layers: int, n_vertices: int, n_basis: int, dropout: float,
                 cutoff_hz: float = 0.0, fps: float = 30.0):
        super().__init__()
        self.register_buffer("taps", torch.from_numpy(gaussian_kernel(cutoff_hz, fps)).float(), persistent=False)
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
        coefficients = low_pass(self.head(hidden), batch["mask"], self.taps)
        b, t, _ = coefficients.shape
        coarse = (coefficients @ self.basis + self.basis_mean).view(b, t, -1, 3)
        return coarse * batch["mask"][..., None, None], coefficients
