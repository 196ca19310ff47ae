"""``static``: the subject's template at every frame (no motion): the floor every model must beat."""

from __future__ import annotations

import numpy as np

from ..base import ModelEntry


class StaticPredictor:
    name = "static"

    def predict(self, cache, ref) -> dict:
        template = cache.template(ref.subject)
        return {None: np.repeat(template[None], ref.n_frames, axis=0)}


class StaticEntry(ModelEntry):
    name = "static"
    description = "template, no motion"
    has_weights = False

    def load_predictor(self, cache, run_dir=None, checkpoint=None, device="auto", **options) -> StaticPredictor:
        return StaticPredictor()
