"""The model contract: a :class:`ModelEntry` per registered model, and the predictor protocols.

A predictor maps one cached sequence to predicted vertices::

    predictor.predict(cache, ref) -> {condition: (T, V, 3) float32}

where ``condition`` is ``None`` for an unconditioned prediction, or the name of the training
speaker whose style was used (the per-condition protocol for unseen speakers).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from ..cache import Cache, SequenceRef
from ..common.errors import UserError


class Predictor(Protocol):
    name: str

    def predict(self, cache: Cache, ref: SequenceRef) -> dict[str | None, np.ndarray]: ...


class AudioPredictor(Protocol):
    """Predicts from new 16 kHz audio: ``predict_audio(audio (N,), template (V, 3), condition) -> (T, V, 3)``."""

    name: str

    def predict_audio(self, audio_16k: np.ndarray, template: np.ndarray, condition: str | None = None) -> np.ndarray: ...


class ModelEntry:
    """What the registry knows of a model.  Subclass it, set ``name`` and ``description`` and
    implement :meth:`load_predictor`; override :meth:`train` for a trainable model and
    :meth:`load_audio_predictor` for a model that animates new audio."""

    name: str = ""
    description: str = ""

    def load_predictor(self, cache: Cache, run_dir: str | os.PathLike | None = None,
                       checkpoint: str | os.PathLike | None = None, device: str = "auto", **options) -> Predictor:
        raise NotImplementedError

    def train(self, cache_path: str | os.PathLike, out_dir: str | os.PathLike, **options) -> Path:
        raise UserError(f"model '{self.name}' is not trainable (it predicts from the cache alone)")

    def load_audio_predictor(self, run_dir: str | os.PathLike | None = None, checkpoint: str | os.PathLike | None = None,
                             device: str = "auto", **options) -> AudioPredictor:
        raise UserError(f"model '{self.name}' cannot predict from new audio (it needs a cache)")

    def weights_path(self, run_dir: str | os.PathLike | None = None,
                     checkpoint: str | os.PathLike | None = None) -> Path | None:
        """The file whose weights :meth:`load_predictor` uses (its sha256 goes into the predictions'
        provenance): ``checkpoint``, else ``RUN/best.pt``; None without either."""
        if checkpoint:
            return Path(checkpoint)
        return Path(run_dir) / "best.pt" if run_dir else None

    def refuse_options(self, run_dir=None, checkpoint=None, **options) -> None:
        """For models without weights or prediction options: a given one is an error, never ignored."""
        if run_dir or checkpoint:
            raise UserError(f"model '{self.name}' has no weights: drop --run/--checkpoint")
        if options:
            raise UserError(f"model '{self.name}' takes no prediction option(s): {', '.join(sorted(options))}")

    @property
    def trainable(self) -> bool:
        return type(self).train is not ModelEntry.train

    @property
    def predicts_audio(self) -> bool:
        return type(self).load_audio_predictor is not ModelEntry.load_audio_predictor


def condition_index(speakers: tuple[str, ...], condition: str | None) -> int:
    """Index of speaker ``condition`` in the training speakers (the first when None; -1 when the
    model has no speaker conditions); an unknown name is a UserError listing the choices."""
    if condition is not None and condition not in speakers:
        raise UserError(f"unknown condition '{condition}' (training speakers: {', '.join(speakers) or 'none'})")
    if not speakers:
        return -1
    return speakers.index(condition) if condition else 0


def check_model_entry(target, name: str) -> ModelEntry:
    """The registry's contract check: an instance of a :class:`ModelEntry` subclass that implements
    ``load_predictor`` and has a name and a description (a class is instantiated)."""
    entry = target() if isinstance(target, type) else target
    if not isinstance(entry, ModelEntry):
        raise UserError(f"model '{name}' is registered as {type(entry).__name__}, not a ModelEntry subclass "
                        "(see docs/architecture.md)")
    missing = [attr for attr in ("name", "description") if not getattr(entry, attr, "")]
    if type(entry).load_predictor is ModelEntry.load_predictor:
        missing.append("load_predictor()")
    if missing:
        raise UserError(f"model '{name}' ({type(entry).__name__}) does not implement {', '.join(missing)}")
    return entry


def model_entry(name: str) -> ModelEntry:
    """The registered entry of model ``name`` (did-you-mean error when unknown)."""
    from . import MODELS

    return MODELS.get(name)
