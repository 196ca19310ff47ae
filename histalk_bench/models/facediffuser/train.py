"""Training FaceDiffuser through the shared loop (:func:`histalk_bench.models.training.fit`), as the
official ``main.py`` trains it: batch 1, a uniformly drawn diffusion step per sequence, the target
x0 = the ground-truth vertices (template included), Huber loss (delta 1, mean) between x0 and the
denoiser's estimate, Adam 1e-4, 50 epochs, no early stopping, no gradient clipping, HuBERT-base
pretrained with its CNN, feature projection and encoder layers 0-1 frozen.

Sizes: ``size='paper'`` (VOCASET latent/GRU 256 and 1000 steps; BIWI 512 and 500 steps; 2 GRU
layers) or ``size='demo'`` (the CPU demo: tiny random HuBERT, latent 32, 50 steps; not the paper's)."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import torch

from ...cache import Cache
from ...common.errors import UserError
from ...datasets.base import training_speaker_order
from ..data import WholeSequences, collate_whole
from ..training import TrainOptions, fit
from .diffusion import CosineDiffusion
from .model import FaceDiffuser, FaceDiffuserConfig

SIZES = ("paper", "demo")
AUDIO_ENCODERS = ("base", "tiny", "base-random")


def clean_vertices(batch: dict) -> torch.Tensor:
    """x0 of the diffusion: absolute vertices (1, T, 3V), the displacements plus the template."""
    return batch["motion"] + batch["template"][:, None]


class FaceDiffuserTask:
    def __init__(self, model: FaceDiffuser):
        self.model = model
        self.diffusion = CosineDiffusion(model.config.diffusion_steps)
        self.huber = torch.nn.HuberLoss()

    def _loss(self, model, batch, speaker: torch.Tensor, steps: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x0 = clean_vertices(batch)
        x_t = self.diffusion.noised(x0, steps, noise)
        estimate = model(x_t, steps, batch["audio"], speaker, batch["template"])
        return self.huber(estimate, x0[:, : estimate.shape[1]])

    def loss(self, model, batch):
        x0 = clean_vertices(batch)
        steps = torch.randint(0, self.diffusion.steps, (1,), device=x0.device)
        loss = self._loss(model, batch, batch["speaker"], steps, torch.randn_like(x0))
        return loss, {"huber": float(loss.detach())}

    def validate(self, model, batch):
        """The training loss at one step and noise fixed per sequence (the official validation draws
        them anew each epoch); unseen subjects: mean over every training-speaker condition."""
        x0, speaker = clean_vertices(batch), int(batch["speaker"][0])
        generator = torch.Generator().manual_seed(zlib.crc32(batch["keys"][0].encode()))
        steps = torch.randint(0, self.diffusion.steps, (1,), generator=generator).to(x0.device)
        noise = torch.randn(x0.shape, generator=generator).to(x0.device)
        conditions = [speaker] if speaker >= 0 else list(range(model.obj_vector.in_features))
        losses = [float(self._loss(model, batch, torch.tensor([c], device=x0.device), steps, noise)) for c in conditions]
        return {"loss": sum(losses) / len(losses)}

    def run_config(self) -> dict:
        return {"model": "facediffuser", "facediffuser": self.model.config.to_dict()}


def _train_options(options: dict) -> TrainOptions:
    """The official optimisation unless overridden: 50 epochs, Adam 1e-4, batch 1, no early
    stopping, no gradient clipping."""
    unknown = set(options) - set(TrainOptions.__dataclass_fields__)
    if unknown:
        raise UserError(f"unknown facediffuser option(s): {', '.join(sorted(unknown))}")
    if options.get("batch_size") not in (None, 1):
        raise UserError(f"facediffuser trains with batch size 1 (as the original), not {options['batch_size']}")
    return TrainOptions(**{"epochs": 50, "lr": 1e-4, "patience": 0, "grad_clip": 0.0, **options, "batch_size": 1})


def train(cache_path: str | os.PathLike, out_dir: str | os.PathLike, *, size: str = "paper", audio_encoder: str | None = None,
          hubert_model: str | None = None, allow_download: bool = False, latent_dim: int | None = None,
          diffusion_steps: int | None = None, gru_layers: int = 2, select: str = "last", **options) -> Path:
    """Train FaceDiffuser (see the module docstring).  ``audio_encoder``: 'base' (pretrained
    HuBERT-base from ``hubert_model``, a folder or hub id, default facebook/hubert-base-ls960, found
    locally or downloaded with ``allow_download``), 'tiny', 'base-random' or a folder with
    pretrained HuBERT weights; ``select``: weights prediction uses, 'last' (the official test loads
    the final epoch) or 'best' (validation loss)."""
    for option, hint in (("features", "--features"), ("units", "--units"), ("wav2vec2_model", "--wav2vec2-model")):
        if options.pop(option, None) is not None:
            raise UserError(f"facediffuser encodes raw audio with HuBERT: {hint} does not apply to it"
                            + (" (use --set hubert_model=PATH)" if option == "wav2vec2_model" else ""))
    if size not in SIZES:
        raise UserError(f"size must be 'paper' or 'demo', not '{size}'")
    audio_encoder = audio_encoder or ("tiny" if size == "demo" else "base")
    if audio_encoder not in AUDIO_ENCODERS and not Path(audio_encoder).expanduser().is_dir():
        raise UserError(f"audio_encoder must be base, tiny, base-random or a HuBERT folder, not '{audio_encoder}'")
    if hubert_model is not None and audio_encoder != "base":
        raise UserError(f"hubert_model gives pretrained weights for audio_encoder=base, not '{audio_encoder}'")
    if select not in ("last", "best"):
        raise UserError(f"select must be 'last' (the final epoch, as the official test) or 'best', not '{select}'")
    train_options = _train_options(options)
    cache = Cache(cache_path)
    if not cache.sequences("train"):
        raise UserError("no training sequences (split 'train')", cache_path)
    speakers = training_speaker_order(cache.dataset, cache.subjects("train"))  # the official one-hot order
    biwi = cache.dataset == "biwi"
    latent = latent_dim or (32 if size == "demo" else 512 if biwi else 256)
    steps = diffusion_steps or (50 if size == "demo" else 500 if biwi else 1000)
    config = FaceDiffuserConfig(n_vertices=cache.n_vertices, speakers=speakers, fps=cache.fps, latent_dim=latent,
                                gru_dim=latent, gru_layers=gru_layers, diffusion_steps=steps, audio_encoder=audio_encoder,
                                hubert_model=hubert_model if audio_encoder == "base" else None, select=select)
    torch.manual_seed(train_options.seed)
    model = FaceDiffuser(config, allow_download=allow_download)
    model.config.encoder_config = json.loads(model.audio_encoder.config.to_json_string())  # prediction rebuilds this shape
    val = WholeSequences(cache_path, "val", speakers) if cache.sequences("val") else None
    fit(FaceDiffuserTask(model), WholeSequences(cache_path, "train", speakers), val, out_dir, train_options, collate_whole)
    return Path(out_dir)
