"""Build feature extractors from a ``--features`` spec such as ``wav2vec2,mel`` or ``none``."""

from __future__ import annotations

from ..common.errors import UserError
from . import FEATURES
from .base import check_instance


def make_extractors(spec: str | None, model: str | None = None, device: str | None = None,
                    layer: int | None = None, batch_size: int = 8, **options) -> list:
    """One extractor per comma-separated name (``wav2vec2``, ``mel``); ``none``/empty gives none.
    The options go to every extractor; each ignores the ones it does not use."""
    if spec is None or spec.strip() in ("", "none"):
        return []
    names = [name.strip() for name in spec.split(",") if name.strip()]
    if len(set(names)) != len(names):
        raise UserError(f"--features lists a name twice: '{spec}'")
    return [check_instance(FEATURES.get(name)(model=model, device=device, layer=layer, batch_size=batch_size, **options),
                           name) for name in names]
