"""HSF2S: SpeechFormer++ hierarchy -> per-level landmark displacement streams F_f, F_p, F_w, F_u.

All stages run at the 50 Hz acoustic rate (FIELD.md section 3, reference figure speechformerpp.png):

  frame stage (attention within each phone unit, or a +-1 frame window)
  -> merge: mean-pool frames into phone tokens
  -> phone stage (attention among the phones of one word, or +-5 tokens)
  -> merge into word tokens -> word stage (within an utterance chunk, or +-4 tokens)
  -> merge into utterance tokens -> utterance stage (global).

Learnable word tokens, one per utterance chunk (~1 s), are appended to every stage: each token
also attends to its chunk's word token and the word token attends to all tokens of its chunk, so
context crosses unit boundaries; the word tokens are carried from stage to stage.  Each level's
output (F-hat) is broadcast to acoustic frames and brought to the mesh rate only at its linear
landmarks head, which gives that level's sparse displacement stream (B, T, K, 3).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import LEVELS, HiSTalkConfig
from .layers import LocalEncoder, broadcast_units, pool_units, to_mesh, unit_parents

PARENT = {"frame": "phone", "phone": "word", "word": "utterance", "utterance": None}


class HierarchicalSpeechToSparse(nn.Module):
    def __init__(self, config: HiSTalkConfig):
        super().__init__()
        d, h, drop = config.d_model, config.n_heads, config.dropout
        ffn = max(16, d // 2)  # SpeechFormer++ uses a narrow FFN (d/2)
        self.by_unit = config.attention == "unit"
        windows = {"frame": config.frame_window, "phone": config.phone_window, "word": config.word_window, "utterance": None}
        if self.by_unit:
            windows = dict.fromkeys(windows)
        self.levels = tuple(level for level in LEVELS if level in config.levels)
        # only the kept levels get modules, so every parameter is used (DistributedDataParallel
        # needs that) and an ablated level costs nothing
        self.stages = nn.ModuleDict({
            level: LocalEncoder(d, h, n, ffn, drop, windows[level])
            for level, n in zip(LEVELS, config.stage_layers) if level in self.levels
        })
        self.word_token = nn.Parameter(torch.randn(d) * 0.02) if config.use_word_tokens else None
        self.heads = nn.ModuleDict({level: nn.Linear(d, config.n_landmarks * 3) for level in self.levels})

    def _stage(self, level, tokens, token_valid, groups, words, spans, span_valid):
        if words is None:
            return self.stages[level](tokens, token_valid, groups), None
        return self.stages[level](tokens, token_valid, groups, words, spans, span_valid)

    def forward(self, x: torch.Tensor, batch: dict) -> dict:
        """x (B, T_a, d) embedded acoustic frames -> {'hidden': {level: (B, T, d)} at the mesh rate,
        'streams': {level: (B, T, K, 3)}}."""
        valid = batch["audio_mask"]
        units = {key: batch[key] for key in ("phone", "word", "utterance")}
        utterance = units["utterance"]
        words = span_valid = None
        if self.word_token is not None:
            _, span_valid = pool_units(x[..., :1], utterance, valid)
            words = self.word_token.expand(x.shape[0], span_valid.shape[1], -1)
        current, hidden = x * valid[..., None], {}
        if "frame" in self.stages:
            groups = units["phone"] if self.by_unit else None
            current, words = self._stage("frame", current, valid, groups, words, utterance, span_valid)
            hidden["frame"] = current
        for level in ("phone", "word", "utterance"):
            if level not in self.stages:  # ablated: the next kept level pools from the last kept one
                continue
            tokens, token_valid = pool_units(current, units[level], valid)  # merge block
            parent = PARENT[level]
            groups = unit_parents(units[level], units[parent]) if self.by_unit and parent else None
            spans = unit_parents(units[level], utterance)
            tokens, words = self._stage(level, tokens, token_valid, groups, words, spans, span_valid)
            current = broadcast_units(tokens, units[level]) * valid[..., None]
            hidden[level] = current
        b, t = batch["mask"].shape
        mesh = {level: to_mesh(hidden[level], batch) for level in self.levels}
        streams = {level: self.heads[level](mesh[level]).view(b, t, -1, 3) for level in self.levels}
        return {"hidden": mesh, "streams": streams}
