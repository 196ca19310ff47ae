"""FaceDiffuser sampling speed: the official loop (HuBERT re-encodes the audio at every diffusion
step, one speaker condition at a time) against ours (the audio encoded once per sequence, every
condition denoised as one batch), at the official sizes: VOCASET L=256, V=5023, 30 fps, 1000
steps / BIWI L=512, V=23370, 25 fps, 500 steps; HuBERT-base shape (random weights: timing only).

Usage: python benchmarks/facediffuser_inference.py [--dataset vocaset|biwi] [--steps 20]
       [--seconds 4] [--conditions 1 8] [--threads 1] [--device cpu|cuda]

``--steps`` runs only that many of the schedule's steps (the model keeps the full one-hot step
input); every step costs the same, so frames/s at the full schedule is the printed figure times
steps/S.  Figures are output frames (frames x conditions) per second, best of ``--repeats``; the
two paths start from the same seed and their outputs are compared (max |diff|).
"""

from __future__ import annotations

import argparse
import os

import torch
from _timing import best_of

from histalk_bench.models.facediffuser.diffusion import CosineDiffusion
from histalk_bench.models.facediffuser.model import FaceDiffuser, FaceDiffuserConfig


def build(dataset: str, device) -> FaceDiffuser:
    biwi = dataset == "biwi"
    config = FaceDiffuserConfig(n_vertices=23370 if biwi else 5023, speakers=tuple(f"s{i}" for i in range(6 if biwi else 8)),
                                fps=25.0 if biwi else 30.0, latent_dim=512 if biwi else 256, gru_dim=512 if biwi else 256,
                                diffusion_steps=500 if biwi else 1000, audio_encoder="base-random")
    torch.manual_seed(0)
    model = FaceDiffuser(config).eval().to(device)
    torch.nn.init.normal_(model.final_layer.weight, std=0.01)  # not zero: x0 depends on every input
    return model


class Truncated(CosineDiffusion):
    """The full schedule's coefficients, sampling only its last ``n`` steps (n-1 .. 0)."""

    def __init__(self, steps: int, n: int):
        super().__init__(steps)
        self.steps = n


def sample_official(model, diffusion, audio, template, frames, conditions, seed):
    """One condition at a time, HuBERT recomputed inside every denoising step."""
    outs = []
    for c in conditions:
        style = model.style(torch.tensor([c], device=audio.device))

        def denoise(x_t, step):
            cond = model.audio_condition(model.encode_audio(audio), frames)
            emb = model.step_embedding(torch.tensor([step], device=audio.device))
            return model.denoise(x_t, emb, cond, style, template)

        outs.append(diffusion.sample(denoise, (1, frames, template.shape[1]), seed, device=audio.device))
    return torch.cat(outs)


def sample_ours(model, diffusion, audio, template, frames, conditions, seed):
    cond = model.audio_condition(model.encode_audio(audio), frames)
    style = model.style(torch.tensor(conditions, device=audio.device))
    embeddings = model.step_embedding(torch.arange(model.config.diffusion_steps, device=audio.device))

    def denoise(x_t, step):
        return model.denoise(x_t, embeddings[step:step + 1], cond, style, template)

    return diffusion.sample(denoise, (1, frames, template.shape[1]), seed, batch=len(conditions), device=audio.device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["vocaset", "biwi"], default="vocaset")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seconds", type=float, nargs="+", default=[4.0])
    parser.add_argument("--conditions", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"loadavg {open('/proc/loadavg').read().split()[:3]} cores {os.cpu_count()} threads {args.threads} "
          f"device {device} torch {torch.__version__}")
    model = build(args.dataset, device)
    config = model.config
    diffusion = Truncated(config.diffusion_steps, min(args.steps, config.diffusion_steps))
    print(f"{args.dataset}: V={config.n_vertices} L={config.latent_dim} {config.fps:g} fps, schedule of "
          f"{config.diffusion_steps} steps, {diffusion.steps} run (x{config.diffusion_steps / diffusion.steps:g} for the full loop)")
    print("audio_s frames conditions  official_fps  ours_fps  speedup  full-schedule: official_fps ours_fps  max|diff|")
    template = torch.zeros(1, 3 * config.n_vertices, device=device)
    for seconds in args.seconds:
        audio = torch.randn(1, int(16000 * seconds), device=device)
        frames = int(audio.shape[1] / 16000 * config.fps) - 1
        for n in args.conditions:
            conditions = list(range(n))
            with torch.no_grad():
                before_s, before = best_of(lambda: sample_official(model, diffusion, audio, template, frames, conditions, 7), args.repeats)
                after_s, after = best_of(lambda: sample_ours(model, diffusion, audio, template, frames, conditions, 7), args.repeats)
            out = frames * n
            scale = diffusion.steps / config.diffusion_steps
            print(f"{seconds:7.1f} {frames:6d} {n:10d} {out / before_s:13.2f} {out / after_s:9.2f} {before_s / after_s:8.1f} "
                  f"{out / before_s * scale:27.3f} {out / after_s * scale:8.3f} {float((before - after).abs().max()):10.2e}")
    print(f"loadavg after {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
