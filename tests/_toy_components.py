"""One toy component of each kind, written to the contracts in docs/architecture.md.

tests/test_extension_contracts.py registers each with one registry line and runs them end to
end: toy dataset -> toy aligner + toy features -> cache -> toy model -> predictions -> scores.
The toy release: ``<root>/templates.npz`` (subject -> (V, 3)) and ``<root>/<subject>/<sentence>.npz``
holding ``vertices`` (T, V, 3) at 25 fps and ``audio`` (N,) at 16 kHz.
"""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np

from histalk_bench.align.base import AlignerBase, Alignment, AlignmentError, AlignRequest
from histalk_bench.cache import Cache, SequenceRef
from histalk_bench.common.constants import SAMPLE_RATE
from histalk_bench.common.errors import UserError
from histalk_bench.datasets.base import DatasetEntry, DatasetHeader, ReaderOptions, Release, SourceSequence
from histalk_bench.datasets.landmarks import from_vertex_ids
from histalk_bench.datasets.regions import Region
from histalk_bench.features.base import FeatureExtractorBase
from histalk_bench.metrics.spec import FRAMES, MetricSpec, SequenceView, ratio
from histalk_bench.models.base import ModelEntry, SpeechBackbone

N_VERTICES, FPS = 40, 25.0
LIP, UPPER = np.arange(0, 10), np.arange(20, 40)


# ---- dataset: read + validate a release, return header and sequences --------------------------
def _loader(path: Path, key: str):
    def load() -> np.ndarray:
        with np.load(path) as data:
            if key not in data:
                raise UserError(f"no '{key}' array", path)
            return np.asarray(data[key], dtype=np.float32)
    return load


def read_toy(root: Path, options: ReaderOptions) -> Release:
    if not (root / "templates.npz").exists():
        raise UserError("no toy release found: expected templates.npz", root)
    with np.load(root / "templates.npz") as data:
        templates = {subject: data[subject].astype(np.float32) for subject in data.files}
    regions = {"lip": Region(LIP, "toy", "-"), "upper_face": Region(UPPER, "toy", "-")}
    header = DatasetHeader("toy", FPS, N_VERTICES, templates, regions=regions,
                           landmarks=from_vertex_ids(np.arange(0, 40, 4), source="toy"))
    sources = []
    for path in sorted(root.glob("*/*.npz")):
        subject, sentence = path.parent.name, path.stem
        if subject not in templates:
            raise UserError(f"no template for subject '{subject}'", root / "templates.npz")
        split = "train" if subject == "A" else "test"
        sources.append(SourceSequence(subject, sentence, split, "toy words", _loader(path, "vertices"),
                                      _loader(path, "audio"), str(path)))
    return Release(header, sources, {"root": str(root.resolve()), "layout": "toy"})


TOY_DATASET = DatasetEntry("toy", read=read_toy, train_speakers=("A",), lrp_threshold=0.05)


# ---- aligner: one utterance in, phones and words tiers out -------------------------------------
class ToyAligner(AlignerBase):
    """One word over the whole utterance, split into two phones; silent audio is a data failure."""

    name = "toy"

    def align(self, request: AlignRequest) -> Alignment:
        if not np.abs(request.audio_16k).max() > 0:
            raise AlignmentError("audio is silent")
        end = len(request.audio_16k) / SAMPLE_RATE
        return Alignment(phones=[(0.0, end / 2, "T"), (end / 2, end, "OY")], words=[(0.0, end, "toy")],
                         source=self.name)


# ---- feature extractor: audio in, (T_f, D) out at `rate` Hz ------------------------------------
class EnvelopeExtractor(FeatureExtractorBase):
    """RMS of 20 ms hops: (ceil(N / 320), 1) float32 at 50 Hz."""

    name = "envelope"
    rate = 50.0

    def extract(self, audio_16k: np.ndarray) -> np.ndarray:
        hop = SAMPLE_RATE // 50
        n = int(np.ceil(len(audio_16k) / hop))
        frames = np.pad(audio_16k, (0, n * hop - len(audio_16k))).reshape(n, hop)
        return np.sqrt((frames ** 2).mean(axis=1, keepdims=True)).astype(np.float32)


# ---- model: a predictor for cached sequences ----------------------------------------------------
class EnvelopePredictor:
    name = "envelope"

    def predict(self, cache: Cache, ref: SequenceRef) -> dict:
        """Template + lip vertices moved down by the cached envelope (resampled to the mesh fps)."""
        envelope, rate = cache.feature(ref.subject, ref.sentence, "envelope")
        times = np.arange(ref.n_frames) / cache.fps
        opening = np.interp(times, np.arange(len(envelope)) / rate, envelope[:, 0])
        vertices = np.repeat(cache.template(ref.subject)[None], ref.n_frames, axis=0)
        vertices[:, LIP, 1] -= opening[:, None]
        return {None: vertices}


class SpeechNetworkPredictor:
    """New audio: the lips open with the norm of hidden state 1 of a small random wav2vec2 network
    (2 layers; seeded), 25 fps.  Its network is the model's speech backbone."""

    name = "envelope"
    config = types.SimpleNamespace(fps=FPS, n_vertices=N_VERTICES)  # what new-audio prediction reads; no speakers

    def __init__(self):
        import torch
        from transformers import Wav2Vec2Config, Wav2Vec2Model

        torch.manual_seed(0)
        self.network = Wav2Vec2Model(Wav2Vec2Config(
            hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, conv_dim=(8,) * 7,
            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)).eval()

    def predict_audio(self, audio_16k: np.ndarray, template: np.ndarray, condition=None) -> np.ndarray:
        import torch

        with torch.inference_mode():
            states = self.network(torch.from_numpy(audio_16k.astype(np.float32))[None], output_hidden_states=True)
        norm = states.hidden_states[1][0].norm(dim=-1).numpy()  # (T_f,) at 50 Hz
        n = max(1, int(round(len(audio_16k) / SAMPLE_RATE * FPS)))
        opening = np.interp(np.arange(n) / FPS, np.arange(len(norm)) / 50.0, norm / (norm.max() + 1e-9))
        vertices = np.repeat(template[None], n, axis=0).astype(np.float32)
        vertices[:, LIP, 1] -= 0.3 * opening[:, None]
        return vertices


class EnvelopeModel(ModelEntry):
    name = "envelope"
    description = "lips follow the audio envelope (a toy)"
    has_weights = False

    def load_predictor(self, cache, run_dir=None, checkpoint=None, device="auto", **options):
        return EnvelopePredictor()

    def load_audio_predictor(self, run_dir=None, checkpoint=None, device="auto", **options):
        return SpeechNetworkPredictor()

    def speech_backbone(self, predictor: SpeechNetworkPredictor) -> SpeechBackbone:
        """The predictor's network reads hidden state 1: the second layer can go; int8 by default."""

        def install(network) -> None:
            predictor.network = network

        return SpeechBackbone(predictor.network, install, last_state=1, default_mode="int8", name="toy speech network")


# ---- metric: per-sequence statistics and how they pool -----------------------------------------
def _lip_error_stats(view: SequenceView) -> dict:
    return {"lip_error_sum": float(np.sqrt(view.lip_max).sum())}


LIP_ERROR = MetricSpec(
    name="lip_error", version="1.0", higher_is_better=False, units="data units", title="max lip error",
    description="per frame, the largest lip-vertex L2 error; mean over all frames pooled across sequences",
    statistics=("lip_error_sum",), compute=_lip_error_stats,
    pool=lambda s: ratio(s["lip_error_sum"].sum(axis=-1), s[FRAMES].sum(axis=-1)),
    order=50)


def write_toy_release(root: Path, seed: int = 0) -> Path:
    """Two subjects (A: train, B: test), three sentences each; the lips open with the audio envelope."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    templates = {s: rng.normal(size=(N_VERTICES, 3)).astype(np.float32) for s in ("A", "B")}
    np.savez(root / "templates.npz", **templates)
    for subject, template in templates.items():
        (root / subject).mkdir(exist_ok=True)
        for k in range(3):
            seconds = 1.0 + 0.2 * k
            t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
            audio = (0.5 * np.sin(2 * np.pi * 3 * t) ** 2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
            frames = np.arange(int(seconds * FPS)) / FPS
            vertices = np.repeat(template[None], len(frames), axis=0)
            vertices[:, LIP, 1] -= 0.35 * np.sin(2 * np.pi * 3 * frames)[:, None] ** 2
            np.savez(root / subject / f"s{k + 1:02d}.npz", vertices=vertices, audio=audio)
    return root
