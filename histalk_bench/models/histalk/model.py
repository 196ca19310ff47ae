"""The HiSTalk network: audio features -> (C, S, D) -> M = D (+) C, all in model units
(multiply by ``config.motion_scale`` for data units)."""

from __future__ import annotations

import torch
from torch import nn

from ..positional import sinusoidal_positions
from .cmg import CoarseMotionGenerator
from .config import LEVELS, HiSTalkConfig
from .hsf2s import HierarchicalSpeechToSparse
from .s2d import SparseToDense


class LayerMix(nn.Module):
    """Softmax-weighted sum of backbone layers ('multi-scale speech embeddings'): (B, T, L, D) -> (B, T, D)."""

    def __init__(self, n_layers: int):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(n_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("btld,l->btd", x, torch.softmax(self.logits, dim=0))


class HiSTalk(nn.Module):
    def __init__(self, config: HiSTalkConfig):
        super().__init__()
        config.validate()
        self.config = config
        d = config.d_model
        self.register_buffer("feature_mean", torch.zeros(config.feature_dim))
        self.register_buffer("feature_std", torch.ones(config.feature_dim))
        self.mix_fine = LayerMix(config.feature_layers)
        self.input_fine = nn.Linear(config.feature_dim, d)
        if config.use_cmg:  # CMG has its own layer mix and projection of the backbone features
            self.mix_coarse = LayerMix(config.feature_layers)
            self.input_coarse = nn.Linear(config.feature_dim, d)
        n_speakers = max(1, len(config.speakers))
        self.style = nn.Linear(n_speakers, d, bias=False) if config.use_style and config.speakers else None
        self.cmg = CoarseMotionGenerator(d, config.n_heads, config.cmg_layers, config.n_vertices, config.dropout) if config.use_cmg else None
        self.hsf2s = HierarchicalSpeechToSparse(config)
        self.branch_names = tuple(level for level in reversed(LEVELS) if level in config.levels) + ("sparse",)
        self.s2d = SparseToDense(self.branch_names, d, config.n_landmarks, config.n_vertices, config.dropout)

    def _embed(self, audio: torch.Tensor, mix: LayerMix, project: nn.Linear, speaker: torch.Tensor) -> torch.Tensor:
        x = (audio - self.feature_mean) / self.feature_std
        x = project(mix(x))
        x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device)[None]
        if self.style is not None:
            one_hot = torch.zeros(speaker.shape[0], self.style.in_features, device=x.device)
            known = speaker >= 0
            one_hot[known, speaker[known]] = 1.0
            x = x + self.style(one_hot)[:, None, :]
        return x

    def forward(self, batch: dict) -> dict:
        """batch: audio (B, T, L, D), mask (B, T), phone/word/utterance (B, T), speaker (B,).

        Returns coarse C, sparse S, dense D, motion M (B, T, V, 3 / K, 3), gates, fusion weights.
        """
        audio, valid, speaker = batch["audio"], batch["mask"], batch["speaker"]
        units = {key: batch[key] for key in ("phone", "word", "utterance")}
        out = {}
        fine = self._embed(audio, self.mix_fine, self.input_fine, speaker)
        hierarchy = self.hsf2s(fine, valid, units)
        inputs = {level: hierarchy["gates"][level][:, :, None] * hierarchy["features"][level] for level in self.config.levels}
        b, t = valid.shape
        inputs["sparse"] = hierarchy["sparse"].reshape(b, t, -1)
        dense, fusion = self.s2d(inputs, valid)
        out.update(sparse=hierarchy["sparse"], sparse_levels=hierarchy["sparse_levels"], gates=hierarchy["gates"],
                   dense=dense, fusion=fusion)
        if self.cmg is not None:
            coarse = self.cmg(self._embed(audio, self.mix_coarse, self.input_coarse, speaker), valid)
            out["coarse"] = coarse
            mode = self.config.combine
            motion = dense if mode == "d_only" else (coarse.detach() if mode == "sum_detached" else coarse) + dense
        else:
            motion = dense
        out["motion"] = motion * valid[:, :, None, None]
        return out
