"""Throughput and peak memory of `prepare vocaset` on a large raw-layout corpus.

Builds a VOCASET raw release in a temporary folder (default 2.1 GB of vertices: 130 sequences
x 270 frames x 5023 vertices at 60 fps), runs `histalk-bench prepare vocaset --aligner none
--features none` in a child process, and prints MB/s of vertex data and the child's peak RSS,
beside the raw throughput of reading the same bytes and writing what prepare writes.

Usage: python benchmarks/prepare_vocaset.py [--sequences 130] [--frames 270] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from histalk_bench.datasets.splits import VOCASET_TEST, VOCASET_TRAIN, VOCASET_VAL

N_VERTICES = 5023


def build_release(root: Path, n_sequences: int, frames: int) -> int:
    subjects = VOCASET_TRAIN + VOCASET_VAL + VOCASET_TEST
    keys = [(subjects[i % len(subjects)], f"sentence{i // len(subjects) + 1:02d}") for i in range(n_sequences)]
    data = np.lib.format.open_memmap(root / "data_verts.npy", mode="w+", dtype=np.float32,
                                     shape=(n_sequences * frames, N_VERTICES, 3))
    rng = np.random.default_rng(0)
    templates = {s: rng.normal(scale=0.05, size=(N_VERTICES, 3)).astype(np.float32) for s in subjects}
    index, audio = {}, {}
    for i, (subject, sentence) in enumerate(keys):
        block = templates[subject][None] + rng.normal(scale=1e-3, size=(frames, N_VERTICES, 3)).astype(np.float32)
        data[i * frames : (i + 1) * frames] = block
        index.setdefault(subject, {})[sentence] = {f: i * frames + f for f in range(frames)}
        samples = int(frames / 60 * 22050)
        audio.setdefault(subject, {})[sentence] = {"audio": (rng.normal(size=samples) * 3000).astype(np.int16), "sample_rate": 22050}
    data.flush()
    del data
    for name, value in (("subj_seq_to_idx.pkl", index), ("raw_audio_fixed.pkl", audio), ("templates.pkl", templates)):
        with open(root / name, "wb") as handle:
            pickle.dump(value, handle, protocol=2)
    return n_sequences * frames * N_VERTICES * 3 * 4


_CHILD = """
import re, sys
from histalk_bench.cli.main import main
try:
    main(["prepare", "vocaset", "--root", sys.argv[1], "--out", sys.argv[2], "--aligner", "none", "--features", "none",
          "--jobs", sys.argv[3], "--quiet"])
except SystemExit as exit_:
    if exit_.code:
        raise
print("VmHWM_KB=" + re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
"""


def raw_io(source: Path, target: Path, chunk: int = 64 << 20) -> float:
    """Seconds to read ``source`` and write half of it (prepare keeps every second frame)."""
    start = time.perf_counter()
    written = 0
    size = source.stat().st_size
    with open(source, "rb") as reader, open(target, "wb") as writer:
        while block := reader.read(chunk):
            if written < size // 2:
                writer.write(block[: max(0, min(len(block), size // 2 - written))])
                written += len(block)
        writer.flush()
        os.fsync(writer.fileno())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sequences", type=int, default=130)
    parser.add_argument("--frames", type=int, default=270, help="frames per sequence at 60 fps")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", default=None, help="keep the corpus and cache in this folder")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="histalk-bench-prepare-"))
    work.mkdir(parents=True, exist_ok=True)
    root = work / "release"
    root.mkdir(exist_ok=True)
    try:
        start = time.perf_counter()
        n_bytes = build_release(root, args.sequences, args.frames)
        print(f"built a raw release: {n_bytes / 1e9:.2f} GB of vertices in {time.perf_counter() - start:.0f} s")
        raw_s = raw_io(root / "data_verts.npy", work / "raw_copy.bin")
        (work / "raw_copy.bin").unlink()
        cache = work / "cache.h5"
        start = time.perf_counter()
        # The child reports its own VmHWM: ru_maxrss of children would include this process's
        # RSS inherited at fork (the corpus was just written through a memory map).
        child = subprocess.run([sys.executable, "-c", _CHILD, str(root), str(cache), str(args.jobs)], check=True,
                               capture_output=True, text=True)
        prepare_s = time.perf_counter() - start
        peak_mb = int(child.stdout.split("VmHWM_KB=")[1].split()[0]) / 1024
        print(f"raw read + write of the same bytes: {raw_s:.1f} s = {n_bytes / raw_s / 1e6:.0f} MB/s")
        print(f"prepare vocaset: {prepare_s:.1f} s = {n_bytes / prepare_s / 1e6:.0f} MB/s of vertex data "
              f"({prepare_s / raw_s:.2f}x raw I/O time)")
        print(f"peak RSS of prepare: {peak_mb:.0f} MB (vertex data {n_bytes / 1e6:.0f} MB); cache {cache.stat().st_size / 1e9:.2f} GB")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
