"""Loading what a HiSTalk run needs: its model from a checkpoint, and the feature extractor that
computes its input features for new audio.  Shared by prediction (api.py) and training (train.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ...common.errors import UserError
from ...features.factory import make_extractors
from ..training import load_checkpoint
from .config import ARCHITECTURE, HiSTalkConfig
from .model import HiSTalk


def extractor_for(feature: str, wav2vec2_model: str | None = None, device: str | None = None):
    """The extractor of feature ``mel``, ``wav2vec2`` or ``wav2vec2_l<N>``."""
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
