"""CodeTalker inference speed: the official loop (``tests/_official_codetalker.py``: re-decodes
the whole prefix through the stage-2 decoder and the VQ decoder at every frame, one speaker
condition at a time, the audio encoded per condition) against histalk-bench's predictor (cached
stage-2 keys/values, codes quantised once per frame, the VQ decoder's last block and output
projection for the last row only inside the loop, one audio encoding shared by every condition
decoded as one batch).  Random weights in the official layout and released sizes (VQ width 1024,
6 blocks, codebook 256 x 64 / 128; stage 2 width 1024, 6 / 12 layers; wav2vec2-base shape):
timing only; both outputs are compared as well.

Usage: python benchmarks/codetalker_inference.py [--dataset vocaset|biwi] [--seconds 2]
       [--conditions 8] [--device cpu|cuda] [--threads 2] [--repeats 1]
       [--vq-depth 6] [--layers 6|12] [--vertices 5023|23370]

Figures: frames per second of predicted output (frames x conditions / seconds), no gradients,
TF32 off for both paths.  The official path is timed for one condition; its total for C
conditions is C times that (the official test repeats identical work per condition).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch
from _timing import best_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _official_codetalker import (
    OfficialCodeTalker,
    official_stage1_state,
    official_stage2_state,
)


def build_models(n_vertices: int, biwi: bool, vq_depth: int, layers: int, w2v: dict, device: torch.device):
    """Official-layout files written to a temporary folder, then (our predictor loading them,
    the straightforward official loop on the same states)."""
    from histalk_bench.models.codetalker.api import CodeTalkerPredictor
    from histalk_bench.models.codetalker.checkpoint import load_official

    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"codetalker_bench_{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    s1 = official_stage1_state(n_vertices, biwi, depth=vq_depth, seed=0)
    frame_width = 8 * s1["quantize.embedding.weight"].shape[1] if biwi else 1024
    s2 = official_stage2_state(n_vertices, biwi, frame_width, layers=layers, encoder_config=w2v, seed=1)
    torch.save({"state_dict": s1}, folder / "stage1.pth.tar")
    torch.save({"state_dict": s2}, folder / "stage2.pth.tar")
    predictor = CodeTalkerPredictor(load_official(folder / "stage2.pth.tar", folder / "stage1.pth.tar"), device)
    official = OfficialCodeTalker(s2, s1, biwi, w2v).to(device)
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()

    return predictor, official


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=("vocaset", "biwi"), default="vocaset")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--conditions", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--vq-depth", type=int, default=6)
    parser.add_argument("--layers", type=int, default=None, help="stage-2 layers (default 6 VOCASET, 12 BIWI)")
    parser.add_argument("--vertices", type=int, default=None, help="default 5023 VOCASET, 23370 BIWI")
    parser.add_argument("--w2v-layers", type=int, default=12)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    biwi = args.dataset == "biwi"
    n_vertices = args.vertices or (23370 if biwi else 5023)
    layers = args.layers or (12 if biwi else 6)
    conditions = min(args.conditions, 6 if biwi else 8)
    w2v = {"num_hidden_layers": args.w2v_layers}

    predictor, official = build_models(n_vertices, biwi, args.vq_depth, layers, w2v, torch.device(args.device))
    device = torch.device(args.device)

    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(int(16000 * args.seconds))).astype(np.float32)
    template = rng.standard_normal((n_vertices, 3)).astype(np.float32) * 0.1

    def official_one():
        with torch.no_grad():
            return official.predict(official.audio_hidden(audio), template, 0)

    def ours_all():
        return template[None] + predictor.motion(audio, None, list(range(conditions)))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"CodeTalker {args.dataset}: V={n_vertices}, VQ 1024 x {args.vq_depth} blocks, stage 2 1024 x {layers} layers, "
          f"wav2vec2-base x {args.w2v_layers}, {args.seconds:g} s audio, {conditions} conditions, device {device}, "
          f"threads {torch.get_num_threads()}, load average {load:.2f}")
    t_official, expected = best_of(official_one, args.repeats)
    t_ours, got = best_of(ours_all, args.repeats)
    frames = expected.shape[0]
    difference = float(np.abs(got[0] - expected).max())
    print(f"frames per condition: {frames} (ours {got.shape[1]}); max |ours - official| (condition 0): {difference:.2e}")
    print(f"official loop:  {t_official:8.2f} s per condition -> {conditions} conditions {conditions * t_official:8.2f} s, "
          f"{frames / t_official:7.2f} frames/s")
    print(f"histalk-bench:  {t_ours:8.2f} s for all {conditions} conditions                      "
          f"{frames * conditions / t_ours:7.2f} frames/s  (x{conditions * t_official / t_ours:.1f})")


if __name__ == "__main__":
    main()
