"""Faster CPU inference for a transformers ``Wav2Vec2Model`` backbone (new audio only).

- :func:`truncate_encoder`: drop the Transformer layers after the last hidden state a model
  reads (exact: the kept hidden states are unchanged).
- :func:`quantize_int8`: int8 dynamic quantization of every Linear layer, with the CNN feature
  encoder's convolutions first rewritten as unfold + Linear (exact in float32) so they are
  quantized too (``torch.ao.quantization.quantize_dynamic``; activations stay float32).
- :func:`chunked_hidden_states`: long audio in overlapping windows, so attention cost grows
  linearly with length (approximate: less context at window edges, per-window group norm).

The effect of each on the hidden states and on HiSTalk's output is measured by
``benchmarks/backbone_speed.py``; docs/models.md reports the figures.
"""

from __future__ import annotations

import logging

import numpy as np

from ..common.constants import SAMPLE_RATE

log = logging.getLogger(__name__)

HOP = 320  # samples per wav2vec2 frame at 16 kHz
RECEPTIVE = 400  # samples seen by one frame


def truncate_encoder(network, last_state: int) -> int:
    """Keep only the encoder layers needed for ``hidden_states[0..last_state]``; returns the
    number of layers kept.  Pre-LN models (``do_stable_layer_norm``) keep one more layer, since
    their last hidden state is layer-normalised."""
    layers = network.encoder.layers
    keep = int(last_state) + (1 if getattr(network.config, "do_stable_layer_norm", False) else 0)
    keep = max(1, min(keep, len(layers)))
    if keep < len(layers):
        del layers[keep:]
        log.info("wav2vec2 encoder truncated to %d of %d layers", keep, network.config.num_hidden_layers)
    return keep


class _ConvAsLinear:
    """Factory of an ``nn.Module`` computing Conv1d(C_in, C_out, k, stride, groups=1, no padding)
    as unfold + Linear(C_in*k, C_out): (B, C_in, L) -> (B, C_out, L')."""

    @staticmethod
    def make(conv):
        import torch
        from torch import nn

        class ConvAsLinear(nn.Module):
            def __init__(self):
                super().__init__()
                c_out, c_in, k = conv.weight.shape
                self.kernel, self.stride = k, conv.stride[0]
                self.linear = nn.Linear(c_in * k, c_out, bias=conv.bias is not None)
                with torch.no_grad():
                    self.linear.weight.copy_(conv.weight.permute(0, 2, 1).reshape(c_out, k * c_in))
                    if conv.bias is not None:
                        self.linear.bias.copy_(conv.bias)

            def forward(self, x):
                windows = x.unfold(2, self.kernel, self.stride)  # (B, C_in, L', k)
                flat = windows.permute(0, 2, 3, 1).reshape(x.shape[0], windows.shape[2], -1)  # (B, L', k*C_in)
                return self.linear(flat).transpose(1, 2)

        return ConvAsLinear()


def convs_as_linear(network) -> int:
    """Rewrite the feature encoder's multi-channel convolutions as unfold + Linear; returns how many."""
    count = 0
    for layer in network.feature_extractor.conv_layers:
        conv = layer.conv
        if conv.in_channels > 1 and conv.groups == 1 and conv.padding in ((0,), 0) and conv.dilation == (1,):
            layer.conv = _ConvAsLinear.make(conv)
            count += 1
    return count


def quantize_linear(network):
    """int8 dynamic quantization of the Linear layers (``torch.ao.quantization.quantize_dynamic``,
    deprecated in favour of torchao but present in torch 2.13; its warnings are silenced)."""
    import warnings

    import torch

    engines = torch.backends.quantized.supported_engines
    if "fbgemm" in engines:
        torch.backends.quantized.engine = "fbgemm"
    elif "qnnpack" in engines:
        torch.backends.quantized.engine = "qnnpack"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        quantized = torch.ao.quantization.quantize_dynamic(network, {torch.nn.Linear}, dtype=torch.qint8)
    log.info("wav2vec2 Linear layers quantized to int8 (engine %s)", torch.backends.quantized.engine)
    return quantized


def quantize_int8(network):
    """int8 dynamic quantization of every Linear layer, CNN convolutions included (rewritten first)."""
    convs_as_linear(network)
    return quantize_linear(network)


def n_frames(n_samples: int) -> int:
    """wav2vec2 frames for ``n_samples`` samples: floor((N - 400) / 320) + 1 (0 below 400)."""
    return 0 if n_samples < RECEPTIVE else (n_samples - RECEPTIVE) // HOP + 1


def chunk_windows(n_samples: int, window_s: float, context_s: float, rate: int = SAMPLE_RATE) -> list[tuple[int, int, int, int]]:
    """[(sample_start, sample_end, first_frame, last_frame)]: windows of ``window_s`` seconds of
    output frames with ``context_s`` seconds of extra audio on each side; frames [first, last)
    of the whole file are taken from each window."""
    total = n_frames(n_samples)
    step = max(1, int(window_s * rate) // HOP)
    context = int(context_s * rate) // HOP
    out = []
    for first in range(0, total, step):
        last = min(total, first + step)
        lo = max(0, first - context)
        hi = min(total, last + context)
        out.append((lo * HOP, (hi - 1) * HOP + RECEPTIVE, first, last))
    return out


def chunked_hidden_states(run, audio: np.ndarray, window_s: float = 20.0, context_s: float = 2.0) -> np.ndarray:
    """``run(audio_window) -> (T_w, ...)`` applied per window; (T, ...) for the whole file.
    ``audio`` is already normalised over the whole file."""
    windows = chunk_windows(len(audio), window_s, context_s)
    if len(windows) <= 1:
        return run(audio)
    parts = []
    for start, end, first, last in windows:
        states = run(audio[start:end])
        offset = first - start // HOP
        parts.append(states[offset: offset + (last - first)])
    return np.concatenate(parts, axis=0)


BACKBONE_MODES = ("auto", "fp32", "int8", "int8-cnn")


def quantize(network, mode: str):
    """``network`` for ``mode``: fp32 unchanged; int8: Linear layers; int8-cnn: CNN convolutions too."""
    if mode == "fp32":
        return network
    if mode == "int8-cnn":
        return quantize_int8(network)
    return quantize_linear(network)


def configure_backbone(entry, predictor, mode: str = "auto") -> list[str]:
    """Speed up the backbone registered model ``entry``'s audio ``predictor`` runs on new audio
    (``entry.speech_backbone(predictor)``, see models.base.SpeechBackbone); returns notes on what
    was done.  Layers after the hidden state the model reads are dropped (exact); ``mode`` (see
    BACKBONE_MODES): 'auto' is the backbone's default_mode; a model without a backbone accepts
    only 'auto'."""
    from ..common.errors import UserError
    from ..models.base import SpeechBackbone

    if mode not in BACKBONE_MODES:
        raise UserError(f"unknown --backbone '{mode}' (choose from {', '.join(BACKBONE_MODES)})")
    backbone = entry.speech_backbone(predictor)
    if backbone is None:
        if mode != "auto":
            raise UserError(f"--backbone {mode}: model '{entry.name}' (this run) has no wav2vec2 backbone to speed up")
        return []
    if not isinstance(backbone, SpeechBackbone) or backbone.default_mode not in BACKBONE_MODES[1:]:
        raise TypeError(f"model '{entry.name}': speech_backbone() returned {backbone!r}, expected a SpeechBackbone "
                        f"with default_mode in {BACKBONE_MODES[1:]}")
    chosen = backbone.default_mode if mode == "auto" else mode
    network, notes = backbone.network, []
    if backbone.last_state is not None:
        kept = truncate_encoder(network, backbone.last_state)
        notes.append(f"wav2vec2 encoder truncated to {kept} of {network.config.num_hidden_layers} "
                     f"layers (the model reads hidden state {backbone.last_state}; exact)")
    backbone.install(quantize(network, chosen))
    default = " (default; --backbone fp32 for exact features)" if mode == "auto" and chosen != "fp32" else ""
    return notes + [f"{backbone.name} {chosen}{default}"]
