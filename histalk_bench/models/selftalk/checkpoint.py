"""Loading SelfTalk's released checkpoints (vocaset.pth, BIWI.pth) or one of our runs' files.

The released files are plain state dicts of a few GB: the inference path (``audio_encoder.*``,
``audio_feature_map.*``, ``transformer_decoder.*``, ``vertice_map_r.*``) and weights used only in
training (``text_encoder.*`` a frozen Wav2Vec2ForCTC copy, ``lip_map.*``, ``transformer.*``,
``lm_head.*``).  The file is memory-mapped (``torch.load(mmap=True, weights_only=True)``), the
network is built on the meta device and the inference tensors are assigned to it, so only those
are ever read and nothing is held twice; the training-only tensors are never touched.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ...common.errors import UserError
from ..official_weights import encoder_config_from_state, rename_weight_norm
from .model import SelfTalk, SelfTalkConfig

INFERENCE_PREFIXES = ("audio_encoder.", "audio_feature_map.", "transformer_decoder.", "vertice_map_r.")
TRAINING_PREFIXES = ("text_encoder.", "lip_map.", "transformer.", "lm_head.")
OPTIONAL_KEYS = ("audio_encoder.masked_spec_embed",)  # used only for training-time masking


_LOAD_ERRORS = (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, RuntimeError, OSError, AttributeError)


def _load_whole(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except _LOAD_ERRORS as exc:
        raise UserError(f"not a loadable checkpoint ({exc.__class__.__name__})", path) from None


@dataclass
class LoadedWeights:
    """The inference tensors of a file and what was left out."""

    state: dict
    ignored: dict = field(default_factory=dict)  # training-only prefix -> number of tensors ignored
    memory_mapped: bool = True
    run_config: dict | None = None  # the run's task config, for one of our checkpoints
    epoch: int | None = None


def read_weights(path: str | os.PathLike) -> LoadedWeights:
    """The inference tensors of an official state dict or one of our checkpoints ({'model': state,
    'config': ...}), memory-mapped; training-only tensors are counted, not loaded."""
    path = Path(path)
    if not path.exists():
        raise UserError("checkpoint not found", path)
    try:
        saved, mapped = torch.load(path, map_location="cpu", weights_only=True, mmap=True), True
    except RuntimeError as exc:
        if "zip" not in str(exc).lower() and "mmap" not in str(exc).lower():
            raise UserError(f"not a loadable checkpoint ({exc.__class__.__name__})", path) from None
        # a legacy (pre-zip) torch file cannot be memory-mapped: read it whole
        saved, mapped = _load_whole(path), False
    except _LOAD_ERRORS as exc:
        raise UserError(f"not a loadable checkpoint ({exc.__class__.__name__})", path) from None
    if not isinstance(saved, dict):
        raise UserError("checkpoint is not a state dict", path)
    run_config, epoch = None, None
    if isinstance(saved.get("model"), dict):
        import json

        run_config = json.loads(saved["config"]) if isinstance(saved.get("config"), str) else None
        epoch = saved.get("epoch")
        saved = saved["model"]
    state, ignored = {}, {}
    for key, value in saved.items():
        training = next((p for p in TRAINING_PREFIXES if key.startswith(p)), None)
        if training:
            ignored[training] = ignored.get(training, 0) + 1
        else:
            state[key] = value
    if not all(torch.is_tensor(v) for v in state.values()):
        raise UserError("checkpoint holds non-tensor values beside the weights: not a SelfTalk state dict", path)
    return LoadedWeights(rename_weight_norm(state), ignored, mapped, run_config, None if epoch is None else int(epoch))


def _shape(state: dict, key: str, path) -> tuple[int, ...]:
    if key not in state:
        raise UserError(f"not a SelfTalk checkpoint: no '{key}' weights", path)
    return tuple(state[key].shape)


def config_from_state(state: dict, path, window_s: float = 30.0) -> SelfTalkConfig:
    """The network's shape from the tensors' shapes: encoder (depth, width, heads, convolution
    layout, norms), decoder width/FFN/depth, VOCASET (audio_feature_map takes hidden) or BIWI
    (2 * hidden), vertex count."""
    missing = [p for p in INFERENCE_PREFIXES if not any(k.startswith(p) for k in state)]
    if missing:
        raise UserError(f"not a SelfTalk checkpoint: no {', '.join(p + '*' for p in missing)} weights", path)
    try:
        encoder = encoder_config_from_state(state, "audio_encoder.")
    except (UserError, KeyError, IndexError) as exc:
        raise UserError(f"not a SelfTalk checkpoint: unusable audio encoder weights ({exc})", path) from None
    d, audio_in = _shape(state, "audio_feature_map.weight", path)
    out, d_out = _shape(state, "vertice_map_r.weight", path)
    hidden = encoder["hidden_size"]
    if audio_in not in (hidden, 2 * hidden):
        raise UserError(f"misshapen audio_feature_map.weight {(d, audio_in)}: takes neither the encoder width "
                        f"{hidden} (VOCASET) nor twice it (BIWI)", path)
    if out % 3 or d_out != d:
        raise UserError(f"misshapen vertice_map_r.weight {(out, d_out)}: expected (3 * vertices, {d})", path)
    ffn = _shape(state, "transformer_decoder.layers.0.linear1.weight", path)[0]
    layers = {int(m.group(1)) for k in state if (m := re.match(r"transformer_decoder\.layers\.(\d+)\.", k))}
    return SelfTalkConfig(n_vertices=out // 3, dataset="vocaset" if audio_in == hidden else "biwi", d_model=d,
                          n_heads=4, dim_feedforward=ffn, n_decoder_layers=len(layers), encoder_config=encoder,
                          window_s=window_s)


def model_from_state(state: dict, config: SelfTalkConfig, path) -> SelfTalk:
    """The network built on the meta device with ``state``'s tensors assigned (no copy, no random
    initialisation); a missing, unexpected or misshapen inference tensor is a one-line UserError."""
    with torch.device("meta"):
        model = SelfTalk(config, initialise=False)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and k not in OPTIONAL_KEYS]
    unexpected = [k for k in state if k not in expected]
    misshapen = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or misshapen:
        parts = []
        if missing:
            parts.append(f"missing {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
        if misshapen:
            key = misshapen[0]
            parts.append(f"misshapen {key} {tuple(state[key].shape)}, expected {tuple(expected[key].shape)}"
                         + (f" (and {len(misshapen) - 1} more)" if len(misshapen) > 1 else ""))
        if unexpected:
            parts.append(f"unexpected {unexpected[0]}" + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""))
        raise UserError(f"checkpoint does not match SelfTalk's inference path: {'; '.join(parts)}", path)
    model.load_state_dict({k: v for k, v in state.items()}, strict=False, assign=True)
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        if tensor.is_meta:  # only masked_spec_embed can be absent: training-time masking
            module_name, _, attr = name.rpartition(".")
            module = model.get_submodule(module_name)
            setattr(module, attr, torch.nn.Parameter(torch.empty(tensor.shape).uniform_()))
    if any(p.dtype != torch.float32 for p in model.parameters()):
        model.float()
    model.audio_encoder.freeze_feature_encoder()
    return model


def load_model(path: str | os.PathLike, window_s: float = 30.0) -> SelfTalk:
    """SelfTalk from an official state dict or one of our checkpoints; ``model.source`` says which
    file, whether it was memory-mapped and which training-only tensors were ignored."""
    weights = read_weights(path)
    config = config_from_state(weights.state, path, window_s)
    if weights.run_config is not None:  # one of our runs: its exact encoder configuration
        if weights.run_config.get("model") != "selftalk":
            raise UserError(f"checkpoint is for model '{weights.run_config.get('model')}', not selftalk", path)
        config = SelfTalkConfig.from_dict({**weights.run_config["selftalk"], "window_s": window_s})
    model = model_from_state(weights.state, config, path)
    model.source = {"weights": Path(path).name, "epoch": weights.epoch, "memory_mapped": weights.memory_mapped,
                    "ignored_training_weights": {prefix + "*": n for prefix, n in sorted(weights.ignored.items())}}
    return model


def load_notes(model: SelfTalk) -> list[str]:
    """One-line notes on loading: the training-only tensors not loaded; a file read whole because
    its (pre-zip) torch format cannot be memory-mapped."""
    notes = []
    ignored = model.source.get("ignored_training_weights") or {}
    if ignored:
        listed = ", ".join(f"{prefix} ({n} tensors)" for prefix, n in ignored.items())
        notes.append(f"selftalk: ignoring training-only weights in {model.source['weights']}: {listed}")
    if not model.source.get("memory_mapped", True):
        notes.append(f"selftalk: {model.source['weights']} has the legacy (pre-zip) torch format and cannot be "
                     "memory-mapped: the whole file was read into memory")
    return notes
