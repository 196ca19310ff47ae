"""HiSTalk losses (targets in model units): coarse, sparse (+ mouth-weighted + velocity) and
dense (+ lip-weighted + velocity); weights from the config."""

from __future__ import annotations

import torch

from .config import HiSTalkConfig


def masked_mse(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, ids: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over valid frames (and the given point ids): pred/target (B, T, P, 3)."""
    if ids is not None:
        pred, target = pred[:, :, ids], target[:, :, ids]
    error = ((pred - target) ** 2).mean(dim=(2, 3))
    return (error * valid).sum() / valid.sum().clamp(min=1)


def velocity_mse(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    both = valid[:, 1:] & valid[:, :-1]
    return masked_mse(pred[:, 1:] - pred[:, :-1], target[:, 1:] - target[:, :-1], both)


def histalk_loss(out: dict, motion: torch.Tensor, sparse: torch.Tensor, valid: torch.Tensor, config: HiSTalkConfig,
                 lip_ids: torch.Tensor, mouth_landmarks: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts. ``motion``/``sparse``: targets already divided by motion_scale."""
    parts = {}
    dense = masked_mse(out["motion"], motion, valid) + config.w_lip * masked_mse(out["motion"], motion, valid, lip_ids) \
        + config.w_velocity * velocity_mse(out["motion"], motion, valid)
    parts["dense"] = dense
    sparse_loss = masked_mse(out["sparse"], sparse, valid) + config.w_velocity * velocity_mse(out["sparse"], sparse, valid)
    if mouth_landmarks.numel():
        sparse_loss = sparse_loss + config.w_mouth * masked_mse(out["sparse"], sparse, valid, mouth_landmarks)
    parts["sparse"] = sparse_loss
    total = config.w_dense * dense + config.w_sparse * sparse_loss
    if "coarse" in out:
        parts["coarse"] = masked_mse(out["coarse"], motion, valid)
        total = total + config.w_coarse * parts["coarse"]
    return total, {k: float(v.detach()) for k, v in parts.items()}
