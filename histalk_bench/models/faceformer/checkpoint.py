"""Loading FaceFormer checkpoints: official plain state dicts (vocaset.pth, biwi.pth) or our runs."""

from __future__ import annotations

import os

from ...common.errors import UserError
from ..official_weights import encoder_config_from_state, read_saved, rename_weight_norm
from .model import FaceFormerConfig

REQUIRED_KEYS = ("audio_feature_map.weight", "vertice_map.weight", "vertice_map_r.weight", "obj_vector.weight", "PPE.pe")
OFFICIAL_PREFIXES = ("audio_encoder.", "transformer_decoder.layers.0.")


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


def read_state(path: str | os.PathLike) -> dict:
    """The tensors of a checkpoint file (plain state dict or {'model': state}), weight-norm keys renamed."""
    state = read_saved(path)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise UserError("checkpoint is not a state dict", path)
    return rename_weight_norm(state)
