"""Render speed: seconds of compute per second of video, per backend, for the same video.

A generated cache (the FLAME sample mesh from ../shared/reference, or $HISTALK_REFERENCE, when present, else a
5,000-vertex sphere) with a jaw that opens and closes, and ``--panels`` - 1 predictions
(noisy copies), rendered at ``--size`` px per panel through ``render_sequence``.

CPU seconds (this process, worker processes and ffmpeg together) are less disturbed by other
load than wall-clock seconds; both are printed.  Run it with PYTHONPATH pointing at an older
checkout for a before/after comparison (that code has no ``workers``).

Usage: python benchmarks/render_speed.py [--frames 60] [--panels 4] [--size 512]
       [--backends matplotlib numpy] [--workers 1 2] [--error-colors]
"""

from __future__ import annotations

import argparse
import inspect
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from histalk_bench.cache import CacheWriter, SequenceData
from histalk_bench.predict.store import PredictionWriter
from histalk_bench.rendering.render import render_sequence

REFERENCE = Path(os.environ.get("HISTALK_REFERENCE", Path(__file__).resolve().parents[2] / "shared" / "reference"))
FLAME = REFERENCE / "vocaset" / "FLAME_sample.ply"


def mesh() -> tuple[np.ndarray, np.ndarray, str]:
    import trimesh

    if FLAME.exists():
        loaded = trimesh.load(str(FLAME), process=False, force="mesh")
        return np.asarray(loaded.vertices, np.float32), np.asarray(loaded.faces, np.int32), "FLAME sample"
    sphere = trimesh.creation.uv_sphere(radius=0.1, count=[50, 100])
    return np.asarray(sphere.vertices, np.float32), np.asarray(sphere.faces, np.int32), "uv sphere"


def write_inputs(folder: Path, n_frames: int, n_preds: int) -> tuple[Path, list[Path], str]:
    template, faces, name = mesh()
    t = np.arange(n_frames) / 30.0
    low = template[:, 1] < np.percentile(template[:, 1], 35)
    motion = np.zeros((n_frames, *template.shape), np.float32)
    motion[:, low, 1] = -0.01 * (0.5 - 0.5 * np.cos(2 * np.pi * 2 * t))[:, None]
    vertices = template[None] + motion
    cache = folder / "cache.h5"
    writer = CacheWriter(cache, dataset="vocaset", fps=30.0, n_vertices=len(template), force=True)
    writer.set_templates({"S": template})
    writer.set_faces(faces)
    audio = (0.1 * np.sin(2 * np.pi * 200 * np.arange(int(n_frames / 30 * 16000)) / 16000)).astype(np.float32)
    writer.write_sequence(SequenceData("S", "s1", vertices, audio, split="test"))
    writer.finalize()
    preds = []
    for index in range(n_preds):
        noisy = vertices + np.random.default_rng(index).normal(0, 3e-4, vertices.shape).astype(np.float32)
        path = folder / f"pred{index}.h5"
        with PredictionWriter(path, model=f"model{index}", dataset="vocaset", fps=30.0, n_vertices=len(template)) as w:
            w.write("S", "s1", noisy)
        preds.append(path)
    return cache, preds, name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--panels", type=int, default=4)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--backends", nargs="+", default=["matplotlib", "numpy"])
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--error-colors", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache, preds, name = write_inputs(Path(tmp), args.frames, args.panels - 1)
        print(f"{name}, {args.panels} panels of {args.size} px, {args.frames} frames at 30 fps")
        video_s = args.frames / 30.0
        has_workers = "workers" in inspect.signature(render_sequence).parameters  # False on the old code
        for backend in args.backends:
            for workers in args.workers if has_workers else [1]:
                extra = {"workers": workers} if has_workers else {}
                cpu = _cpu_seconds()
                start = time.perf_counter()
                render_sequence(cache, preds, "S/s1", Path(tmp) / f"{backend}{workers}.mp4", size=args.size,
                                backend=backend, progress=False, error_colors=args.error_colors, **extra)
                wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
                print(f"  {backend:10s} workers {workers}: {wall / video_s:6.2f} s per video second (wall), "
                      f"{cpu / video_s:6.2f} CPU s per video second (this process, workers, ffmpeg); "
                      f"load {os.getloadavg()[0]:.2f}")


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
