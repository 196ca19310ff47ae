"""HiSTalk inference speed: frames per second and real-time factor, with and without a
wav2vec2-base-sized backbone (random weights: timing only).

Usage: python benchmarks/inference.py [--seconds 8] [--vertices 5023] [--device cpu|cuda] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from histalk_bench.align.units import hierarchy
from histalk_bench.models.data import collate, resample_features
from histalk_bench.models.histalk.config import HiSTalkConfig
from histalk_bench.models.histalk.model import HiSTalk


def best_of(function, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--vertices", type=int, default=5023, help="5023 = FLAME/VOCASET, 23370 = BIWI")
    parser.add_argument("--landmarks", type=int, default=68)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n_frames = int(args.seconds * args.fps)
    audio = np.random.default_rng(0).normal(size=int(args.seconds * 16000)).astype(np.float32) * 0.1

    from transformers import Wav2Vec2Config, Wav2Vec2Model

    backbone = Wav2Vec2Model(Wav2Vec2Config()).eval().to(device)  # wav2vec2-base sized, random weights
    n_layers, hidden = backbone.config.num_hidden_layers + 1, backbone.config.hidden_size

    def run_backbone():
        with torch.no_grad():
            out = backbone(torch.from_numpy(audio)[None].to(device), output_hidden_states=True)
        return torch.stack(out.hidden_states, dim=2)[0].cpu().numpy()

    features = run_backbone()
    config = HiSTalkConfig(n_vertices=args.vertices, n_landmarks=args.landmarks, feature_layers=n_layers,
                           feature_dim=hidden, speakers=tuple(f"s{i}" for i in range(8)))
    model = HiSTalk(config).eval().to(device)
    item = {"audio": resample_features(features, 50.0, n_frames, args.fps), "key": "bench", "speaker": 0,
            **hierarchy(n_frames, args.fps, source="statistical")}
    batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in collate([item]).items()}

    def run_model():
        with torch.no_grad():
            model(batch)["motion"].cpu()

    run_model()
    model_s = best_of(run_model)
    backbone_s = best_of(run_backbone)
    total = model_s + backbone_s
    params = sum(p.numel() for p in model.parameters())
    print(f"device {device}, {torch.get_num_threads()} threads; {args.seconds:.1f} s of audio = {n_frames} frames, "
          f"{args.vertices} vertices; HiSTalk parameters: {params / 1e6:.2f} M")
    print(f"HiSTalk alone:          {model_s * 1e3:8.1f} ms  {n_frames / model_s:8.1f} fps  RTF {model_s / args.seconds:.3f}")
    print(f"wav2vec2-base backbone: {backbone_s * 1e3:8.1f} ms")
    print(f"HiSTalk + backbone:     {total * 1e3:8.1f} ms  {n_frames / total:8.1f} fps  RTF {total / args.seconds:.3f}")


if __name__ == "__main__":
    main()
