"""``mean``: template + the mean displacement of all training frames (streamed from the cache)."""

from __future__ import annotations

import numpy as np

from ...common.errors import UserError
from ..base import ModelEntry



def mean_training_displacement(cache) -> np.ndarray:
    """(V, 3) float32: mean over all frames of all train-split sequences of (vertices - template)."""
    total = np.zeros((cache.n_vertices, 3), np.float64)
    count = 0
    for ref in cache.sequences("train"):
        vertices = cache.vertices(ref.subject, ref.sentence)
        total += (vertices - cache.template(ref.subject)[None]).sum(axis=0)
        count += vertices.shape[0]
    if count == 0:
        raise UserError("the 'mean' baseline needs training sequences (split 'train')", cache.path)
    return (total / count).astype(np.float32)


class MeanPredictor:
    name = "mean"

    def __init__(self, displacement: np.ndarray):
        self.displacement = displacement

    def predict(self, cache, ref) -> dict:
        mesh = cache.template(ref.subject) + self.displacement
        return {None: np.repeat(mesh[None], ref.n_frames, axis=0)}


class MeanEntry(ModelEntry):
    name = "mean"
    description = "template + mean training displacement"
    has_weights = False

    def load_predictor(self, cache, run_dir=None, checkpoint=None, device="auto", **options) -> MeanPredictor:
        return MeanPredictor(mean_training_displacement(cache))
