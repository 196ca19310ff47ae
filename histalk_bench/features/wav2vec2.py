"""wav2vec 2.0 hidden states (transformers ``Wav2Vec2Model``) at 50 Hz.

Weights come from a local folder (``--wav2vec2-model DIR``) or a hub id.  A hub id is fetched
only when the hub answers within a couple of seconds and ``HF_HUB_OFFLINE`` is not set;
otherwise only the local Hugging Face cache is used and missing weights give a one-line
:class:`UserError` saying what to download and where to point the tool.

Audio is normalised per utterance like the wav2vec2 feature extractor:
``(x - mean) / sqrt(var + 1e-7)``.  The CNN front end is frozen and the model is in eval mode.
Batching: models with layer-normalised convolutions (``feat_extract_norm == "layer"``, e.g. the
large LV-60 models) take zero-padded batches with an attention mask; models with group norm
(``"group"``, e.g. wav2vec2-base-960h) normalise over the padded length, so they are batched
only with utterances of identical length to keep the features exactly those of single calls.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from ..common.errors import UserError
from ..common.hub import download_command
from .base import FeatureExtractorBase

DEFAULT_MODEL = "facebook/wav2vec2-base-960h"
RATE = 50.0
_HUB_PROBE_TIMEOUT_S = 2.0


def normalise(audio: np.ndarray) -> np.ndarray:
    """(N,) float32 -> (N,) float32 with zero mean and unit variance: (x - mean) / sqrt(var + 1e-7)."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    return ((audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)).astype(np.float32)


def missing_weights_message(model: str) -> str:
    folder = Path(model).name if "/" in model else model
    return (f"wav2vec2 weights '{model}' are not available offline; on a machine with network run "
            f"'{download_command(model, folder)}', copy that folder here and pass "
            f"--wav2vec2-model PATH/{folder} (or use --features mel, which needs no weights)")


def hub_reachable(timeout_s: float = _HUB_PROBE_TIMEOUT_S) -> bool:
    """True when ``HF_HUB_OFFLINE`` is unset and the hub's host accepts a TCP connection quickly."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = endpoint.hostname or "huggingface.co", endpoint.port or (443 if endpoint.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def weights_fingerprint(folder: Path, block: int = 1 << 20) -> str:
    """Short sha256 over config.json and, per weight file, its size and first/last MiB (fast)."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.name == "config.json" or path.suffix in (".safetensors", ".bin", ".pt", ".pth"):
            size = path.stat().st_size
            digest.update(f"{path.name}:{size}".encode())
            with open(path, "rb") as handle:
                digest.update(handle.read(block))
                if size > block:
                    handle.seek(max(block, size - block))
                    digest.update(handle.read(block))
    return digest.hexdigest()[:16]


def load_wav2vec2(model: str | None = None, allow_download: bool = False):
    """A frozen-CNN ``Wav2Vec2Model`` in eval mode from a local folder, the HF cache or the hub."""
    from transformers import Wav2Vec2Model  # noqa: PLC0415 (lazy: transformers: ~0.7 s)
    from transformers.utils import logging as hf_logging  # noqa: PLC0415 (lazy: transformers: ~0.7 s)

    model = str(model or DEFAULT_MODEL)
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError("not a wav2vec2 model folder (no config.json)", path)
        source, local_only = str(path), True
    elif model.startswith((".", "/", "~")) or model.count("/") > 1:  # a path, not an "org/name" hub id
        raise UserError("wav2vec2 model folder not found", model)
    else:
        # the hub is only contacted when the user asked for a download (--allow-download)
        source, local_only = model, not (allow_download and hub_reachable())
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        network = Wav2Vec2Model.from_pretrained(source, local_files_only=local_only)
    except (OSError, ValueError, EnvironmentError) as exc:
        if path.exists():
            raise UserError(f"could not load wav2vec2 weights ({exc.__class__.__name__}: {exc})", path) from None
        raise UserError(missing_weights_message(model)) from None
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    network.eval()
    network.freeze_feature_encoder()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network


class Wav2Vec2Extractor(FeatureExtractorBase):
    """``extract(audio_16k) -> (T_f, L+1, D)`` float32 (all hidden states, the CNN projection
    output first) or ``(T_f, D)`` for one ``layer``; T_f = floor((N - 400) / 320) + 1 at 50 Hz."""

    name = "wav2vec2"

    def __init__(self, model: str | None = None, layer: int | None = None, device: str | None = None,
                 batch_size: int = 8, wav2vec2_model: str | None = None, **_options):
        import torch  # noqa: PLC0415 (lazy: torch: ~1.1 s)

        self.model_name = str(wav2vec2_model or model or DEFAULT_MODEL)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = max(1, int(batch_size))
        self.network = load_wav2vec2(self.model_name, allow_download=bool(_options.get("allow_download"))).to(self.device)
        n_states = int(self.network.config.num_hidden_layers) + 1
        if layer is not None and not -n_states <= int(layer) < n_states:
            raise UserError(f"--wav2vec2-layer {layer} is out of range: this model has hidden states 0..{n_states - 1}")
        self.layer = None if layer is None else int(layer) % n_states
        self.masked_batches = getattr(self.network.config, "feat_extract_norm", "group") == "layer"
        self.rate = RATE
        self.cache_name = "wav2vec2" if self.layer is None else f"wav2vec2_l{self.layer}"

    def config(self) -> dict:
        """Settings that identify the features: model folder name or hub id, a fingerprint of the
        weights (local folder) or the hub commit, layer, sizes."""
        path = Path(self.model_name).expanduser()
        name = path.resolve().name if path.exists() else self.model_name
        cfg = self.network.config
        weights = weights_fingerprint(path) if path.is_dir() else str(getattr(cfg, "_commit_hash", "") or "")
        return {"name": "wav2vec2", "model": name, "weights": weights, "layer": self.layer,
                "hidden": int(cfg.hidden_size), "layers": int(cfg.num_hidden_layers), "normalised": True, "rate": RATE}

    def n_frames(self, n_samples: int) -> int:
        import torch  # noqa: PLC0415 (lazy: torch: ~1.1 s)

        return int(self.network._get_feat_extract_output_lengths(torch.tensor(int(n_samples))).item())

    def extract(self, audio_16k: np.ndarray) -> np.ndarray:
        return self.extract_batch([audio_16k])[0]

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices grouped into batches: by sorted length (masked) or by identical length (group norm)."""
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        groups: list[list[int]] = []
        for index in order:
            last = groups[-1] if groups else None
            fits = last is not None and len(last) < self.batch_size and (
                self.masked_batches or lengths[last[0]] == lengths[index])
            if fits:
                last.append(index)
            else:
                groups.append([index])
        return groups

    def extract_batch(self, audios: list[np.ndarray]) -> list[np.ndarray]:
        """One float32 array per input (see class docstring for shapes)."""
        import torch  # noqa: PLC0415 (lazy: torch: ~1.1 s)

        lengths = [int(np.asarray(a).size) for a in audios]
        too_short = [i for i, n in enumerate(lengths) if n < 400]
        if too_short:
            raise UserError(f"audio shorter than 25 ms (400 samples) cannot be encoded by wav2vec2 "
                            f"(input {too_short[0]} has {lengths[too_short[0]]} samples)")
        outputs: list[np.ndarray | None] = [None] * len(audios)
        for chunk in self._batches(lengths):
            longest = max(lengths[i] for i in chunk)
            batch = np.zeros((len(chunk), longest), np.float32)
            mask = np.zeros((len(chunk), longest), np.int64)
            for row, i in enumerate(chunk):
                batch[row, : lengths[i]] = normalise(audios[i])
                mask[row, : lengths[i]] = 1
            padded = any(lengths[i] != longest for i in chunk)
            with torch.inference_mode():
                result = self.network(torch.from_numpy(batch).to(self.device),
                                      attention_mask=torch.from_numpy(mask).to(self.device) if padded else None,
                                      output_hidden_states=True)
                states = result.hidden_states[self.layer] if self.layer is not None else torch.stack(result.hidden_states, dim=2)
                states = states.float().cpu().numpy()
            for row, i in enumerate(chunk):
                outputs[i] = np.ascontiguousarray(states[row, : self.n_frames(lengths[i])])
        return outputs  # type: ignore[return-value]
