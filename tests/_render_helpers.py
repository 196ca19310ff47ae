"""Tiny generated cache + predictions for render/doctor tests (an animated ellipsoid 'head')."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from histalk_bench.cache import CacheWriter, SequenceData
from histalk_bench.predict.store import PredictionWriter

SUBJECT, SENTENCE = "S01", "sentence01"


def animated_head(n_frames: int = 30, subdivisions: int = 3, fps: float = 30.0):
    """(template (V,3), faces (F,3), vertices (T,V,3)): an ellipsoid whose lower half opens and
    closes like a jaw at 2 Hz (metres-like scale, y up, facing +z)."""
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=subdivisions)
    template = (sphere.vertices * np.array([0.08, 0.11, 0.09])).astype(np.float32)
    faces = sphere.faces.astype(np.int32)
    t = np.arange(n_frames) / fps
    opening = 0.5 * (1 - np.cos(2 * np.pi * 2.0 * t))  # 0..1
    lower = np.clip(-template[:, 1] / 0.11, 0, 1) * (template[:, 2] > 0)
    displacement = np.zeros_like(template)
    displacement[:, 1] = -0.02 * lower
    vertices = template[None] + opening[:, None, None] * displacement[None]
    return template, faces, vertices.astype(np.float32)


def write_cache(path: Path, n_frames: int = 30, with_faces: bool = True, fps: float = 30.0) -> Path:
    template, faces, vertices = animated_head(n_frames, fps=fps)
    audio = (0.2 * np.sin(2 * np.pi * 220 * np.arange(int(n_frames / fps * 16000)) / 16000)).astype(np.float32)
    writer = CacheWriter(path, dataset="vocaset", fps=fps, n_vertices=len(template), force=True)
    writer.set_templates({SUBJECT: template})
    if with_faces:
        writer.set_faces(faces)
    writer.write_sequence(SequenceData(SUBJECT, SENTENCE, vertices, audio, split="test", transcript="a test"))
    writer.finalize()
    return path


def write_predictions(path: Path, cache_vertices: np.ndarray, *, model: str, lag: int = 0,
                      noise: float = 0.0, conditions: list[str] | None = None) -> Path:
    """Ground truth delayed by ``lag`` frames plus Gaussian noise (seeded), one file."""
    rng = np.random.default_rng(0)
    pred = np.concatenate([np.repeat(cache_vertices[:1], lag, axis=0), cache_vertices[: len(cache_vertices) - lag]])
    pred = pred + noise * rng.standard_normal(pred.shape).astype(np.float32)
    with PredictionWriter(path, model=model, dataset="vocaset", fps=30.0, n_vertices=pred.shape[1]) as writer:
        for condition in conditions or [None]:
            writer.write(SUBJECT, SENTENCE, pred, condition=condition)
    return path
