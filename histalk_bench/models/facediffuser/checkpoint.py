"""Loading FaceDiffuser weights: the official plain state dicts (``pretrained_BIWI.pth``,
``pretrained_vocaset.pth``: every setting inferred from the tensors' shapes) or our runs."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch

from ...common.errors import UserError
from ..official_weights import encoder_config_from_state, read_saved, rename_weight_norm
from .model import FaceDiffuser, FaceDiffuserConfig

REQUIRED_KEYS = ("cond_projection.weight", "input_projection.0.weight", "input_projection.1.weight",
                 "time_mlp.0.weight", "norm_cond.weight", "gru.weight_ih_l0", "gru.weight_hh_l0",
                 "final_layer.weight", "obj_vector.weight")
BIWI_VERTICES = 23370
VOCASET_VERTICES = 5023


def config_from_official(state: dict, speakers: tuple[str, ...], fps: float | None = None) -> FaceDiffuserConfig:
    """The configuration the official tensors imply: latent width (``cond_projection`` rows), vertex
    count (``input_projection.0`` columns / 3), diffusion steps (``time_mlp.0`` takes a one-hot
    step), GRU width and depth, speaker count (``obj_vector`` columns) and the HuBERT shape.  The
    frame rate is not stored: ``fps`` (the cache's), else 25 for BIWI's 23,370 vertices and 30 otherwise."""
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if not any(k.startswith("audio_encoder.encoder.layers.") for k in state):
        missing.append("audio_encoder.*")
    if missing:
        raise UserError(f"not a FaceDiffuser checkpoint: no {', '.join(missing[:3])} weights")
    n_out = int(state["input_projection.0.weight"].shape[1])
    layers = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"gru\.weight_ih_l(\d+)", k)))
    n_speakers = int(state["obj_vector.weight"].shape[1])
    if len(speakers) != n_speakers:
        speakers = tuple(f"speaker{i}" for i in range(n_speakers))
    n_vertices = n_out // 3
    encoder = encoder_config_from_state(state, "audio_encoder.")
    encoder["feat_proj_layer_norm"] = "audio_encoder.feature_projection.layer_norm.weight" in state
    return FaceDiffuserConfig(
        n_vertices=n_vertices, speakers=speakers,
        fps=float(fps) if fps else (25.0 if n_vertices == BIWI_VERTICES else 30.0),
        latent_dim=int(state["cond_projection.weight"].shape[0]), gru_dim=int(state["gru.weight_hh_l0"].shape[1]),
        gru_layers=len(layers), diffusion_steps=int(state["time_mlp.0.weight"].shape[1]),
        encoder_config=encoder)


def _check_fits(model: FaceDiffuser, state: dict, path: Path) -> None:
    """Every tensor present with the model's shape, nothing extra; else one UserError line."""
    expected = {k: v.shape for k, v in model.state_dict().items()}
    missing = [k for k in expected if k not in state and not k.endswith("masked_spec_embed")]
    unexpected = [k for k in state if k not in expected]
    misshapen = [f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k])})" for k in expected
                 if k in state and tuple(state[k].shape) != tuple(expected[k])]
    if missing or unexpected or misshapen:
        parts = [f"{name} {', '.join(items[:3])}" for name, items in
                 (("missing", missing), ("unexpected", unexpected), ("misshapen", misshapen)) if items]
        raise UserError(f"checkpoint does not match FaceDiffuser: {'; '.join(parts)}", path)


def _run_state(saved: dict, path: Path, run_dir) -> tuple[FaceDiffuserConfig, dict, dict]:
    run_config = json.loads(saved["config"])
    if run_config.get("model") != "facediffuser":
        raise UserError(f"checkpoint is for model '{run_config.get('model')}', not facediffuser", path)
    config = FaceDiffuserConfig.from_dict(run_config["facediffuser"])
    if run_dir is not None and config.select == "last":
        path = Path(run_dir) / "last.pt"
        saved = read_saved(path)
    return config, saved["model"], {"weights": path.name, "epoch": saved.get("epoch")}


def run_selection(run_dir: str | os.PathLike) -> str:
    """A run's ``select`` ('last' or 'best') from RUN/config.json (default 'last')."""
    try:
        task = json.loads((Path(run_dir) / "config.json").read_text())["task"]
    except (OSError, ValueError, KeyError):
        return "last"
    return FaceDiffuserConfig.from_dict(task.get("facediffuser", {"n_vertices": 0, "speakers": ()})).select


def load_model(run_dir=None, checkpoint=None, speakers: tuple[str, ...] = (), fps: float | None = None) -> FaceDiffuser:
    """Weights from a run (RUN/last.pt or best.pt), one of our checkpoint files, or an official
    state dict (weights_only=True; old weight_g/weight_v names renamed).  ``speakers`` names the
    official one-hot columns; ``fps`` the frame rate the official file is used at.
    ``model.source`` records the file (and epoch)."""
    path = Path(checkpoint) if checkpoint else Path(run_dir) / "best.pt" if run_dir else None
    if path is None:
        raise UserError("FaceDiffuser needs --run RUN_DIR or --checkpoint pretrained_vocaset.pth|pretrained_BIWI.pth")
    if not path.exists():
        raise UserError("checkpoint not found" if checkpoint else
                        "no FaceDiffuser checkpoint found (train first: 'histalk-bench train facediffuser ...')", path)
    saved = read_saved(path)
    if isinstance(saved.get("config"), str) and isinstance(saved.get("model"), dict):
        config, state, source = _run_state(saved, path, None if checkpoint else run_dir)
    else:
        state = rename_weight_norm(saved)
        if not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise UserError("checkpoint is not a plain state dict of tensors", path)
        try:
            config = config_from_official(state, speakers, fps)
        except UserError as exc:
            raise UserError(str(exc), path) from None
        source = {"weights": path.name, "epoch": None, "official": True}
    model = FaceDiffuser(config, initialise=False)
    _check_fits(model, state, path)
    model.load_state_dict(state, strict=False)
    model.source = source
    return model
