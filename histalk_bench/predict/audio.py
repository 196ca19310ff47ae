"""Predict vertices for a new audio file with a trained model."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..common.audio import read_audio_16k
from ..common.errors import UserError


def load_template(spec: str | None, data: str | None) -> tuple[np.ndarray, str]:
    """A neutral mesh (V, 3) from a cache subject, a .npy array or a mesh file; and its name."""
    if not spec:
        raise UserError("--template is required with --audio (a subject of --data, or a .npy/.ply mesh)")
    path = Path(spec)
    if path.suffix == ".npy" and path.exists():
        return np.load(path).reshape(-1, 3).astype(np.float32), path.stem
    if path.suffix in (".ply", ".obj") and path.exists():
        import trimesh

        return np.asarray(trimesh.load(str(path), process=False, force="mesh").vertices, dtype=np.float32), path.stem
    if data:
        from ..cache import Cache

        with Cache(data) as cache:
            return cache.template(spec), spec
    raise UserError("template not found (give a subject together with --data, or a .npy/.ply file)", spec)


def predict_audio(model_name: str, audio: str | os.PathLike, template_spec: str | None, out: str | os.PathLike, *,
                  data: str | None = None, run_dir=None, checkpoint=None, condition: str | None = None,
                  device: str = "auto", wav2vec2_model: str | None = None) -> Path:
    """Write (T, V*3) .npy or a predictions .h5 for ``audio`` with the model's predictor."""
    from ..models.base import model_entry

    template, name = load_template(template_spec, data)
    entry = model_entry(model_name)
    if not entry.predicts_audio:
        raise UserError(f"model '{model_name}' cannot predict from new audio (it needs a cache)")
    extra = {"wav2vec2_model": wav2vec2_model} if wav2vec2_model else {}
    predictor = entry.load_audio_predictor(run_dir=run_dir, checkpoint=checkpoint, device=device, **extra)
    model = predictor.model
    expected = getattr(model.config, "n_vertices", None)
    if expected is not None and template.shape[0] != expected:
        raise UserError(f"template has {template.shape[0]} vertices, the model was trained on {expected}", template_spec)
    vertices = predictor.predict_audio(read_audio_16k(audio), template, condition)
    out = Path(out)
    if out.suffix == ".npy":
        np.save(out, vertices.reshape(vertices.shape[0], -1))
        return out
    from .store import PredictionWriter

    with PredictionWriter(out, model=predictor.name, dataset="audio", fps=getattr(model.config, "fps", 30.0),
                          n_vertices=vertices.shape[1], meta={"audio": str(audio), "condition": condition}) as writer:
        writer.write(name, Path(audio).stem, vertices, condition=condition)
    return out
