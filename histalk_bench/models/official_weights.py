"""Reading other repositories' released checkpoints: shared by every model that loads official
weights (FaceFormer, CodeTalker, SelfTalk, FaceDiffuser).

- :func:`read_saved`: the dict stored in a file, loaded with ``weights_only=True`` (never plain pickle).
- :func:`rename_weight_norm`: old ``weight_g``/``weight_v`` weight-norm names (transformers < 4.3x)
  to the current parametrization names.
- :func:`encoder_config_from_state`: a ``Wav2Vec2Config``/``HubertConfig`` dict inferred from the
  shapes of an encoder's weights under a key prefix (depth, width, convolution layout, norms).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..common.errors import UserError

# A random-weight wav2vec2/HuBERT of the same layout, for CPU demos and tests (not any paper's setting).
TINY_ENCODER = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                "conv_dim": (32,) * 7, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4}

_WEIGHT_NORM = {".weight_g": ".parametrizations.weight.original0", ".weight_v": ".parametrizations.weight.original1"}


def rename_weight_norm(state: dict) -> dict:
    """Old wav2vec2/HuBERT weight-norm names (weight_g/weight_v) -> current parametrization names."""
    out = {}
    for key, value in state.items():
        for old, new in _WEIGHT_NORM.items():
            if key.endswith(old):
                key = key[: -len(old)] + new
        out[key] = value
    return out


def encoder_config_from_state(state: dict, prefix: str = "audio_encoder.") -> dict:
    """A Wav2Vec2Config (or HubertConfig) dict matching the shapes of the ``prefix*`` weights
    (weight-norm keys already renamed): hidden size, depth, heads (width / 64), FFN size,
    convolution channels and kernels, conv bias, group/layer norm and stable layer norm."""
    escaped = re.escape(prefix)
    layers = {int(m.group(1)) for k in state if (m := re.match(escaped + r"encoder\.layers\.(\d+)\.", k))}
    convs = sorted({int(m.group(1)) for k in state
                    if (m := re.match(escaped + r"feature_extractor\.conv_layers\.(\d+)\.conv\.weight", k))})
    if not layers or not convs:
        raise UserError(f"checkpoint has no wav2vec2-style audio encoder weights ({prefix}encoder.layers.*)")
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


def read_saved(path: str | os.PathLike) -> dict:
    """The dict stored in a checkpoint file, loaded with ``torch.load(weights_only=True)``; a
    missing, unreadable or non-dict file is a one-line UserError naming it."""
    import torch

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


def uninitialised(model_class, model_config):
    """``model_class(model_config)`` without the random initialisation (seconds for a base-sized
    encoder) when transformers offers it: the weights come from a checkpoint.  ``masked_spec_embed``,
    absent from some official checkpoints and used only in training, is initialised as usual."""
    import torch

    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # older transformers: initialise normally
        return model_class(model_config)
    with no_init_weights():
        model = model_class(model_config)
    if getattr(model, "masked_spec_embed", None) is not None:
        with torch.no_grad():
            model.masked_spec_embed.uniform_()
    return model
