"""``train codetalker``: the paper's two stages through the shared training loop.

RUN/stage1/ trains the VQ-VAE on motion alone (L1 reconstruction + VQ loss, weight 1); RUN/
then trains the speech model with the stage-1 VQ-VAE frozen (teacher forcing, as the official
configs: MSE on the decoded motion + MSE between predicted and stage-1 codes, weights 1 and 1).
Both are regular run folders (config.json, history.jsonl, best.pt, last.pt) and resume with
``--resume`` (a finished stage 1 is not retrained); RUN/best.pt holds the whole model (stage 1
included) and is what prediction loads.  ``vq_checkpoint=FILE`` skips stage 1 and trains stage 2 on that VQ-VAE
(an official ``*_stage1.pth.tar`` or a RUN/stage1/best.pt).

Defaults are the official configs' (VQ width 1024, 6 blocks of 8 heads, MLP 1536, codebook 256 x
64 with 16 codes per frame for VOCASET, 256 x 128 with 8 and the extra projections for BIWI;
stage 2 width 1024, 6 / 12 layers, FFN 2048, pretrained wav2vec2-base-960h; batch 1, lr 1e-4,
200 + 100 epochs).  ``demo=true`` is a CPU demonstration configuration (tiny random wav2vec2,
widths 64, one block / layer, 2 + 2 epochs): it runs in minutes and is not the paper's model.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import torch

from ...cache import Cache
from ...common.errors import UserError
from ..data import WholeSequences, collate_whole
from ..faceformer.api import protocol_speakers
from ..training import TrainOptions, fit, load_checkpoint
from .config import SpeechConfig, VQConfig
from .model import CodeTalker
from .vqvae import VQAutoEncoder

DEMO = {"vq_hidden": 64, "vq_depth": 1, "vq_heads": 4, "vq_mlp": 96, "code_dim": 8, "d_model": 64, "layers": 1,
        "ffn": 128, "audio_encoder": "tiny", "stage1_epochs": 2, "stage2_epochs": 2}
MODEL_OPTIONS = ("vq_hidden", "vq_depth", "vq_heads", "vq_mlp", "n_codes", "code_dim", "codes_per_frame", "d_model",
                 "layers", "heads", "ffn", "audio_encoder", "wav2vec2_model", "allow_download", "stage1_epochs",
                 "stage2_epochs", "quant_loss_weight", "motion_weight", "reg_weight", "vq_checkpoint", "demo")


def _lip_error(error: torch.Tensor, lip_ids) -> dict:
    if lip_ids is None:
        return {}
    lips = error.view(*error.shape[:2], -1, 3)[:, :, torch.as_tensor(lip_ids, dtype=torch.long, device=error.device)]
    return {"lve_sum": float((lips ** 2).sum(-1).amax(-1).sum()), "frames": float(error.shape[1])}


class VQTask:
    """Stage 1: reconstruct motion through the codebook."""

    def __init__(self, model: VQAutoEncoder, lip_ids, quant_loss_weight: float, label: str):
        self.model, self.lip_ids, self.quant_loss_weight, self.label = model, lip_ids, quant_loss_weight, label

    def loss(self, model, batch):
        reconstruction, vq_loss = model(batch["motion"])
        rec = torch.mean(torch.abs(reconstruction - batch["motion"]))
        return rec + self.quant_loss_weight * vq_loss, {"rec_l1": float(rec.detach()), "vq": float(vq_loss.detach())}

    def validate(self, model, batch):
        reconstruction, vq_loss = model(batch["motion"])
        error = reconstruction - batch["motion"]
        return {"loss": float(torch.mean(torch.abs(error)) + self.quant_loss_weight * vq_loss), **_lip_error(error, self.lip_ids)}

    def run_config(self) -> dict:
        return {"model": "codetalker", "stage": 1, "configuration": self.label, "vq": self.model.config.to_dict()}


class SpeechTask:
    """Stage 2 with the VQ-VAE frozen: teacher-forced codes, decoded by stage 1."""

    def __init__(self, model: CodeTalker, lip_ids, motion_weight: float, reg_weight: float, label: str, vq_source: str):
        self.model, self.lip_ids = model, lip_ids
        self.motion_weight, self.reg_weight, self.label, self.vq_source = motion_weight, reg_weight, label, vq_source

    def _forward(self, model, batch):
        motion = batch["motion"]
        memory, usable = model.encode_audio(batch["audio"], motion.shape[1])
        out = model.forward_teacher_forced(memory, model.style(batch["speaker"]), motion[:, :usable])
        return out, motion[:, :usable]

    def loss(self, model, batch):
        out, target = self._forward(model, batch)
        motion_loss = torch.mean((out["motion"] - target) ** 2)
        reg_loss = torch.mean((out["codes"] - out["target_codes"]) ** 2)
        loss = self.motion_weight * motion_loss + self.reg_weight * reg_loss
        return loss, {"motion_mse": float(motion_loss.detach()), "code_mse": float(reg_loss.detach())}

    def validate(self, model, batch):
        """Teacher-forced (the official validation's forward); unseen subjects take condition 0."""
        out, target = self._forward(model, {**batch, "speaker": batch["speaker"].clamp(min=0)})
        error = out["motion"] - target
        return {"loss": float(torch.mean(error ** 2)), **_lip_error(error, self.lip_ids)}

    def run_config(self) -> dict:
        return {"model": "codetalker", "stage": 2, "configuration": self.label, "vq_source": self.vq_source,
                "speech": self.model.config.to_dict(), "vq": self.model.vq_config.to_dict()}


def _options(options: dict) -> tuple[dict, TrainOptions]:
    model_options = {k: options.pop(k) for k in list(options) if k in MODEL_OPTIONS}
    if "features" in options:
        raise UserError("codetalker encodes raw audio: --features does not apply to it")
    unknown = set(options) - set(TrainOptions.__dataclass_fields__)
    if unknown:
        raise UserError(f"unknown codetalker option(s): {', '.join(sorted(unknown))} "
                        f"(model options: {', '.join(MODEL_OPTIONS)})")
    if options.get("batch_size", 1) != 1:
        raise UserError("codetalker trains with batch size 1, as the original (sequences are not padded)")
    train = TrainOptions(**{"lr": 1e-4, "patience": 0, "grad_clip": 0.0, **options, "batch_size": 1})
    return model_options, train


def train(cache_path: str | os.PathLike, out_dir: str | os.PathLike, **options) -> Path:
    """Stage 1 then stage 2 (see the module docstring); returns the run folder."""
    model_options, base = _options(dict(options))
    demo = str(model_options.pop("demo", False)).lower() in ("1", "true", "yes")
    if demo:
        stage1_keys = ("vq_", "code_dim", "stage1_epochs") if model_options.get("vq_checkpoint") else ()
        model_options = {**{k: v for k, v in DEMO.items() if not k.startswith(stage1_keys)}, **model_options}
    label = "demo (CPU, minutes; not the paper's model)" if demo else "paper"
    cache = Cache(cache_path)
    if not cache.sequences("train"):
        raise UserError("no training sequences (split 'train')", cache_path)
    biwi = cache.dataset == "biwi"
    speakers = protocol_speakers(cache)
    epochs_given = "epochs" in options
    lip = cache.regions().get("lip")
    out_dir = Path(out_dir)
    sets = {split: WholeSequences(cache_path, split, speakers) for split in ("train", "val") if cache.sequences(split)}

    vq_file = model_options.pop("vq_checkpoint", None)
    stage1_epochs = int(base.epochs if epochs_given else model_options.pop("stage1_epochs", 200))
    quant_loss_weight = float(model_options.pop("quant_loss_weight", 1.0))
    if vq_file:
        from .checkpoint import load_vqvae

        vq = load_vqvae(vq_file)
        if vq.config.n_vertices != cache.n_vertices:
            raise UserError(f"the VQ-VAE decodes {vq.config.n_vertices} vertices, the cache has {cache.n_vertices}", vq_file)
        vq_source = str(Path(vq_file).absolute())
    else:
        torch.manual_seed(base.seed)
        vq = VQAutoEncoder(_vq_config(model_options, cache.n_vertices, biwi))
        vq_source = "stage1/best.pt"
    stage2_epochs = int(base.epochs if epochs_given else model_options.pop("stage2_epochs", 100))
    model_options.pop("stage1_epochs", None)
    model_options.pop("stage2_epochs", None)
    speech = SpeechConfig(n_vertices=cache.n_vertices, speakers=speakers, d_model=int(model_options.pop("d_model", 1024)),
                          layers=int(model_options.pop("layers", 12 if biwi else 6)), heads=int(model_options.pop("heads", 4)),
                          ffn=int(model_options.pop("ffn", 2048)), period=25 if biwi else 30, fps=cache.fps,
                          tokens_per_frame=2 if biwi else 1, audio_encoder=str(model_options.pop("audio_encoder", "base")),
                          wav2vec2_model=model_options.pop("wav2vec2_model", None))
    weights = (float(model_options.pop("motion_weight", 1.0)), float(model_options.pop("reg_weight", 1.0)))
    allow_download = bool(model_options.pop("allow_download", False))
    if model_options:  # e.g. VQ-VAE sizes given with vq_checkpoint (whose file fixes them)
        raise UserError(f"codetalker option(s) {', '.join(sorted(model_options))} do not apply here"
                        + (f" (the VQ-VAE comes from {vq_file})" if vq_file else ""))
    torch.manual_seed(base.seed)
    try:  # before stage 1: missing wav2vec2 weights stop the run at once, not after stage 1
        model = CodeTalker(speech, vq.config, allow_download=allow_download)
    except UserError as exc:
        raise UserError(f"{exc} (codetalker: --set demo=true or --set audio_encoder=tiny for the CPU demo)") from None
    model.config.encoder_config = json.loads(model.audio_encoder.config.to_json_string())

    if not vq_file:
        task = VQTask(vq, lip, quant_loss_weight, label)
        fit(task, sets["train"], sets.get("val"), out_dir / "stage1", replace(base, epochs=stage1_epochs), collate_whole)
        vq.load_state_dict(load_checkpoint(out_dir / "stage1" / "best.pt")["model"])
    model.autoencoder.load_state_dict(vq.state_dict())
    task = SpeechTask(model, lip, *weights, label, vq_source)
    fit(task, sets["train"], sets.get("val"), out_dir, replace(base, epochs=stage2_epochs), collate_whole)
    return out_dir


def _vq_config(model_options: dict, n_vertices: int, biwi: bool) -> VQConfig:
    """The stage-1 configuration: the official one for the dataset unless overridden (options popped)."""
    code_dim = int(model_options.pop("code_dim", 128 if biwi else 64))
    hidden = int(model_options.pop("vq_hidden", 1024))
    codes = int(model_options.pop("codes_per_frame", 8 if biwi else hidden // code_dim))
    if not biwi and codes * code_dim != hidden:
        raise UserError(f"VOCASET's VQ layout needs codes_per_frame x code_dim = vq_hidden ({codes} x {code_dim} != {hidden})")
    return VQConfig(n_vertices=n_vertices, hidden=hidden, depth=int(model_options.pop("vq_depth", 6)),
                    heads=int(model_options.pop("vq_heads", 8)), mlp=int(model_options.pop("vq_mlp", 1536)),
                    n_codes=int(model_options.pop("n_codes", 256)), code_dim=code_dim, codes_per_frame=codes,
                    projections=biwi, output_bias=not biwi)


def load_run(run_dir: str | os.PathLike) -> CodeTalker:
    """The stage-2 model of a ``train codetalker`` run (RUN/best.pt, stage 1 included)."""
    path = Path(run_dir) / "best.pt"
    if not path.exists():
        raise UserError("no CodeTalker stage-2 checkpoint (train first: 'histalk-bench train codetalker ...')", path)
    return load_run_file(path)


def load_run_file(path: str | os.PathLike) -> CodeTalker:
    """The model in a run's stage-2 checkpoint file (config and weights, stage 1 included)."""
    path = Path(path)
    saved = load_checkpoint(path)
    try:
        config = json.loads(saved["config"])
        assert config["model"] == "codetalker" and config["stage"] == 2
    except (KeyError, TypeError, ValueError, AssertionError):
        raise UserError("not the stage-2 checkpoint of a codetalker run", path) from None
    model = CodeTalker(SpeechConfig.from_dict(config["speech"]), VQConfig.from_dict(config["vq"]), initialise=False)
    missing, unexpected = model.load_state_dict(saved["model"], strict=False)
    if [k for k in missing if not k.endswith("masked_spec_embed")] or unexpected:
        raise UserError(f"checkpoint does not match its config: missing {missing[:3]}, unexpected {unexpected[:3]}", path)
    model.source = {"weights": path.name, "epoch": saved.get("epoch"), "configuration": config.get("configuration")}
    return model
