"""Build feature extractors from a ``--features`` spec such as ``wav2vec2,mel`` or ``none``."""

from __future__ import annotations

from . import FEATURES


def make_extractors(spec: str | None, **options) -> list:
    """One extractor per comma-separated name; ``none``/empty gives none. Options go to every
    extractor (each ignores the ones it does not use)."""
    if not spec or spec == "none":
        return []
    names = [name.strip() for name in spec.split(",") if name.strip()]
    return [FEATURES.get(name)(**options) for name in names]
