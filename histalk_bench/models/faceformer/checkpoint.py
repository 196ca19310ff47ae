"""Loading FaceFormer checkpoints: official plain state dicts (vocaset.pth, biwi.pth) or our runs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from ...common.errors import UserError
from .model import FaceFormerConfig

REQUIRED_KEYS = ("audio_feature_map.weight", "vertice_map.weight", "vertice_map_r.weight", "obj_vector.weight", "PPE.pe")
OFFICIAL_PREFIXES = ("audio_encoder.", "transformer_decoder.layers.0.")
_WEIGHT_NORM = {".weight_g": ".parametrizations.weight.original0", ".weight_v": ".parametrizations.weight.original1"}


def rename_weight_norm(state: dict) -> dict:
    """Old wav2vec2 weight-norm names (weight_g/weight_v) -> current parametrization names."""
    out = {}
    for key, value in state.items():
        for old, new in _WEIGHT_NORM.items():
            if key.endswith(old):
                key = key[: -len(old)] + new
        out[key] = value
    return out


def encoder_config_from_state(state: dict) -> dict:
    """A Wav2Vec2Config dict matching the shapes of the ``audio_encoder.*`` weights."""
    prefix = "audio_encoder."
    layers = {int(m.group(1)) for k in state if (m := re.match(r"audio_encoder\.encoder\.layers\.(\d+)\.", k))}
    convs = sorted({int(m.group(1)) for k in state if (m := re.match(r"audio_encoder\.feature_extractor\.conv_layers\.(\d+)\.conv\.weight", k))})
    if not layers or not convs:
        raise UserError("checkpoint has no wav2vec2 audio encoder weights (audio_encoder.encoder.layers.*)")
    hidden = state[prefix + "feature_projection.projection.weight"].shape[0]
    pos = state.get(prefix + "encoder.pos_conv_embed.conv.parametrizations.weight.original1")
    conv_shapes = [state[f"{prefix}feature_extractor.conv_layers.{i}.conv.weight"].shape for i in convs]
    layer_norm_everywhere = f"{prefix}feature_extractor.conv_layers.1.layer_norm.weight" in state
    return {
        "hidden_size": int(hidden),
        "num_hidden_layers": len(layers),
        "num_attention_heads": max(1, int(hidden) // 64) if hidden >= 64 else 2,
        "intermediate_size": int(state[prefix + "encoder.layers.0.feed_forward.intermediate_dense.weight"].shape[0]),
        "conv_dim": tuple(int(s[0]) for s in conv_shapes),
        "conv_kernel": tuple(int(s[2]) for s in conv_shapes),
        "conv_bias": f"{prefix}feature_extractor.conv_layers.0.conv.bias" in state,
        "feat_extract_norm": "layer" if layer_norm_everywhere else "group",
        "do_stable_layer_norm": layer_norm_everywhere,
        "num_conv_pos_embeddings": int(pos.shape[2]) if pos is not None else 128,
        "num_conv_pos_embedding_groups": int(hidden // pos.shape[1]) if pos is not None else 16,
    }


def config_from_official(state: dict, speakers: tuple[str, ...]) -> FaceFormerConfig:
    missing = [k for k in REQUIRED_KEYS if k not in state]
    missing += [p for p in OFFICIAL_PREFIXES if not any(k.startswith(p) for k in state)]
    if missing:
        raise UserError(f"not a FaceFormer checkpoint: no {', '.join(missing[:3])} weights")
    d = int(state["audio_feature_map.weight"].shape[0])
    n_vertices = int(state["vertice_map.weight"].shape[1]) // 3
    n_speakers = int(state["obj_vector.weight"].shape[1])
    pe_length = int(state["PPE.pe"].shape[1])
    period = 25 if pe_length % 25 == 0 and pe_length % 30 else 30
    biwi = period == 25
    if len(speakers) != n_speakers:
        speakers = tuple(f"speaker{i}" for i in range(n_speakers))
    return FaceFormerConfig(n_vertices=n_vertices, speakers=speakers, d_model=d, period=period,
                            fps=25.0 if biwi else 30.0, tokens_per_frame=2 if biwi else 1,
                            encoder_config=encoder_config_from_state(state))


def read_saved(path: str | os.PathLike) -> dict:
    """The dict stored in a checkpoint file, loaded with weights_only=True."""
    path = Path(path)
    if not path.exists():
        raise UserError("checkpoint not found", path)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"not a loadable checkpoint ({exc.__class__.__name__})", path) from None
    if not isinstance(saved, dict):
        raise UserError("checkpoint is not a state dict", path)
    return saved


def read_state(path: str | os.PathLike) -> dict:
    """The tensors of a checkpoint file (plain state dict or {'model': state}), weight-norm keys renamed."""
    state = read_saved(path)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise UserError("checkpoint is not a state dict", path)
    return rename_weight_norm(state)
