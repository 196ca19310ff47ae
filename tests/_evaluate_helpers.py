"""A small VOCASET-like cache built directly with CacheWriter (no other engineer's module).

Subjects carry underscores like the real ones; a mouth opens and closes (lip vertices move),
the brow moves a little (upper-face dynamics), so baselines and metrics have something to score.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from histalk_bench.cache import AUDIO_RATE, CacheWriter, SequenceData

N_VERTICES = 300
TRAIN = ("FaceTalk_170728_03272_TA", "FaceTalk_170904_00128_TA")
TEST = ("FaceTalk_170809_00138_TA", "FaceTalk_170731_00024_TA")


def face_template(rng: np.random.Generator) -> np.ndarray:
    """(V, 3) points on a face-sized patch (metres): x across, y up, z out."""
    xy = rng.uniform(-0.08, 0.08, size=(N_VERTICES, 2))
    z = 0.02 * np.cos(xy[:, 0] * 10)
    return np.column_stack([xy, z]).astype(np.float32)


def regions(template: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """lip: vertices of a mouth box around y = -0.04; upper face: y > 0.03."""
    x, y = template[:, 0], template[:, 1]
    lip = np.flatnonzero((np.abs(x) < 0.03) & (np.abs(y + 0.04) < 0.015))
    upper = np.flatnonzero(y > 0.03)
    return lip, upper


def animate(template: np.ndarray, n_frames: int, phase: float, rng: np.random.Generator) -> np.ndarray:
    """(T, V, 3): the lower lip moves down and up, the brow moves slightly, plus noise."""
    t = np.arange(n_frames) / 30.0
    opening = 0.004 * (1 + np.sin(2 * np.pi * 3 * t + phase))
    brow = 0.001 * np.sin(2 * np.pi * 0.7 * t + phase)
    vertices = np.repeat(template[None], n_frames, axis=0).astype(np.float64)
    lower = template[:, 1] < -0.04
    vertices[:, lower, 1] -= opening[:, None]
    vertices[:, template[:, 1] > 0.03, 1] += brow[:, None]
    vertices += 1e-4 * rng.normal(size=vertices.shape)
    return vertices.astype(np.float32)


def build_cache(path: Path, *, with_regions: bool = True, lip_ids=None, seed: int = 0,
                n_sentences: int = 3) -> Path:
    """Train subjects on sentence01..N, test subjects on sentence0(N+1).. (one shared template shape)."""
    rng = np.random.default_rng(seed)
    base = face_template(rng)
    templates = {s: base + rng.normal(scale=0.002, size=base.shape).astype(np.float32) for s in TRAIN + TEST}
    writer = CacheWriter(path, dataset="vocaset", fps=30.0, n_vertices=N_VERTICES, force=True)
    writer.set_templates(templates)
    if with_regions:
        lip, upper = regions(base)
        writer.set_region("lip", lip if lip_ids is None else np.asarray(lip_ids), source="test-lip.txt", sha256="a" * 64)
        writer.set_region("upper_face", upper, source="test-upper.txt", sha256="b" * 64)
    for split, subjects, offset in (("train", TRAIN, 0), ("test", TEST, n_sentences)):
        for subject in subjects:
            for k in range(n_sentences):
                n_frames = int(rng.integers(25, 40))
                writer.write_sequence(SequenceData(
                    subject=subject, sentence=f"sentence{offset + k + 1:02d}", split=split,
                    vertices=animate(templates[subject], n_frames, phase=float(rng.uniform(0, 6)), rng=rng),
                    audio=np.zeros(int(n_frames / 30 * AUDIO_RATE), np.float32)))
    writer.finalize()
    return path
