"""HSF2S: SpeechFormer++ hierarchy -> per-level landmark displacement streams F_f, F_p, F_w, F_u.

All stages run at the 50 Hz acoustic rate (FIELD.md section 3, reference figure speechformerpp.png):

  frame stage -> merge block (mean-pool frames into phone tokens, Linear + LayerNorm)
  -> phone stage -> merge into word tokens -> word stage -> merge into utterance tokens
  -> utterance stage (global attention).

Two configurations (``hsf2s``): ``speechformer``, the paper's, with SpeechFormer++'s statistical
units (phone 2 frames, word 12, utterance chunk 48) and sliding windows of +-1 frame, +-5 phone
tokens and +-4 word tokens; ``aligned``, with forced-aligned units and either unit blocks
(frames within a phone, phones within a word, words within +-word_window words) or the same
sliding windows over aligned units (``attention``).

Learnable word tokens, one per utterance chunk (~1 s), join every stage: in each layer they are
updated first (each attends to its chunk's tokens), then every token attends to its neighbours
and to its chunk's updated word token, so context crosses unit boundaries; the merge blocks
project them with the tokens; at the global utterance stage they attend to everything.

``levels=frame`` is a single-level model: one stage of global attention over the frames (no
units, no word tokens) with ``frame_only_layers`` layers, matched to the full model's size.

Each level's output (F-hat) is broadcast to acoustic frames and brought to the mesh rate only at
its linear landmarks head, which gives that level's sparse displacement stream (B, T, K, 3).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import LEVELS, HiSTalkConfig
from .layers import (
    LocalEncoder,
    MergeBlock,
    broadcast_units,
    pool_units,
    to_mesh,
    unit_parents,
)

PARENT = {"frame": "phone", "phone": "word", "word": "utterance", "utterance": None}


def stage_attention(config: HiSTalkConfig) -> dict[str, tuple[int | None, bool]]:
    """Per level: (sliding window in tokens each side or None, grouped by the enclosing unit)."""
    if config.attention_pattern == "window":
        return {"frame": (config.frame_window, False), "phone": (config.phone_window, False),
                "word": (config.word_window, False), "utterance": (None, False)}
    return {"frame": (None, True), "phone": (None, True), "word": (config.word_window, False), "utterance": (None, False)}


class HierarchicalSpeechToSparse(nn.Module):
    def __init__(self, config: HiSTalkConfig):
        super().__init__()
        d, h, drop = config.d_model, config.n_heads, config.dropout
        ffn = max(16, d // 2)  # SpeechFormer++ uses a narrow FFN (d/2)
        self.levels = tuple(level for level in LEVELS if level in config.levels)
        self.frame_only = config.frame_only
        attention = stage_attention(config)
        self.grouped = {level: grouped for level, (_, grouped) in attention.items()}
        # only the kept levels get modules, so every parameter is used (DistributedDataParallel
        # needs that) and an ablated level costs nothing
        if self.frame_only:
            depth = config.frame_only_layers or sum(config.stage_layers)
            self.stages = nn.ModuleDict({"frame": LocalEncoder(d, h, depth, ffn, drop, None)})
        else:
            self.stages = nn.ModuleDict({
                level: LocalEncoder(d, h, n, ffn, drop, attention[level][0])
                for level, n in zip(LEVELS, config.stage_layers) if level in self.levels
            })
        self.merges = nn.ModuleDict({level: MergeBlock(d) for level in self.levels if level != "frame"})
        use_words = config.use_word_tokens and not self.frame_only
        self.word_token = nn.Parameter(torch.randn(d) * 0.02) if use_words else None
        self.heads = nn.ModuleDict({level: nn.Linear(d, config.n_landmarks * 3) for level in self.levels})

    def _hidden(self, x: torch.Tensor, batch: dict) -> dict[str, torch.Tensor]:
        """Each kept level's features F-hat broadcast to acoustic frames: level -> (B, T_a, d)."""
        valid = batch["audio_mask"]
        current = x * valid[..., None]
        if self.frame_only:
            return {"frame": self.stages["frame"](current, valid)}
        units = {key: batch[key] for key in ("phone", "word", "utterance")}
        utterance = units["utterance"]
        words = span_valid = None
        if self.word_token is not None:
            _, span_valid = pool_units(x[..., :1], utterance, valid)
            words = self.word_token.expand(x.shape[0], span_valid.shape[1], -1)
        hidden = {}
        if "frame" in self.stages:
            groups = units["phone"] if self.grouped["frame"] else None
            current = self._stage("frame", current, valid, groups, words, utterance, span_valid)
            current, words = current if isinstance(current, tuple) else (current, None)
            hidden["frame"] = current
        for level in ("phone", "word", "utterance"):
            if level not in self.stages:  # ablated: the next kept level pools from the last kept one
                continue
            tokens, token_valid, words = self.merges[level](current, units[level], valid, words, span_valid)
            parent = PARENT[level]
            groups = unit_parents(units[level], units[parent]) if self.grouped[level] and parent else None
            spans = unit_parents(units[level], utterance) if level != "utterance" else None
            out = self._stage(level, tokens, token_valid, groups, words, spans, span_valid)
            tokens, words = out if isinstance(out, tuple) else (out, None)
            current = broadcast_units(tokens, units[level]) * valid[..., None]
            hidden[level] = current
        return hidden

    def _stage(self, level, tokens, token_valid, groups, words, spans, span_valid):
        if words is None:
            return self.stages[level](tokens, token_valid, groups)
        return self.stages[level](tokens, token_valid, groups, words, spans, span_valid)

    def forward(self, x: torch.Tensor, batch: dict) -> dict:
        """x (B, T_a, d) embedded acoustic frames -> {'hidden': {level: (B, T, d)} at the mesh rate,
        'streams': {level: (B, T, K, 3)}}."""
        hidden = self._hidden(x, batch)
        b, t = batch["mask"].shape
        mesh = {level: to_mesh(hidden[level], batch) for level in self.levels}
        streams = {level: self.heads[level](mesh[level]).view(b, t, -1, 3) for level in self.levels}
        return {"hidden": mesh, "streams": streams}
