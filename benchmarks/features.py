"""Feature extraction speed: real-time factor (compute seconds / audio seconds) on this machine.

wav2vec2 uses a random-weight model of the default base size (transformers' default
``Wav2Vec2Config``: 768 hidden, 12 layers, group-norm CNN, ~95 M parameters) saved to a temporary
folder and loaded through the extractor's normal path, so no download is needed; speed does not
depend on the weights.  Usage::

    python benchmarks/features.py [--seconds 4] [--utterances 4] [--threads 2] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def _audio(n: int, seconds: float) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [(0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32) for _ in range(n)]


def _rtf(extractor, audios: list[np.ndarray], repeats: int) -> float:
    extractor.extract_batch(audios[:1])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        extractor.extract_batch(audios)
        if getattr(extractor, "device", "cpu").startswith("cuda"):
            import torch

            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best / (sum(a.size for a in audios) / 16000.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each utterance")
    parser.add_argument("--utterances", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2Model
    from transformers.utils import logging as hf_logging

    from histalk_bench.features.factory import make_extractors

    torch.set_num_threads(args.threads)
    hf_logging.disable_progress_bar()
    audios = _audio(args.utterances, args.seconds)
    total = args.utterances * args.seconds
    (mel,) = make_extractors("mel")
    print(f"mel (80 bins, 100 Hz): RTF {_rtf(mel, audios, args.repeats):.5f} on {total:.0f} s of audio")
    with tempfile.TemporaryDirectory() as folder:
        torch.manual_seed(0)
        Wav2Vec2Model(Wav2Vec2Config()).save_pretrained(folder)
        (w2v,) = make_extractors("wav2vec2", model=folder, device=args.device)
        n_params = sum(p.numel() for p in w2v.network.parameters()) / 1e6
        rtf = _rtf(w2v, audios, args.repeats)
        print(f"wav2vec2-base size ({n_params:.1f} M parameters, all 13 hidden states, device {w2v.device}, "
              f"{args.threads} CPU threads): RTF {rtf:.3f} on {total:.0f} s of audio "
              f"({args.utterances} x {args.seconds:g} s)")


if __name__ == "__main__":
    main()
