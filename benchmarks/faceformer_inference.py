"""FaceFormer autoregressive inference speed: the official loop (re-decodes the whole prefix at
every frame, one speaker condition at a time) against cached past keys/values (one audio encoding
shared by every condition), at the official sizes: VOCASET d=64, V=5023, 30 fps, wav2vec2-base
shape (random weights: timing only).  Outputs of the two paths are compared as well.

Usage: python benchmarks/faceformer_inference.py [--seconds 4 11.5] [--conditions 1 8] [--threads 1]
       [--device cpu|cuda] [--dataset vocaset|biwi]

Figures are frames per second of predicted output (frames x conditions / seconds), best of
``--repeats`` runs, batch of one utterance, no gradients.  The load average printed first tells how
much other work competed for the cores on a shared machine.
"""

from __future__ import annotations

import argparse
import os

import torch
from _timing import best_of

from histalk_bench.models.faceformer.model import FaceFormer, FaceFormerConfig


def build(dataset: str, device) -> FaceFormer:
    biwi = dataset == "biwi"
    config = FaceFormerConfig(n_vertices=23370 if biwi else 5023, speakers=tuple(f"s{i}" for i in range(6 if biwi else 8)),
                              d_model=128 if biwi else 64, period=25 if biwi else 30, fps=25.0 if biwi else 30.0,
                              tokens_per_frame=2 if biwi else 1, audio_encoder="base-random")
    torch.manual_seed(0)
    model = FaceFormer(config).eval().to(device)
    torch.nn.init.normal_(model.vertice_map_r.weight, std=0.01)  # not zero: outputs feed back
    return model


def measure(model: FaceFormer, seconds: float, n_conditions: int, repeats: int, device) -> dict:
    """Encoder time; official decoding of one condition (the official test repeats encoder and
    decoder per condition, identical work, so its total is n_conditions x (encode + decode));
    cached decoding of every condition at once after one encoding."""
    audio = torch.randn(1, int(16000 * seconds), device=device)
    with torch.no_grad():
        encode_s, (memory, frames) = best_of(lambda: model.encode_audio(audio), repeats)
        style = model.style(torch.arange(n_conditions, device=device))
        decode_before_s, before = best_of(lambda: model.forward_autoregressive(memory, style[:1], frames), repeats)
        decode_after_s, after = best_of(lambda: model.generate(memory, style, frames), repeats)
    n = frames * n_conditions
    before_s, after_s = n_conditions * (encode_s + decode_before_s), encode_s + decode_after_s
    return {"seconds": seconds, "frames": frames, "conditions": n_conditions, "encode_s": encode_s,
            "decode_before_fps": frames / decode_before_s, "decode_after_fps": n / decode_after_s,
            "before_fps": n / before_s, "after_fps": n / after_s, "speedup": before_s / after_s,
            "max_abs_diff": float((before[0] - after[0]).abs().max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[4.0, 11.5])
    parser.add_argument("--conditions", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--dataset", choices=["vocaset", "biwi"], default="vocaset")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"loadavg {open('/proc/loadavg').read().split()[:3]} cores {os.cpu_count()} threads {args.threads} "
          f"device {device} torch {torch.__version__}")
    model = build(args.dataset, device)
    print(f"{args.dataset}: V={model.config.n_vertices} d={model.config.d_model} wav2vec2-base shape (random weights)")
    print("decode: decoder frames/s alone (official loop -> cached); total: encoder included, every condition")
    print("audio_s frames conditions encode_s  decode_before  decode_after  total_before  total_after  speedup  max|diff|")
    for seconds in args.seconds:
        for n_conditions in args.conditions:
            r = measure(model, seconds, n_conditions, args.repeats, device)
            print(f"{r['seconds']:7.1f} {r['frames']:6d} {r['conditions']:10d} {r['encode_s']:8.2f} "
                  f"{r['decode_before_fps']:14.1f} {r['decode_after_fps']:13.1f} {r['before_fps']:13.1f} "
                  f"{r['after_fps']:12.1f} {r['speedup']:8.1f} {r['max_abs_diff']:10.2e}")
    print(f"loadavg after {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
