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
    checkpoint_parts: tuple[str, ...] = ("checkpoint",)
    """The prediction options that name weight files, in the order ``compare --checkpoint
    NAME=P1,P2`` gives them; the first is always ``checkpoint`` (CodeTalker adds ``vq_checkpoint``)."""
    stochastic: bool = False
    """True for a sampling model: ``load_predictor``/``load_audio_predictor`` receive ``seed=int``."""
    default_seed: int = 0
    """The seed a stochastic model predicts with when none is given (recorded in the provenance)."""

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

    def weights_files(self, run_dir: str | os.PathLike | None = None, checkpoint: str | os.PathLike | None = None,
                      **options) -> list[Path]:
        """Every file whose weights the predictor loads: :meth:`weights_path` plus the files named by
        the options in ``checkpoint_parts[1:]`` (their sha256 go into the predictions' provenance)."""
        main = self.weights_path(run_dir, checkpoint)
        return ([main] if main else []) + [Path(options[part]) for part in self.checkpoint_parts[1:] if options.get(part)]

    def checkpoint_options(self, paths: list[str]) -> dict:
        """``compare --checkpoint NAME=P1[,P2...]``: the paths as this model's weight-file options,
        in ``checkpoint_parts`` order (more paths than parts is a UserError)."""
        if not paths or len(paths) > len(self.checkpoint_parts):
            parts = ",".join(p.upper() for p in self.checkpoint_parts)
            raise UserError(f"--checkpoint {self.name}=... takes {len(self.checkpoint_parts)} file(s) for model "
                            f"'{self.name}' ({self.name}={parts}), got {len(paths)}")
        return dict(zip(self.checkpoint_parts, paths))

    def prediction_options(self, options: dict) -> dict:
        """``options`` checked against what this model reads generically: ``seed`` only for a
        stochastic model (its ``default_seed`` filled in, so the provenance records the seed used),
        weight-file options only among ``checkpoint_parts``; anything else is left to the model."""
        options = {key: value for key, value in options.items() if value is not None}
        if "seed" in options and not self.stochastic:
            raise UserError(f"model '{self.name}' is deterministic: --seed would not change its predictions; drop it")
        if self.stochastic:
            options.setdefault("seed", self.default_seed)
        for key in options:
            if key.endswith("checkpoint") and key not in self.checkpoint_parts:
                raise UserError(f"model '{self.name}' loads no {key.replace('_', '-')} file: drop "
                                f"--{key.replace('_', '-')}")
        return options

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
