"""The HiSTalk network (reference figure histalk_framework.png): audio features -> CMG coarse
motion C and FMR (HSF2S -> weight generation -> S2D) dense motion D -> M = D (+) C, all in
model units (multiply by ``config.motion_scale`` for data units)."""

from __future__ import annotations

import torch
from torch import nn

from ..positional import sinusoidal_positions
from .cmg import CoarseMotionGenerator
from .config import LEVELS, HiSTalkConfig
from .hsf2s import HierarchicalSpeechToSparse
from .s2d import SparseToDense
from .weights import WeightGeneration

# S2D branches in the figure's order (top to bottom): u, w, S, p, f
BRANCH_ORDER = ("utterance", "word", "sparse", "phone", "frame")


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
            self.cmg = CoarseMotionGenerator(d, config.n_heads, config.cmg_layers, config.n_vertices, config.basis_size,
                                             config.dropout, config.cmg_cutoff_hz, config.fps)
        else:
            self.cmg = None
        self.style = nn.Linear(len(config.speakers), d, bias=False) if config.use_style and config.speakers else None
        levels = tuple(level for level in LEVELS if level in config.levels)
        self.hsf2s = HierarchicalSpeechToSparse(config)
        self.weights = WeightGeneration(levels, config.n_landmarks, config.se_hidden, config.se_window, config.use_se_gate)
        # one branch per distinct input: with a single level S equals that level's stream
        self.branch_names = levels if len(levels) == 1 else tuple(
            name for name in BRANCH_ORDER if name == "sparse" or name in levels)
        s2d_layers = config.frame_only_s2d_layers or config.s2d_layers if config.frame_only else config.s2d_layers
        self.s2d = SparseToDense(self.branch_names, d, config.n_heads, s2d_layers, config.n_landmarks,
                                 config.n_vertices, config.dropout)

    def _embed(self, audio: torch.Tensor, mix: LayerMix, project: nn.Linear, speaker: torch.Tensor) -> torch.Tensor:
        """(B, T_a, L, D) features -> (B, T_a, d): normalise, mix layers, project, add positions
        and the speaker style (an unseen speaker, index -1, gets the mean training style)."""
        x = project(mix((audio - self.feature_mean) / self.feature_std))
        x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device)[None]
        if self.style is not None:
            n = self.style.in_features
            one_hot = torch.full((speaker.shape[0], n), 1.0 / n, device=x.device)
            known = speaker >= 0
            one_hot[known] = 0.0
            one_hot[known, speaker[known]] = 1.0
            x = x + self.style(one_hot)[:, None, :]
        return x

    def forward(self, batch: dict) -> dict:
        """batch (models.data.collate): audio (B, T_a, L, D), audio_mask, units (B, T_a), mask and
        mesh interpolation (B, T), speaker (B,).

        Returns at the mesh rate: streams {level: (B, T, K, 3)}, se_weights (B, T, n_levels, K),
        sparse S (B, T, K, 3), dense D, coarse C (with the CMG) and motion M (B, T, V, 3), fusion
        weights (B, T, n_branches).  ``combine=c_only`` trains as 'residual' but outputs M = C."""
        valid = batch["mask"]
        fine = self._embed(batch["audio"], self.mix_fine, self.input_fine, batch["speaker"])
        encoded = self.hsf2s(fine, batch)
        weighted, sparse, se_weights = self.weights(encoded["streams"], valid)
        dense, fusion = self.s2d({**weighted, "sparse": sparse}, encoded["hidden"], valid)
        out = {"streams": encoded["streams"], "se_weights": se_weights, "sparse": sparse, "dense": dense, "fusion": fusion}
        motion = dense
        if self.cmg is not None:
            coarse, _ = self.cmg(self._embed(batch["audio"], self.mix_coarse, self.input_coarse, batch["speaker"]), batch)
            out["coarse"] = coarse
            if self.config.combine == "c_only":
                motion = coarse
            elif self.config.combine != "d_only":
                motion = dense + coarse
        out["motion"] = motion * valid[:, :, None, None]
        return out
