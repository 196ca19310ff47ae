"""A straightforward restatement of the official FaceDiffuser inference (uuembodiedsocialai/
FaceDiffuser: models.py ``FaceDiff``, utils.py ``create_gaussian_diffusion``, the guided-diffusion
``p_sample_loop``) for tests: batch 1, one condition at a time, HuBERT recomputed at every step,
the global torch RNG (seeded with ``torch.manual_seed(seed)`` before the loop).  Written from the
official code's behaviour; it does not import histalk_bench's FaceDiffuser."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def processor_normalise(audio: np.ndarray) -> np.ndarray:
    """Wav2Vec2Processor's per-utterance zero-mean unit-variance normalisation."""
    audio = np.asarray(audio, dtype=np.float32)
    return ((audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)).astype(np.float32)


def official_adjust(audio_states, motion, ifps, ofps):
    """``adjust_input_representation``: bring the 50 Hz states to the motion's frame count."""
    if ifps % ofps == 0:
        factor = -1 * (-ifps // ofps)
        if audio_states.shape[1] % 2 != 0:
            audio_states = audio_states[:, : audio_states.shape[1] - 1]
        if audio_states.shape[1] > motion.shape[1] * 2:
            audio_states = audio_states[:, : motion.shape[1] * 2]
        elif audio_states.shape[1] < motion.shape[1] * 2:
            motion = motion[:, : audio_states.shape[1] // 2]
    elif ifps > ofps:
        factor = -1 * (-ifps // ofps)
        size = motion.shape[1] * factor
        audio_states = F.interpolate(audio_states.transpose(1, 2), size=size, align_corners=True, mode="linear").transpose(1, 2)
    else:
        factor = 1
        audio_states = F.interpolate(audio_states.transpose(1, 2), size=motion.shape[1], align_corners=True,
                                     mode="linear").transpose(1, 2)
    frame_num = motion.shape[1]
    audio_states = torch.reshape(audio_states, (1, audio_states.shape[1] // factor, audio_states.shape[2] * factor))
    return audio_states, motion, frame_num


class OfficialFaceDiff(nn.Module):
    """``FaceDiff`` with the official submodule names; ``hubert`` is a transformers HubertModel."""

    def __init__(self, hubert, vertice_dim, latent_dim, diffusion_steps, gru_dim, gru_layers, n_subjects, output_fps):
        super().__init__()
        self.i_fps, self.o_fps = 50, output_fps
        self.one_hot_timesteps = np.eye(diffusion_steps)
        self.audio_encoder = hubert
        cond_feature_dim = hubert.config.hidden_size * 2
        self.cond_projection = nn.Linear(cond_feature_dim, latent_dim)
        self.input_projection = nn.Sequential(nn.Linear(vertice_dim, latent_dim * 2), nn.Conv1d(1, 1, kernel_size=9, padding="same"),
                                              nn.ReLU(), nn.MaxPool1d(kernel_size=2, stride=2), nn.ReLU())
        self.time_mlp = nn.Sequential(nn.Linear(diffusion_steps, latent_dim), nn.Mish())
        self.norm_cond = nn.LayerNorm(latent_dim * 3)
        self.gru = nn.GRU(latent_dim * 3, gru_dim, num_layers=gru_layers, batch_first=True, dropout=0.3)
        self.final_layer = nn.Linear(gru_dim, vertice_dim)
        self.obj_vector = nn.Linear(n_subjects, latent_dim, bias=False)

    def forward(self, x, times, cond_embed, template, one_hot):
        times = torch.FloatTensor(self.one_hot_timesteps[times.numpy()])
        template = template.unsqueeze(1)
        obj_embedding = self.obj_vector(one_hot)
        x = x.permute(1, 0, 2)
        x = self.input_projection(x)
        x = x.permute(1, 0, 2)
        hidden_states = self.audio_encoder(cond_embed).last_hidden_state  # recomputed at every step
        hidden_states, x, frame_num = official_adjust(hidden_states, x, self.i_fps, self.o_fps)
        cond_embed = hidden_states[:, :frame_num]
        x = x[:, :frame_num]
        cond_tokens = self.cond_projection(cond_embed)
        t_tokens = self.time_mlp(times).repeat(frame_num, 1, 1).permute(1, 0, 2)
        full = self.norm_cond(torch.cat([cond_tokens, x, t_tokens], dim=-1))
        output, _ = self.gru(full)
        output = output * obj_embedding
        return self.final_layer(output) + template


def official_cosine_betas(steps):
    def alpha_bar(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / steps) / alpha_bar(i / steps), 0.999) for i in range(steps)]
    # SpacedDiffusion with every step kept re-derives the betas from the cumulative products
    last, spaced = 1.0, []
    for alpha_cumprod in np.cumprod(1.0 - np.array(betas, dtype=np.float64)):
        spaced.append(1 - alpha_cumprod / last)
        last = alpha_cumprod
    return np.array(spaced, dtype=np.float64)


class OfficialDiffusion:
    """The guided-diffusion GaussianDiffusion with START_X, FIXED_SMALL, no rescaling."""

    def __init__(self, steps):
        betas = official_cosine_betas(steps)
        self.num_timesteps = steps
        alphas = 1.0 - betas
        cumprod = np.cumprod(alphas, axis=0)
        prev = np.append(1.0, cumprod[:-1])
        self.posterior_variance = betas * (1.0 - prev) / (1.0 - cumprod)
        self.posterior_log_variance_clipped = np.log(np.append(self.posterior_variance[1], self.posterior_variance[1:]))
        self.coef1 = betas * np.sqrt(prev) / (1.0 - cumprod)
        self.coef2 = (1.0 - prev) * np.sqrt(alphas) / (1.0 - cumprod)

    @staticmethod
    def _extract(arr, t, shape):
        res = torch.from_numpy(arr)[t].float()
        while len(res.shape) < len(shape):
            res = res[..., None]
        return res.expand(shape)

    def p_sample(self, model, x, t, model_kwargs):
        x0 = model(x, t, **model_kwargs)
        mean = self._extract(self.coef1, t, x.shape) * x0 + self._extract(self.coef2, t, x.shape) * x
        log_variance = self._extract(self.posterior_log_variance_clipped, t, x.shape)
        noise = torch.randn_like(x)
        nonzero_mask = (t != 0).float().view(-1, *([1] * (len(x.shape) - 1)))
        return mean + nonzero_mask * torch.exp(0.5 * log_variance) * noise

    @torch.no_grad()
    def p_sample_loop(self, model, shape, model_kwargs):
        img = torch.randn(*shape)
        for i in list(range(self.num_timesteps))[::-1]:
            t = torch.tensor([i] * shape[0])
            img = self.p_sample(model, img, t, model_kwargs)
        return img


def official_sample(model: OfficialFaceDiff, diffusion: OfficialDiffusion, audio_16k: np.ndarray, template: np.ndarray,
                    condition: int, n_subjects: int, n_frames: int, seed: int) -> np.ndarray:
    """One official ``p_sample_loop`` call after ``torch.manual_seed(seed)``: (T, V, 3)."""
    audio = torch.from_numpy(processor_normalise(audio_16k))[None]
    one_hot = torch.eye(n_subjects)[condition:condition + 1]
    flat = torch.from_numpy(np.asarray(template, dtype=np.float32).reshape(1, -1))
    torch.manual_seed(seed)
    out = diffusion.p_sample_loop(model, (1, n_frames, flat.shape[1]),
                                  {"cond_embed": audio, "one_hot": one_hot, "template": flat})
    return out[0].reshape(n_frames, -1, 3).numpy()
