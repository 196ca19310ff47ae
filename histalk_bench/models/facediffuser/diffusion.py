"""Gaussian diffusion as FaceDiffuser uses it (the improved-DDPM/MDM formulation): a cosine
noise schedule, a denoiser that predicts x0, the fixed-small posterior variance and ancestral
sampling.  Coefficients are float64 numpy arrays; each step uses them as float32 scalars, as the
official sampler does when it indexes them into tensors.

The noise contract (the official code seeds nothing; this is ours, and it is what
``torch.manual_seed(seed)`` before the official ``p_sample_loop`` draws on a CPU): one CPU
``torch.Generator`` seeded with ``seed`` per sequence and speaker condition; x_T is its first draw,
of shape (1, T, D), then one draw of that shape after each denoising step, the last one multiplied
by 0.  Conditions sampled together share x_T and every later draw (each condition's own generator
would give the same numbers).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch


def cosine_betas(steps: int, max_beta: float = 0.999) -> np.ndarray:
    """(steps,) float64 betas of the cosine schedule (Nichol & Dhariwal 2021): alpha_bar(t) =
    cos((t + 0.008) / 1.008 * pi / 2) ** 2 on t in [0, 1], beta_i = 1 - alpha_bar((i+1)/S) /
    alpha_bar(i/S), capped at ``max_beta``."""
    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    return np.array([min(1 - alpha_bar((i + 1) / steps) / alpha_bar(i / steps), max_beta) for i in range(steps)],
                    dtype=np.float64)


class CosineDiffusion:
    """The schedule's coefficients for x0-predicting ancestral sampling and for training."""

    def __init__(self, steps: int):
        if steps < 2:
            raise ValueError("diffusion needs at least 2 steps")
        self.steps = steps
        betas = cosine_betas(steps)
        alphas_cumprod = np.cumprod(1.0 - betas)
        previous = np.append(1.0, alphas_cumprod[:-1])
        self.sqrt_alphas_cumprod = np.sqrt(alphas_cumprod)
        self.sqrt_one_minus_alphas_cumprod = np.sqrt(1.0 - alphas_cumprod)
        variance = betas * (1.0 - previous) / (1.0 - alphas_cumprod)  # fixed small: the posterior's
        self.posterior_log_variance = np.log(np.append(variance[1], variance[1:]))  # step 0's is 0: clipped
        self.posterior_x0_coef = betas * np.sqrt(previous) / (1.0 - alphas_cumprod)
        self.posterior_xt_coef = (1.0 - previous) * np.sqrt(1.0 - betas) / (1.0 - alphas_cumprod)

    @staticmethod
    def _scalar(values: np.ndarray, step: int) -> torch.Tensor:
        return torch.tensor(values[step], dtype=torch.float32)

    def posterior_step(self, x0: torch.Tensor, x_t: torch.Tensor, step: int, noise: torch.Tensor) -> torch.Tensor:
        """x_{t-1} = mean(x0, x_t) + sigma_t * noise (noise ignored at step 0)."""
        mean = self._scalar(self.posterior_x0_coef, step).to(x0.device) * x0 \
            + self._scalar(self.posterior_xt_coef, step).to(x0.device) * x_t
        sigma = torch.exp(0.5 * self._scalar(self.posterior_log_variance, step)).to(x0.device)
        return mean + float(step != 0) * sigma * noise

    def noised(self, x0: torch.Tensor, steps: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """q(x_t | x0) for a batch: ``steps`` (B,) long, x0 and noise (B, ...)."""
        shape = (-1,) + (1,) * (x0.dim() - 1)
        a = torch.from_numpy(self.sqrt_alphas_cumprod).to(x0.device)[steps].float().view(shape)
        b = torch.from_numpy(self.sqrt_one_minus_alphas_cumprod).to(x0.device)[steps].float().view(shape)
        return a * x0 + b * noise

    def sample(self, denoise: Callable[[torch.Tensor, int], torch.Tensor], shape: tuple[int, int, int],
               seed: int, batch: int = 1, device: torch.device | str = "cpu",
               on_step: Callable[[int], None] | None = None) -> torch.Tensor:
        """Ancestral sampling from step S-1 down to 0 under the noise contract above.

        ``denoise(x_t (batch, T, D), step) -> x0 (batch, T, D)``; ``shape`` = (1, T, D) is the shape
        of every draw; returns x_0 (batch, T, D)."""
        generator = torch.Generator(device="cpu").manual_seed(int(seed))
        x = torch.randn(shape, generator=generator).to(device).expand(batch, *shape[1:])
        for step in reversed(range(self.steps)):
            x0 = denoise(x, step)
            noise = torch.randn(shape, generator=generator).to(device)
            x = self.posterior_step(x0, x, step, noise)
            if on_step is not None:
                on_step(step)
        return x
