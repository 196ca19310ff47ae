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


def fitted_motion(out: dict, config: HiSTalkConfig) -> torch.Tensor:
    """What L_f compares with the ground truth: D + sg(C) ('residual': D fits what C leaves),
    D + C ('joint') or D ('d_only', or no CMG)."""
    if "coarse" not in out or config.combine == "d_only":
        return out["dense"]
    return out["dense"] + (out["coarse"].detach() if config.combine == "residual" else out["coarse"])


def histalk_loss(out: dict, motion: torch.Tensor, sparse: torch.Tensor, valid: torch.Tensor, config: HiSTalkConfig,
                 lip_ids: torch.Tensor, mouth_landmarks: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss w_dense L_f + w_sparse L_s + w_coarse L_c and its parts.  ``motion``/``sparse``:
    targets already divided by motion_scale.

    L_f = MSE + w_lip lip-MSE + w_velocity velocity-MSE of :func:`fitted_motion` vs D_gt;
    L_s = MSE + w_mouth mouth-landmark MSE + w_velocity velocity-MSE of S vs S_gt;
    L_c = MSE of C vs D_gt (C lives in a PCA basis, so it can only fit the coarse part)."""
    parts = {}
    fitted = fitted_motion(out, config)
    parts["dense"] = masked_mse(fitted, motion, valid) + config.w_lip * masked_mse(fitted, motion, valid, lip_ids) \
        + config.w_velocity * velocity_mse(fitted, motion, valid)
    sparse_loss = masked_mse(out["sparse"], sparse, valid) + config.w_velocity * velocity_mse(out["sparse"], sparse, valid)
    if mouth_landmarks.numel():
        sparse_loss = sparse_loss + config.w_mouth * masked_mse(out["sparse"], sparse, valid, mouth_landmarks)
    parts["sparse"] = sparse_loss
    total = config.w_dense * parts["dense"] + config.w_sparse * sparse_loss
    if "coarse" in out:
        parts["coarse"] = masked_mse(out["coarse"], motion, valid)
        total = total + config.w_coarse * parts["coarse"]
    return total, {k: float(v.detach()) for k, v in parts.items()}
