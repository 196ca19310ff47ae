"""wav2vec 2.0 hidden states (transformers), 50 Hz.

Weights come from a local directory or the local Hugging Face cache; nothing is downloaded
unless the user allows network access (``HF_HUB_OFFLINE`` unset and ``allow_download=True``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import UserError

DEFAULT_MODEL = "facebook/wav2vec2-base-960h"
RATE = 50.0


def normalise(audio: np.ndarray) -> np.ndarray:
    """Per-utterance zero mean, unit variance: (x - mean) / sqrt(var + 1e-7)."""
    audio = np.asarray(audio, dtype=np.float32)
    return (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)


def missing_weights_message(model: str) -> str:
    return (f"wav2vec2 weights '{model}' are not available offline. On a machine with network run "
            f"'huggingface-cli download {DEFAULT_MODEL} --local-dir wav2vec2-base-960h', copy that folder here and "
            "pass --wav2vec2-model PATH/wav2vec2-base-960h (or use --features mel, which needs no weights)")


def load_wav2vec2(model: str | None = None, allow_download: bool = False):
    """A ``Wav2Vec2Model`` in eval mode from a local folder or the local HF cache."""
    import torch  # noqa: F401  (transformers needs it)
    from transformers import Wav2Vec2Model
    from transformers.utils import logging as hf_logging

    model = model or DEFAULT_MODEL
    local_only = not allow_download or os.environ.get("HF_HUB_OFFLINE") == "1"
    if Path(model).exists():
        local_only = True
    elif model.startswith((".", "/")):
        raise UserError("wav2vec2 model folder not found", model)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        network = Wav2Vec2Model.from_pretrained(model, local_files_only=local_only)
    except (OSError, ValueError):
        raise UserError(missing_weights_message(model)) from None
    finally:
        hf_logging.set_verbosity(verbosity)
    network.eval()
    if hasattr(network, "freeze_feature_encoder"):
        network.freeze_feature_encoder()
    return network


class Wav2Vec2Extractor:
    """``extract(audio_16k) -> (T_f, L+1, D)`` all hidden states, or (T_f, D) for one ``layer``."""

    def __init__(self, model: str | None = None, layer: int | None = None, device: str | None = None,
                 batch_size: int = 4, wav2vec2_model: str | None = None, allow_download: bool = False, **_options):
        import torch

        self.model_name = wav2vec2_model or model or DEFAULT_MODEL
        self.layer = layer
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size
        self.network = load_wav2vec2(self.model_name, allow_download).to(self.device)
        self.rate = RATE
        self.cache_name = "wav2vec2" if layer is None else f"wav2vec2_l{layer}"

    def config(self) -> dict:
        name = self.model_name if not Path(self.model_name).exists() else Path(self.model_name).resolve().name
        return {"name": "wav2vec2", "model": name, "layer": self.layer,
                "hidden": int(self.network.config.hidden_size), "layers": int(self.network.config.num_hidden_layers)}

    def extract(self, audio_16k: np.ndarray) -> np.ndarray:
        return self.extract_batch([audio_16k])[0]

    def extract_batch(self, audios: list[np.ndarray]) -> list[np.ndarray]:
        """Length-sorted batches, zero-padded with an attention mask; one array per input."""
        import torch

        order = np.argsort([len(a) for a in audios])
        outputs: list[np.ndarray | None] = [None] * len(audios)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            lengths = [len(audios[i]) for i in chunk]
            batch = np.zeros((len(chunk), max(lengths)), np.float32)
            mask = np.zeros_like(batch, dtype=np.int64)
            for row, i in enumerate(chunk):
                batch[row, : lengths[row]] = normalise(audios[i])
                mask[row, : lengths[row]] = 1
            with torch.no_grad():
                result = self.network(torch.from_numpy(batch).to(self.device),
                                      attention_mask=torch.from_numpy(mask).to(self.device) if len(chunk) > 1 else None,
                                      output_hidden_states=True)
            states = torch.stack(result.hidden_states, dim=2) if self.layer is None else result.hidden_states[self.layer]
            for row, i in enumerate(chunk):
                n_frames = int(self.network._get_feat_extract_output_lengths(torch.tensor(lengths[row])).item())
                outputs[i] = states[row, :n_frames].float().cpu().numpy()
        return outputs  # type: ignore[return-value]
