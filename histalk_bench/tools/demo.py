"""The end-to-end demo on the embedded synthetic corpus (no dataset, no weights, no network).

synth (VOCASET raw layout) -> prepare (oracle alignment, log-mel features) -> train HiSTalk
(short, CPU) -> compare HiSTalk with the ``static`` and ``mean`` baselines on the test split (with ``report.html``).

For speed the demo departs from the paper's defaults and says so when it runs: log-mel input
instead of wav2vec2 (no weights needed) and a smaller HiSTalk (``DEMO_HISTALK``: d_model 32,
one layer per SpeechFormer++ stage instead of [2, 2, 4, 4]).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..common.atomic import write_text_atomic

logger = logging.getLogger(__name__)


# the demo's HiSTalk: the full architecture, smaller (paper default: wav2vec2, d 64, layers [2, 2, 4, 4])
DEMO_HISTALK = {"features": "mel", "d_model": 32, "stage_layers": [1, 1, 1, 1]}


@dataclass
class DemoOptions:
    """Sizes chosen so the whole demo runs in a few minutes on 2 CPU cores."""

    n_subjects: int = 6
    n_sentences: int = 8
    seed: int = 0
    epochs: int = 60
    models: tuple[str, ...] = ("histalk", "static", "mean")
    faceformer_epochs: int = 8
    report_sequences: int = 4  # sequences rendered side by side in report.html
    train_options: dict = field(default_factory=dict)  # model name -> extra train() options

    def options_for(self, name: str) -> dict:
        """train() options of a model in the demo (FaceFormer: tiny encoder, teacher forcing, CPU-sized)."""
        base = {"histalk": {"epochs": self.epochs, **DEMO_HISTALK},
                "faceformer": {"epochs": self.faceformer_epochs, "teacher_forcing": True, "lr": 1e-3,
                               "audio_encoder": "tiny"}}.get(name, {"epochs": self.epochs})
        return {**base, "seed": self.seed, "progress": False, **self.train_options.get(name, {})}


def _training_note(name: str, train_options: dict) -> str:
    """How a model's demo training departs from the paper's configuration (said when it runs)."""
    if name == "faceformer" and train_options.get("audio_encoder") == "tiny":
        return " (tiny random-weight wav2vec2 and teacher forcing: the CPU demo configuration, not the paper's)"
    if name == "histalk":
        return (f" (demo size: log-mel input instead of wav2vec2, d_model {train_options.get('d_model')}, "
                f"stage layers {train_options.get('stage_layers')} instead of [2, 2, 4, 4])")
    return ""


def _stage(name: str):
    logger.info("[demo] %s ...", name)
    return time.perf_counter()


def run_demo(out: str | Path, options: DemoOptions | None = None, force: bool = False) -> Path:
    """Run the whole pipeline into ``out``; returns the path of ``leaderboard.csv``."""
    from ..datasets.prepare import prepare
    from ..evaluate.compare import run_compare
    from ..report.build import report_builder
    from ..models import MODELS
    from ..models.runs import train_run
    from ..synth import write_synthetic_corpus

    options = options or DemoOptions()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    start = _stage("synthesising a VOCASET-layout corpus")
    corpus = write_synthetic_corpus(out / "corpus", layout="vocaset", n_subjects=options.n_subjects,
                                    n_sentences=options.n_sentences, seed=options.seed)
    timings["synth_s"] = time.perf_counter() - start

    start = _stage("preparing the cache (oracle alignment, log-mel features)")
    cache_path = out / "cache.h5"
    summary = prepare("vocaset", root=corpus, out=cache_path, aligner="oracle", features="mel", force=force, progress=False)
    logger.info("[demo] %s", summary.line())
    timings["prepare_s"] = time.perf_counter() - start

    runs: dict[str, Path] = {}
    for name in options.models:
        entry = MODELS.get(name)
        if entry.trainable:
            train_options = options.options_for(name)
            note = _training_note(name, train_options)
            start = _stage(f"training {name} for {train_options['epochs']} epochs{note}")
            runs[name] = train_run(name, cache_path, out / "runs" / name, train_options)
            timings[f"train_{name}_s"] = time.perf_counter() - start

    start = _stage("comparing models on the test split")
    leaderboard = run_compare(list(options.models), cache_path, "test", out, runs=runs, force=True,
                              finish=report_builder(options.report_sequences))
    timings["compare_s"] = time.perf_counter() - start
    report = out / "report" / "report.json"  # compare's report.html: its share of compare_s, and its size
    if report.exists():
        build = json.loads(report.read_text()).get("build", {})
        timings.update(report_s=build.get("seconds"), report_page_bytes=build.get("page_bytes"),
                       report_media_bytes=build.get("media_bytes"))
    write_text_atomic(out / "demo_timings.json", json.dumps(timings, indent=2))
    return Path(leaderboard)
