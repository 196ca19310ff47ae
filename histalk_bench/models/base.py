"""The model contract and the one prediction loop every model shares.

A predictor maps one cached sequence to predicted vertices::

    predictor.predict(cache, ref) -> {condition: (T, V, 3) float32}

where ``condition`` is ``None`` for an unconditioned prediction, or the name of the training
speaker whose style was used (the per-condition protocol for unseen speakers).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Protocol

import numpy as np

from ..cache import Cache, SequenceRef
from ..predictions import PredictionWriter


class Predictor(Protocol):
    name: str

    def predict(self, cache: Cache, ref: SequenceRef) -> dict[str | None, np.ndarray]: ...


def load_model_module(name: str):
    """The registry module of model ``name`` (did-you-mean error when unknown)."""
    from . import MODELS

    return MODELS.get(name)


def predict_split(predictor: Predictor, cache: Cache, refs: Iterable[SequenceRef],
                  out: str | os.PathLike, meta: dict | None = None, progress: bool = True) -> Path:
    """Run ``predictor`` over ``refs`` and write a predictions HDF5 atomically."""
    from ..progress import progress_bar

    refs = list(refs)
    writer = PredictionWriter(out, model=predictor.name, dataset=cache.dataset, fps=cache.fps,
                              n_vertices=cache.n_vertices, meta=meta)
    with writer:
        for ref in progress_bar(refs, desc=f"predict {predictor.name}", enabled=progress):
            for condition, vertices in predictor.predict(cache, ref).items():
                writer.write(ref.subject, ref.sentence, vertices, condition=condition)
    return Path(out)
