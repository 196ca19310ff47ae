"""Weight generation module (the figure's SE gating): squeeze the per-level landmark streams
F_f, F_p, F_w, F_u jointly, excite one weight per level, landmark and mesh frame, normalised
across levels (softmax), and form S = sum_level w_level * F_level.

Squeeze: the streams are concatenated to (B, T, n_levels * K * 3) and averaged over a temporal
window of ``se_window`` mesh frames (valid frames only).  Excitation: Linear -> ReLU -> Linear
to n_levels * K logits per frame, softmax over levels.  Without the gate (``use_se_gate=False``)
every weight is 1 / n_levels.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def masked_window_mean(x: torch.Tensor, valid: torch.Tensor, window: int) -> torch.Tensor:
    """(B, T, C) -> (B, T, C): mean over valid frames within +-window//2 of each frame."""
    weight = valid.to(x.dtype)[:, None, :]
    sums = F.avg_pool1d((x * valid[..., None]).transpose(1, 2), window, 1, window // 2, count_include_pad=False)
    counts = F.avg_pool1d(weight, window, 1, window // 2, count_include_pad=False)
    return (sums / counts.clamp(min=1e-6)).transpose(1, 2)[:, : x.shape[1]]


class WeightGeneration(nn.Module):
    def __init__(self, levels: tuple[str, ...], n_landmarks: int, hidden: int, window: int, enabled: bool):
        super().__init__()
        if window < 1 or window % 2 == 0:
            raise ValueError(f"se_window must be odd and positive (centred on its frame), got {window}")
        self.levels, self.window = levels, window
        self.enabled = enabled and len(levels) > 1
        n = len(levels) * n_landmarks
        self.excite = nn.Sequential(nn.Linear(n * 3, hidden), nn.ReLU(), nn.Linear(hidden, n)) if self.enabled else None

    def forward(self, streams: dict[str, torch.Tensor], valid: torch.Tensor) -> tuple[dict, torch.Tensor, torch.Tensor]:
        """streams: level -> (B, T, K, 3).  Returns the weighted streams (level -> (B, T, K, 3)),
        S (B, T, K, 3) and the weights (B, T, n_levels, K) summing to 1 over levels."""
        stacked = torch.stack([streams[level] for level in self.levels], dim=2)  # (B, T, L, K, 3)
        b, t, n_levels, k, _ = stacked.shape
        if self.excite is None:
            weights = stacked.new_full((b, t, n_levels, k), 1.0 / n_levels)
        else:
            squeezed = masked_window_mean(stacked.reshape(b, t, -1), valid, self.window)
            weights = torch.softmax(self.excite(squeezed).view(b, t, n_levels, k), dim=2)
        weighted = stacked * weights[..., None]
        return {level: weighted[:, :, i] for i, level in enumerate(self.levels)}, weighted.sum(2), weights
