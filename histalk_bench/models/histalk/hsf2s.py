"""HSF2S: SpeechFormer++-style hierarchical speech features -> sparse landmark displacements.

Frame stage (attention among the frames of one phone unit) -> pool frames into phone tokens ->
phone stage (attention among the phones of one word) -> pool into word tokens -> word stage
(attention among the words of one utterance chunk) -> pool into utterance tokens -> utterance
stage (global).  ``attention='window'`` uses sliding windows instead of enclosing units.  Each level's tokens are broadcast back to frames (F_f, F_p, F_w, F_u);
a linear landmarks head per level predicts sparse displacements and an SE gate per level
weights it: S = sum_level gate_level * head_level(F_level).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import LEVELS, HiSTalkConfig
from .layers import LocalEncoder, broadcast_units, masked_mean, pool_units, unit_parents

PARENT = {"frame": "phone", "phone": "word", "word": "utterance", "utterance": None}


class SEGate(nn.Module):
    """Squeeze (mean over valid frames) -> excitation MLP -> sigmoid weight in (0, 1) per sequence."""

    def __init__(self, d: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, max(4, d // 4)), nn.ReLU(), nn.Linear(max(4, d // 4), 1))

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(masked_mean(x, valid)))  # (B, 1)


class HierarchicalSpeechToSparse(nn.Module):
    def __init__(self, config: HiSTalkConfig):
        super().__init__()
        d, h, drop = config.d_model, config.n_heads, config.dropout
        ffn = max(16, d // 2)  # SpeechFormer++ uses a narrow FFN (d/2)
        by_unit = config.attention == "unit"
        self.by_unit = by_unit
        windows = {"frame": config.frame_window, "phone": config.phone_window, "word": config.word_window, "utterance": None}
        if by_unit:
            windows = dict.fromkeys(windows)
        self.levels = tuple(config.levels)
        self.use_gate = config.use_se_gate
        # only the kept levels get modules, so every parameter is used (DistributedDataParallel
        # needs that) and an ablated level costs nothing
        self.stages = nn.ModuleDict({
            level: LocalEncoder(d, h, n, ffn, drop, windows[level])
            for level, n in zip(LEVELS, config.stage_layers) if level in self.levels
        })
        self.heads = nn.ModuleDict({level: nn.Linear(d, config.n_landmarks * 3) for level in self.levels})
        self.gates = nn.ModuleDict({level: SEGate(d) for level in self.levels}) if self.use_gate else None

    def forward(self, x: torch.Tensor, valid: torch.Tensor, units: dict[str, torch.Tensor]) -> dict:
        """x (B, T, d) -> {'features': {level: (B, T, d)}, 'gates': {level: (B, 1)},
        'sparse_levels': {level: (B, T, K, 3)}, 'sparse': (B, T, K, 3)}."""
        b, t, _ = x.shape
        frame_groups = units["phone"] if self.by_unit else None
        current = self.stages["frame"](x, valid, frame_groups) if "frame" in self.stages else x * valid[..., None]
        features = {"frame": current} if "frame" in self.stages else {}
        for level in ("phone", "word", "utterance"):
            if level not in self.stages:  # ablated: the next kept level pools from the last kept one
                continue
            tokens, token_valid = pool_units(current, units[level], valid)
            parent = PARENT[level]
            groups = unit_parents(units[level], units[parent]) if self.by_unit and parent else None
            tokens = self.stages[level](tokens, token_valid, groups)
            current = broadcast_units(tokens, units[level]) * valid[..., None]
            features[level] = current
        gates, sparse_levels = {}, {}
        sparse = x.new_zeros(b, t, self.heads[self.levels[0]].out_features // 3, 3)
        for level in self.levels:
            gate = self.gates[level](features[level], valid) if self.gates is not None else x.new_ones(b, 1)
            gates[level] = gate
            sparse_levels[level] = self.heads[level](features[level]).view(b, t, -1, 3)
            sparse = sparse + gate[:, :, None, None] * sparse_levels[level]
        return {"features": features, "gates": gates, "sparse_levels": sparse_levels, "sparse": sparse}
