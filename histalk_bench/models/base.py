"""The model contract: a :class:`ModelEntry` per registered model, and the predictor protocols.

A predictor maps one cached sequence to predicted vertices::

    predictor.predict(cache, ref) -> {condition: (T, V, 3) float32}

where ``condition`` is ``None`` for an unconditioned prediction, or the name of the training
speaker whose style was used (the per-condition protocol for unseen speakers).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

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


@dataclass
class SpeechBackbone:
    """The wav2vec2-style network an audio predictor runs on new audio (a transformers
    ``Wav2Vec2Model``: ``.config``, ``.encoder.layers``, ``.feature_extractor.conv_layers``), as
    :func:`histalk_bench.predict.backbone.configure_backbone` speeds it up for ``--backbone``."""

    network: Any
    install: Callable[[Any], None]  # hands the truncated / quantized network back to the predictor
    last_state: int | None = None  # the hidden state the model reads: later layers are dropped (exact); None: all
    default_mode: str = "fp32"  # what --backbone auto means: int8 only where its effect was measured
    name: str = "wav2vec2 backbone"  # how the notes name it


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

    def prediction_options(self, options: dict, run_dir=None, checkpoint=None, labels: dict | None = None) -> dict:
        """``options`` (None values dropped) for :meth:`load_predictor`/:meth:`load_audio_predictor`,
        after :meth:`refuse_options` ('predict', with ``run_dir`` and ``checkpoint``); a stochastic
        model's ``default_seed`` filled in, so the provenance records the seed used."""
        options = {key: value for key, value in options.items() if value is not None}
        self.refuse_options("predict", {"run_dir": run_dir, "checkpoint": checkpoint, **options},
                            {"run_dir": "--run", **(labels or {})})
        if self.stochastic:
            options.setdefault("seed", self.default_seed)
        return options

    # options a configuration may read beyond the shared ones (train: the training loop's; predict:
    # run_dir, checkpoint, device, the checkpoint_parts and a stochastic model's seed); any other
    # given option is refused by unused_options()
    train_reads: tuple[str, ...] = ()
    predict_reads: tuple[str, ...] = ()
    has_weights: bool = True  # False: predictions load no run or checkpoint (--run/--checkpoint are refused)

    def unused_options(self, command: str, options: dict) -> dict[str, str]:
        """{name: why it would change nothing} for the options a user gave to ``command`` ('train'
        or 'predict'; ``options`` maps names to values) under the configuration they choose; the
        caller refuses each in one line (common.errors.refuse_unused).  Override to add
        configuration-specific reasons (call super() for the declared-options check)."""
        if command == "train":
            from .training import TrainOptions

            shared = set(TrainOptions.__dataclass_fields__)
            return {name: f"is not read by {self.name} training" for name in options
                    if name not in shared and name not in self.train_reads}
        if command != "predict":
            raise ValueError(f"unknown command '{command}'")
        reads = {"run_dir", "checkpoint", "device", *self.checkpoint_parts, *self.predict_reads,
                 *(("seed",) if self.stochastic else ())}
        reasons = {name: f"is not read by {self.name} predictions" for name in options if name not in reads}
        for name in options:
            if name.endswith("checkpoint") and name not in reads:
                reasons[name] = f"does not apply: model '{self.name}' loads no {name.replace('_', '-')} file"
        if "seed" in options and not self.stochastic:
            reasons["seed"] = f"does not apply: model '{self.name}' is deterministic (its predictions do not change with it)"
        if not self.has_weights:
            reasons.update({name: f"does not apply: model '{self.name}' has no weights"
                            for name in ("run_dir", "checkpoint") if name in options})
        return reasons

    def refuse_options(self, command: str, options: dict, labels: dict | None = None) -> None:
        """UserError naming each given option (None values are not given) this configuration does not use."""
        from ..common.errors import refuse_unused

        given = {name: value for name, value in options.items() if value is not None}
        refuse_unused(self.unused_options(command, given), given, labels)

    def speech_backbone(self, predictor) -> SpeechBackbone | None:
        """The backbone ``predictor`` (from :meth:`load_audio_predictor`) runs on new audio, for
        ``--backbone``; None (the default): it has none, and only ``--backbone auto`` is accepted."""
        return None

    @property
    def trainable(self) -> bool:
        return type(self).train is not ModelEntry.train

    @property
    def predicts_audio(self) -> bool:
        return type(self).load_audio_predictor is not ModelEntry.load_audio_predictor


def whole_sequence_training_reasons(title: str, options: dict) -> dict[str, str]:
    """The ``train`` options that a raw-audio model trained as its original (batch size 1, whole
    sequences, no linguistic units) does not read: {option: reason}, ``title`` e.g. 'FaceFormer'."""
    reasons = {}
    if options.get("batch_size", 1) != 1:
        reasons["batch_size"] = (f"is not read: {title} trains with batch size 1 (sequences of different lengths "
                                 "are not padded, as the original)")
    reasons.update({"max_frames": f"is not read: {title} trains on whole sequences (no cropping)",
                    "features": f"does not apply: {title.lower()} encodes raw audio",
                    "units": f"does not apply: {title.lower()} has no linguistic units (a HiSTalk option)"})
    return reasons


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
    if type(entry).speech_backbone is not ModelEntry.speech_backbone and not entry.predicts_audio:
        missing.append("load_audio_predictor() (its speech_backbone() serves new-audio prediction)")
    if missing:
        raise UserError(f"model '{name}' ({type(entry).__name__}) does not implement {', '.join(missing)}")
    return entry


def model_entry(name: str) -> ModelEntry:
    """The registered entry of model ``name`` (did-you-mean error when unknown)."""
    from . import MODELS

    return MODELS.get(name)
