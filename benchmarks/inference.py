"""HiSTalk inference speed: frames per second and real-time factor (RTF = compute seconds per
second of audio; below 1 is faster than real time) for the log-mel front end and for a
wav2vec2-base-sized backbone (transformers' default Wav2Vec2Config, random weights: timing only).
The model is the default architecture (SpeechFormer++ stages [2, 2, 4, 4] at 50 Hz, SE weight
generation, five Transformer S2D branches, PCA-basis CMG), statistical units.

Usage: python benchmarks/inference.py [--seconds 4 8] [--vertices 5023] [--device cpu|cuda] [--threads 2]

Each figure is the best of ``--repeats`` runs (batch 1, no gradients).  On a shared machine the
load average printed first tells how much other work competed for the cores.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from histalk_bench.models.data import as_layers, collate, model_inputs
from histalk_bench.models.histalk.config import HiSTalkConfig
from histalk_bench.models.histalk.model import HiSTalk


def best_of(function, repeats: int) -> float:
    """Fastest wall-clock seconds of ``repeats`` calls (after one warm-up call)."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def model_runner(features: np.ndarray, rate: float, feature: str, n_frames: int, args, device) -> tuple:
    """A zero-argument function running HiSTalk on ``features`` and the model's parameter count."""
    layers = as_layers(features)
    config = HiSTalkConfig(n_vertices=args.vertices, n_landmarks=args.landmarks, feature_layers=layers.shape[1],
                           feature_dim=layers.shape[2], speakers=tuple(f"s{i}" for i in range(8)), fps=args.fps,
                           feature=feature, units="statistical")
    model = HiSTalk(config).eval().to(device)
    item = {**model_inputs(layers, rate, feature, n_frames, args.fps, "statistical"), "key": "bench", "speaker": 0}
    batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in collate([item]).items()}

    def run():
        with torch.inference_mode():
            model(batch)["motion"].cpu()

    return run, sum(p.numel() for p in model.parameters())


def report(label: str, seconds: float, n_frames: int, compute_s: float) -> None:
    print(f"  {label:34s} {compute_s * 1e3:8.1f} ms  {n_frames / compute_s:9.1f} frames/s  RTF {compute_s / seconds:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, nargs="+", default=[4.0, 8.0])
    parser.add_argument("--vertices", type=int, default=5023, help="5023 = FLAME/VOCASET, 23370 = BIWI")
    parser.add_argument("--landmarks", type=int, default=68)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    from transformers import Wav2Vec2Config, Wav2Vec2Model

    from histalk_bench.features.mel import LogMelExtractor

    backbone = Wav2Vec2Model(Wav2Vec2Config()).eval().to(device)  # wav2vec2-base sized, random weights
    mel = LogMelExtractor()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device {device}, {torch.get_num_threads()} threads, load average {load:.2f}; "
          f"{args.vertices} vertices, {args.landmarks} landmarks, {args.fps:g} fps")
    for seconds in args.seconds:
        n_frames = int(seconds * args.fps)
        audio = np.random.default_rng(0).normal(size=int(seconds * 16000)).astype(np.float32) * 0.1

        def run_backbone():
            with torch.inference_mode():
                out = backbone(torch.from_numpy(audio)[None].to(device), output_hidden_states=True)
            return torch.stack(out.hidden_states, dim=2)[0].cpu().numpy()

        run_w2v_model, w2v_params = model_runner(run_backbone(), 50.0, "wav2vec2", n_frames, args, device)
        run_mel_model, mel_params = model_runner(mel.extract(audio), mel.rate, "mel", n_frames, args, device)
        mel_s = best_of(lambda: mel.extract(audio), args.repeats)
        mel_model_s = best_of(run_mel_model, args.repeats)
        backbone_s = best_of(run_backbone, args.repeats)
        w2v_model_s = best_of(run_w2v_model, args.repeats)
        print(f"{seconds:g} s of audio = {n_frames} frames; HiSTalk parameters: {mel_params / 1e6:.2f} M (mel), "
              f"{w2v_params / 1e6:.2f} M (wav2vec2, 13 layers mixed)")
        report("HiSTalk alone (mel input)", seconds, n_frames, mel_model_s)
        report("log-mel + HiSTalk", seconds, n_frames, mel_s + mel_model_s)
        report("HiSTalk alone (wav2vec2 input)", seconds, n_frames, w2v_model_s)
        report("wav2vec2-base backbone alone", seconds, n_frames, backbone_s)
        report("wav2vec2-base + HiSTalk", seconds, n_frames, backbone_s + w2v_model_s)


if __name__ == "__main__":
    main()
