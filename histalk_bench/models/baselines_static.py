"""``static``: the subject's template at every frame (no motion): the floor every model must beat."""

from __future__ import annotations

import numpy as np

DESCRIPTION = "template, no motion"


class StaticPredictor:
    name = "static"

    def predict(self, cache, ref) -> dict:
        template = cache.template(ref.subject)
        return {None: np.repeat(template[None], ref.n_frames, axis=0)}


def load_predictor(cache, run_dir=None, checkpoint=None, **options) -> StaticPredictor:
    return StaticPredictor()
