"""Loading CodeTalker's official checkpoints unchanged.

``{vocaset,biwi}_stage1.pth.tar`` and ``{vocaset,biwi}_stage2.pth.tar`` each hold
``{'state_dict': ...}`` (a leading ``module.`` from multi-GPU training is dropped).  Stage 2 is
saved without the VQ-VAE (``autoencoder.*``) and the official test loads it non-strictly over a
model whose VQ-VAE came from stage 1; should a stage-2 file carry ``autoencoder.*`` weights,
they replace stage 1's, as that non-strict load does (recorded in the model's ``source``).
Old wav2vec2 weight-norm names are renamed; every required weight must be present with the
shape the configuration inferred from the file, else one UserError names the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ...common.errors import UserError
from ..official_weights import read_saved, rename_weight_norm
from .config import speech_config_from_state, vq_config_from_state
from .model import CodeTalker
from .vqvae import VQAutoEncoder

_MODULE = "module."


def read_official(path: str | os.PathLike, stage: int) -> dict:
    """The tensors of an official ``{'state_dict': ...}`` file (a plain state dict is accepted too)."""
    saved = read_saved(path)
    state = saved.get("state_dict", saved)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"not a CodeTalker stage-{stage} checkpoint (no state_dict of tensors)", path)
    if state and all(k.startswith(_MODULE) for k in state):
        state = {k[len(_MODULE):]: v for k, v in state.items()}
    return rename_weight_norm(state)


def _check_against(expected: dict, state: dict, path, what: str, optional=()) -> None:
    """Every tensor of ``expected`` present in ``state`` with its shape (keys starting with an
    ``optional`` prefix may be absent); nothing else in ``state``."""
    missing = [k for k in expected if k not in state and not k.endswith("masked_spec_embed") and not k.startswith(optional)]
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})" for k, v in expected.items()
             if k in state and state[k].shape != v.shape]
    unexpected = [k for k in state if k not in expected]
    if missing or wrong or unexpected:
        parts = ([f"missing {', '.join(missing[:3])}"] if missing else []) + \
                ([f"misshapen {', '.join(wrong[:2])}"] if wrong else []) + \
                ([f"unexpected {', '.join(unexpected[:3])}"] if unexpected else [])
        raise UserError(f"does not match CodeTalker's {what}: {'; '.join(parts)}", path)


def run_config(path: str | os.PathLike) -> dict | None:
    """The run config stored in one of our checkpoints (RUN/best.pt, RUN/stage1/best.pt), else None."""
    import json

    saved = read_saved(path)
    if isinstance(saved.get("config"), str) and isinstance(saved.get("model"), dict):
        try:
            config = json.loads(saved["config"])
        except ValueError:
            return None
        return config if isinstance(config, dict) and config.get("model") == "codetalker" else None
    return None


def load_vqvae(path: str | os.PathLike) -> VQAutoEncoder:
    """The stage-1 VQ-VAE of an official ``*_stage1.pth.tar`` or of a ``train codetalker`` run
    (RUN/stage1/best.pt, whose config also gives what shapes cannot: the head count)."""
    from .config import VQConfig

    ours = run_config(path)
    if ours is not None and ours.get("stage") != 1:
        raise UserError("this is a codetalker stage-2 run checkpoint, not a stage-1 VQ-VAE (RUN/stage1/best.pt)", path)
    state = read_official(path, 1) if ours is None else read_saved(path)["model"]
    vq = VQAutoEncoder(VQConfig.from_dict(ours["vq"]) if ours else vq_config_from_state(state, path))
    _check_against(vq.state_dict(), state, path, "stage-1 VQ-VAE")
    vq.load_state_dict(state)
    return vq


def load_official(stage2: str | os.PathLike, stage1: str | os.PathLike, speakers: tuple[str, ...] = ()) -> CodeTalker:
    """The stage-2 model of ``stage2`` with the VQ-VAE of ``stage1``; ``model.source`` names the files."""
    vq = load_vqvae(stage1)
    state = read_official(stage2, 2)
    if any(k.startswith(("encoder.", "decoder.", "quantize.")) for k in state) and "feat_map.weight" not in state:
        raise UserError("this is a stage-1 (VQ-VAE) file: give it to --vq-checkpoint and the stage-2 file to --checkpoint", stage2)
    config = speech_config_from_state(state, speakers, stage2)
    if config.n_vertices != vq.config.n_vertices:
        raise UserError(f"stage 2 predicts {config.n_vertices} vertices but the stage-1 file {Path(stage1).name} "
                        f"decodes {vq.config.n_vertices}: files of different datasets?", stage2)
    width = state["feat_map.weight"].shape[0]
    if width != vq.config.frame_code_width:
        raise UserError(f"feat_map gives {width} values per frame but the stage-1 codebook of {Path(stage1).name} "
                        f"needs {vq.config.frame_code_width}: files of different datasets?", stage2)
    model = CodeTalker(config, vq.config, initialise=False)
    _check_against(model.state_dict(), state, stage2, "stage-2 model", optional=("autoencoder.",))
    model.autoencoder.load_state_dict(vq.state_dict())
    from_stage2 = any(k.startswith("autoencoder.") for k in state)
    model.load_state_dict(state, strict=False)  # the official non-strict load: stage 1 fills autoencoder.*
    model.source = {"weights": Path(stage2).name, "vq_weights": Path(stage1).name,
                    "autoencoder_from": "stage 2 file" if from_stage2 else "stage 1 file"}
    return model
