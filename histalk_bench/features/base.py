"""The feature-extractor contract (see docs/architecture.md for a worked example).

An extractor has a ``name`` (the registry name), a ``rate`` in Hz, ``config() -> dict`` (the
settings that identify its output: a cached feature is recomputed when this changes) and
``extract(audio_16k (N,) float32) -> (T_f, D)`` float32 (or ``(T_f, L, D)`` for several layers).
Subclass :class:`FeatureExtractorBase`: it supplies ``cache_name`` (the name under
``features/``, default ``name``), ``config()`` (name and rate) and ``extract_batch()`` (a loop
over ``extract``), which backends that batch on a GPU override.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from ..common.errors import UserError


@runtime_checkable
class FeatureExtractor(Protocol):
    name: str
    rate: float
    cache_name: str

    def config(self) -> dict: ...

    def extract(self, audio_16k: np.ndarray) -> np.ndarray: ...

    def extract_batch(self, audios: Sequence[np.ndarray]) -> list[np.ndarray]: ...


class FeatureExtractorBase:
    """Defaults for the optional parts of the contract; a subclass sets ``name`` and ``rate`` and
    implements ``extract``.  It is built with keyword options (model, device, layer, batch_size,
    ...) and keeps the ones it uses."""

    name: str = ""
    rate: float = 0.0

    def __init__(self, **options):
        self.options = options

    @property
    def cache_name(self) -> str:
        """The name under ``features/`` in the cache: ``name`` unless set (e.g. ``wav2vec2_l9``)."""
        return getattr(self, "_cache_name", None) or self.name

    @cache_name.setter
    def cache_name(self, value: str) -> None:
        self._cache_name = value

    def config(self) -> dict:
        return {"name": self.name, "rate": float(self.rate)}

    def extract(self, audio_16k: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement extract(audio_16k) -> (T_f, D)")

    def extract_batch(self, audios: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [self.extract(audio) for audio in audios]


def check_outputs(extractor, audios: Sequence[np.ndarray], outputs) -> list[np.ndarray]:
    """``outputs`` as float32 arrays, or a TypeError (a bug in the extractor) when the contract is broken."""
    outputs = list(outputs)
    name = getattr(extractor, "cache_name", type(extractor).__name__)
    if len(outputs) != len(audios):
        raise TypeError(f"feature extractor '{name}' returned {len(outputs)} arrays for {len(audios)} inputs")
    checked = []
    for array in outputs:
        if not isinstance(array, np.ndarray) or array.ndim not in (2, 3) or array.shape[0] == 0:
            shape = getattr(array, "shape", type(array).__name__)
            raise TypeError(f"feature extractor '{name}' returned {shape}, expected a (T_f, D) or (T_f, L, D) array")
        checked.append(np.ascontiguousarray(array, dtype=np.float32))
    return checked


def check_instance(extractor, name: str):
    """After construction: a non-empty ``cache_name`` and a positive ``rate`` (Hz), else a one-line UserError."""
    rate = getattr(extractor, "rate", None)
    if not getattr(extractor, "cache_name", "") or not isinstance(rate, (int, float)) or rate <= 0:
        raise UserError(f"feature extractor '{name}' ({type(extractor).__name__}) needs a cache_name and a rate in Hz "
                        f"(got cache_name={getattr(extractor, 'cache_name', None)!r}, rate={rate!r})")
    return extractor


def check_extractor(target, name: str):
    """The registry's contract check for an extractor class: ``extract``, ``config`` and ``extract_batch``
    (and a ``name`` for FeatureExtractorBase subclasses).  Returns ``target`` or a one-line UserError."""
    cls = target if isinstance(target, type) else type(target)
    missing = [attr + "()" for attr in ("extract", "config", "extract_batch") if not callable(getattr(cls, attr, None))]
    if issubclass(cls, FeatureExtractorBase) and cls.extract is FeatureExtractorBase.extract:
        missing.append("extract()")
    if issubclass(cls, FeatureExtractorBase) and not cls.name:
        missing.append("a 'name' class attribute")
    if missing:
        raise UserError(f"feature extractor '{name}' ({cls.__name__}) does not implement {', '.join(missing)} "
                        "(subclass histalk_bench.features.base.FeatureExtractorBase; see docs/architecture.md)")
    return target
