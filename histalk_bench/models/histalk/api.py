"""Registry entry of HiSTalk (:class:`HiSTalkEntry`): training, split and new-audio prediction."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from ...cache import Cache, SequenceRef
from ...common.constants import SAMPLE_RATE
from ...common.errors import UserError
from ..base import ModelEntry, SpeechBackbone, condition_index
from ..data import DataSpec, as_layers, collate, load_item, model_inputs
from ..training import load_checkpoint
from .config import ARCHITECTURE, HiSTalkConfig
from .config import unused_options as config_unused
from .model import HiSTalk
from .train import _split_options, train  # noqa: F401  (the training entry points live in train.py)


def extractor_for(feature: str, wav2vec2_model: str | None = None, device: str | None = None):
    """The extractor of feature ``mel``, ``wav2vec2`` or ``wav2vec2_l<N>``."""
    from ...features.factory import make_extractors

    name, layer = feature, None
    if name.startswith("wav2vec2_l") and name[len("wav2vec2_l"):].isdigit():
        name, layer = "wav2vec2", int(name[len("wav2vec2_l"):])
    [extractor] = make_extractors(name, model=wav2vec2_model, device=device, layer=layer)
    return extractor


def feature_extractor(config: HiSTalkConfig, wav2vec2_model: str | None = None, device: str | None = None):
    """The extractor that computes the run's features for new audio; refuses settings that
    differ from those of training."""
    extractor = extractor_for(config.feature, wav2vec2_model, device)
    trained = config.extra.get("feature_config") or {}
    current = extractor.config() if hasattr(extractor, "config") else {}
    differing = sorted(k for k in trained if k != "model" and k in current and trained[k] != current[k])
    if differing:
        raise UserError(f"'{config.feature}' features for new audio differ from training in {', '.join(differing)} "
                        f"(trained with {[trained[k] for k in differing]}, now {[current[k] for k in differing]}); "
                        "give the same model, e.g. --wav2vec2-model FOLDER")
    return extractor


class HiSTalkPredictor:
    """Predicts vertices for cached sequences; unseen speakers get one prediction per training speaker.
    Features come from the cache, or are computed on the fly when the cache lacks them."""

    name = "histalk"

    def __init__(self, model: HiSTalk, device: torch.device, wav2vec2_model: str | None = None):
        self.model = model.eval().to(device)
        self.config = model.config
        self.device = device
        self.wav2vec2_model = wav2vec2_model
        self._extractor = None

    def extract(self, audio_16k: np.ndarray) -> tuple[np.ndarray, float]:
        """Features of 16 kHz audio computed as in training: (T_f, L, D), rate in Hz."""
        if self._extractor is None:
            self.use_extractor(feature_extractor(self.config, self.wav2vec2_model, str(self.device)))
        features = as_layers(self._extractor.extract(audio_16k))
        expected = (self.config.feature_layers, self.config.feature_dim)
        if features.shape[1:] != expected:
            raise UserError(f"'{self.config.feature}' features have shape {features.shape[1:]} per frame, the model "
                            f"was trained on {expected}")
        return features, self._extractor.rate

    def use_extractor(self, extractor) -> None:
        """Compute new audio's features with ``extractor`` (e.g. one with a sped-up backbone)."""
        self._extractor = extractor

    def _features(self, cache: Cache, ref: SequenceRef):
        cached = cache.feature(ref.subject, ref.sentence, self.config.feature)
        if cached is not None:
            return cached
        return self.extract(cache.audio(ref.subject, ref.sentence))

    def predict_motion(self, item: dict, speaker: int) -> np.ndarray:
        """(T, V, 3) displacement in data units for one item and speaker index (-1: mean style)."""
        batch = collate([{**item, "speaker": speaker}])
        batch = {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in batch.items()}
        with torch.no_grad():
            out = self.model(batch)
        return (out["motion"][0] * self.config.motion_scale).cpu().numpy()

    def predict_audio(self, audio_16k: np.ndarray, template: np.ndarray, condition: str | None = None,
                      alignment=None) -> np.ndarray:
        """(T, V, 3) vertices for new 16 kHz audio at the training frame rate.  With ``alignment``
        (phones and words tiers, e.g. from ``predict --transcript``) the units are aligned, else
        statistical windows (for a run trained on aligned units the caller says so: see
        predict.audio.animate_audio's notes)."""
        if self.config.units != "aligned" and alignment is not None:
            raise UserError("this HiSTalk run uses statistical units: a transcript would not be used; drop --transcript")
        features, rate = self.extract(audio_16k)
        n_frames = max(1, int(round(len(audio_16k) / SAMPLE_RATE * self.config.fps)))
        phones, words = (alignment.phones, alignment.words) if alignment is not None else (None, None)
        units = "aligned" if alignment is not None else "statistical"
        item = {**model_inputs(features, rate, self.config.feature, n_frames, self.config.fps, units, phones, words),
                "key": "audio"}
        speaker = condition_index(self.config.speakers if self.config.use_style else (), condition)
        return (template[None] + self.predict_motion(item, speaker)).astype(np.float32)

    def predict(self, cache: Cache, ref: SequenceRef) -> dict:
        spec = DataSpec(self.config.feature, self.config.units, self.config.speakers)
        item = load_item(cache, ref, spec, None, features=self._features(cache, ref), with_targets=False)
        template = cache.template(ref.subject)
        speakers = self.config.speakers if (self.config.use_style and self.config.speakers) else ()
        if not speakers or ref.subject in speakers:
            speaker = speakers.index(ref.subject) if ref.subject in speakers else -1
            return {None: (template[None] + self.predict_motion(item, speaker)).astype(np.float32)}
        return {name: (template[None] + self.predict_motion(item, index)).astype(np.float32)
                for index, name in enumerate(speakers)}


def load_model(run_dir: str | os.PathLike | None = None, checkpoint: str | os.PathLike | None = None) -> HiSTalk:
    """The best model of a run folder (or an explicit checkpoint), loaded with weights_only=True."""
    if not checkpoint and not run_dir:
        raise UserError("HiSTalk needs --run RUN_DIR or --checkpoint FILE")
    path = Path(checkpoint) if checkpoint else Path(run_dir) / "best.pt"
    if not path.exists():
        raise UserError("no HiSTalk checkpoint found (train first: 'histalk-bench train histalk ...')", path)
    state = load_checkpoint(path)
    run_config = json.loads(state["config"])
    if run_config.get("model") != "histalk":
        raise UserError(f"checkpoint is for model '{run_config.get('model')}', not histalk", path)
    config = HiSTalkConfig.from_dict(run_config["histalk"])
    architecture = run_config["histalk"].get("architecture", 1)  # runs from before the field existed
    if architecture != ARCHITECTURE:
        raise UserError(f"checkpoint is from HiSTalk architecture {architecture}, this version builds "
                        f"architecture {ARCHITECTURE}; retrain the run", path)
    model = HiSTalk(config)
    model.load_state_dict(state["model"])
    return model


def load_predictor(cache: Cache | None, run_dir=None, checkpoint=None, device: str = "auto",
                   wav2vec2_model: str | None = None, **options) -> HiSTalkPredictor:
    """The run's best model as a predictor (``cache`` None: for new audio only)."""
    from ..training import resolve_device

    if options:
        raise UserError(f"unknown histalk prediction option(s): {', '.join(sorted(options))}")
    model = load_model(run_dir, checkpoint)
    if wav2vec2_model and not model.config.feature.startswith("wav2vec2"):
        raise UserError(f"--wav2vec2-model: this model reads '{model.config.feature}' features, it uses no wav2vec2 "
                        "weights; drop it")
    if cache is not None and model.config.n_vertices != cache.n_vertices:
        raise UserError(f"the run was trained on {model.config.n_vertices} vertices, the cache has {cache.n_vertices}", cache.path)
    return HiSTalkPredictor(model, resolve_device(device), wav2vec2_model)


class HiSTalkEntry(ModelEntry):
    name = "histalk"
    description = ("HiSTalk: SpeechFormer++ hierarchy -> per-level landmark streams -> SE weighting -> "
                   "Transformer S2D, plus a coarse PCA-basis motion generator")

    train_reads = ("features", "wav2vec2_model", *HiSTalkConfig.__dataclass_fields__)
    predict_reads = ("wav2vec2_model",)

    def unused_options(self, command: str, options: dict) -> dict[str, str]:
        """Training: a wav2vec2 folder only with wav2vec2 features, no hub download (FaceFormer's),
        and the configuration keys the chosen configuration does not read (config.unused_options)."""
        reasons = super().unused_options(command, options)
        if command == "train":
            feature = options.get("features") or options.get("feature") or "wav2vec2"
            if not str(feature).startswith("wav2vec2"):
                reasons["wav2vec2_model"] = f"only acts with wav2vec2 features (this run trains on '{feature}')"
            if "allow_download" in options:
                reasons["allow_download"] = ("does not apply: histalk computes features from a local wav2vec2 "
                                             "folder only (a FaceFormer option)")
            config = {k: v for k, v in options.items() if k in HiSTalkConfig.__dataclass_fields__}
            reasons.update({name: f"is {why}" for name, why in config_unused(config).items()})
        return {name: why for name, why in reasons.items() if name in options}

    def train(self, cache_path, out_dir, **options) -> Path:
        return train(cache_path, out_dir, **options)

    def load_predictor(self, cache, run_dir=None, checkpoint=None, device="auto", **options) -> HiSTalkPredictor:
        return load_predictor(cache, run_dir=run_dir, checkpoint=checkpoint, device=device, **options)

    def load_audio_predictor(self, run_dir=None, checkpoint=None, device="auto", **options) -> HiSTalkPredictor:
        return load_predictor(None, run_dir=run_dir, checkpoint=checkpoint, device=device, **options)

    def speech_backbone(self, predictor: HiSTalkPredictor) -> SpeechBackbone | None:
        """A run on wav2vec2 features: the extractor's network, truncated after the layer the run
        reads; --backbone auto is int8 Linear layers (its effect measured in benchmarks/backbone_speed.py)."""
        if not predictor.config.feature.startswith("wav2vec2"):
            return None
        extractor = feature_extractor(predictor.config, predictor.wav2vec2_model, str(predictor.device))

        def install(network) -> None:
            extractor.network = network
            predictor.use_extractor(extractor)

        return SpeechBackbone(extractor.network, install, extractor.layer, "int8", "wav2vec2 backbone")
