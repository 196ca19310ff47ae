"""Training time alone and beside one busy CPU-bound torch process, for two code trees.

Oversubscription: torch starts one OpenMP thread per core, and idle OpenMP threads spin; two
such processes on the same cores slow each other down far more than 2x.  ``histalk-bench``
now picks the thread count from the CPUs the process may use (``--threads``/``OMP_NUM_THREADS``
first) and sets ``OMP_WAIT_POLICY=PASSIVE``.  This script times ``train histalk`` (a small
synthetic cache, a few epochs) with the code at ``--before`` and at ``--after`` (PYTHONPATH
roots), alone and with a busy neighbour (a torch matmul loop using every core), in turn.

Usage: python benchmarks/threads_contention.py --before /path/to/old/checkout --after . [--epochs 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUSY = ("import torch\n"
        "a = torch.randn(512, 512)\n"
        "while True:\n"
        "    a = torch.tanh(a @ a)\n")


def make_cache(folder: Path) -> Path:
    from histalk_bench.datasets.vocaset import prepare_vocaset
    from histalk_bench.synth import write_synthetic_corpus

    corpus = write_synthetic_corpus(folder / "corpus", "vocaset", n_subjects=4, n_sentences=6, seed=0)
    prepare_vocaset(corpus, folder / "cache.h5", aligner="oracle", features="mel", progress=False)
    return folder / "cache.h5"


def train_seconds(root: str, cache: Path, out: Path, epochs: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")}
    env["PYTHONPATH"] = str(Path(root).resolve())
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "train", "histalk", "--data", str(cache),
                    "--out", str(out), "--epochs", str(epochs), "--quiet", "--features", "mel", "--set", "d_model=32"],
                   check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", default=".")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = make_cache(Path(tmp))
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        for label, root in (("before", args.before), ("after", args.after)):
            alone = train_seconds(root, cache, Path(tmp) / f"{label}_alone", args.epochs)
            load_alone = os.getloadavg()[0]
            busy = subprocess.Popen([sys.executable, "-c", BUSY], env=env)
            try:
                time.sleep(2.0)
                beside = train_seconds(root, cache, Path(tmp) / f"{label}_busy", args.epochs)
            finally:
                busy.kill()
                busy.wait()
            print(f"{label:6s}: alone {alone:6.1f} s (load {load_alone:.2f}), beside a busy torch process "
                  f"{beside:6.1f} s (load {os.getloadavg()[0]:.2f}): x{beside / alone:.2f}", flush=True)


if __name__ == "__main__":
    main()
