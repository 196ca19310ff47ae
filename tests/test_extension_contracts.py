"""Each component kind added the documented way (one file + one registry line) and run end to end.

The toy components live in tests/_toy_components.py; docs/architecture.md shows the same code.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from histalk_bench.align import ALIGNERS
from histalk_bench.align.base import AlignerBase, Alignment, AlignRequest
from histalk_bench.cache import Cache
from histalk_bench.cli.main import cli
from histalk_bench.common.errors import UserError
from histalk_bench.datasets import DATASETS
from histalk_bench.datasets.prepare import prepare
from histalk_bench.features import FEATURES
from histalk_bench.features.base import FeatureExtractorBase
from histalk_bench.metrics import METRICS
from histalk_bench.models import MODELS
from histalk_bench.models.base import ModelEntry

import _toy_components as toy

TOYS = [(DATASETS, "toy", "_toy_components:TOY_DATASET", "a toy release (npz files)"),
        (ALIGNERS, "toy", "_toy_components:ToyAligner", "one word per utterance"),
        (FEATURES, "envelope", "_toy_components:EnvelopeExtractor", "RMS envelope, 50 Hz"),
        (MODELS, "envelope", "_toy_components:EnvelopeModel", "lips follow the envelope"),
        (METRICS, "lip_error", "_toy_components:LIP_ERROR", "mean max lip error")]


@pytest.fixture
def registered():
    """The documented registry line of each toy, removed again afterwards."""
    for registry, name, target, help_text in TOYS:
        registry.register(name, target, help=help_text)
    yield
    for registry, name, _, _ in TOYS:
        registry.unregister(name)


@pytest.fixture
def release(tmp_path):
    return toy.write_toy_release(tmp_path / "toy_release")


@pytest.fixture
def temporary(request):
    """Register (registry, name, target) for one test."""
    added = []

    def add(registry, name, target):
        registry.register(name, target)
        added.append((registry, name))
    yield add
    for registry, name in added:
        registry.unregister(name)


def test_toy_dataset_aligner_features_and_model_run_end_to_end(registered, release, tmp_path):
    from histalk_bench.evaluate.scores import evaluate
    from histalk_bench.predict.split import predict_split

    cache_path = tmp_path / "toy.h5"
    runner = CliRunner()
    assert "toy" in runner.invoke(cli, ["prepare", "--help"]).output  # the subcommand comes from the registry
    help_text = " ".join(runner.invoke(cli, ["prepare", "toy", "--help"]).output.split())
    assert "a toy release (npz files)" in help_text and "| toy (registered aligners)" in help_text and "envelope, mel" in help_text
    result = runner.invoke(cli, ["prepare", "toy", "--root", str(release), "--out", str(cache_path),
                                 "--aligner", "toy", "--features", "envelope", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "6 sequences written" in result.output

    with Cache(cache_path) as cache:
        assert cache.dataset == "toy" and cache.n_vertices == toy.N_VERTICES and cache.fps == toy.FPS
        assert [r.key for r in cache.sequences("train")] == ["A/s01", "A/s02", "A/s03"]
        assert cache.tier("B", "s02", "words")[0][2] == "toy"
        assert cache.tier("B", "s02", "phones")[1][2] == "OY"
        envelope, rate = cache.feature("B", "s02", "envelope")
        assert rate == 50.0 and envelope.shape == (int(np.ceil(1.2 * 16000 / 320)), 1)
        assert cache.landmarks("B", "s02").shape == (int(1.2 * toy.FPS), 10, 3)
        scores = {}
        for model in ("envelope", "static"):
            path, n = predict_split(model, cache, "test", tmp_path / f"{model}.h5", progress=False)
            assert n == 3
            scores[model] = evaluate(path, cache_path, "test", model=model)
    # the envelope model follows the lips, so it beats the motionless template on lip error
    assert scores["envelope"]["metrics"]["lve"] < 0.5 * scores["static"]["metrics"]["lve"]
    assert scores["envelope"]["metrics"]["mve"] < scores["static"]["metrics"]["mve"]
    assert scores["envelope"]["n_sequences"] == 3
    # the toy metric is scored beside the others: max lip error per frame, pooled; the static model's
    # lip error is the ground truth's lip displacement itself
    with Cache(cache_path) as cache:
        lip_motion = [np.linalg.norm(cache.vertices(r.subject, r.sentence)[:, toy.LIP] - cache.template(r.subject)[toy.LIP],
                                     axis=-1).max(axis=1) for r in cache.sequences("test")]
    assert scores["static"]["metrics"]["lip_error"] == pytest.approx(np.concatenate(lip_motion).mean(), rel=1e-6)
    assert scores["envelope"]["metrics"]["lip_error"] < 0.5 * scores["static"]["metrics"]["lip_error"]
    assert scores["envelope"]["metric_versions"]["lip_error"] == "1.0" and "lip_error" in scores["envelope"]["ci95"]
    # the dataset's facts come from its registry entry: LRP threshold 0.05, no display scaling
    assert scores["envelope"]["options"]["lrp_threshold"] == 0.05 and scores["envelope"]["display_scale"]["lve"] == 1.0


def test_compare_takes_models_comma_or_space_separated_or_repeated(registered, release, tmp_path):
    cache_path = tmp_path / "toy.h5"
    prepare("toy", release, cache_path, features="envelope", progress=False)
    runner = CliRunner()
    result = runner.invoke(cli, ["compare", "--models", "envelope,static", "--models", "mean", "--data",
                                 str(cache_path), "--split", "test", "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "cmp" / "leaderboard.csv").read_text().splitlines()
    assert sorted(row.split(",")[0] for row in lines[1:]) == ["envelope", "mean", "static"]
    assert "lip_error" in lines[0] and "max lip error ↓" in (tmp_path / "cmp" / "leaderboard.md").read_text()
    spaced = runner.invoke(cli, ["compare", "--models", "envelope", "static", "--data", str(cache_path),
                                 "--out", str(tmp_path / "cmp2")])
    assert spaced.exit_code == 0, spaced.output
    lines = (tmp_path / "cmp2" / "leaderboard.csv").read_text().splitlines()
    assert sorted(row.split(",")[0] for row in lines[1:]) == ["envelope", "static"]


class _AttributeBug(AlignerBase):
    name = "attribute-bug"

    def align(self, request: AlignRequest) -> Alignment:
        return Alignment(words=[(0.0, len(request.audio) / 16000, "x")])  # AlignRequest has no .audio


class _OldSignature(AlignerBase):
    name = "old"

    def align(self, audio_16k, transcript):
        return Alignment()


class _WrongReturn(AlignerBase):
    name = "wrong-return"

    def align(self, request):
        return [(0.0, 1.0, "x")], [(0.0, 1.0, "x")]


def test_a_bug_in_an_aligner_propagates_and_leaves_no_cache(registered, release, tmp_path, temporary):
    temporary(ALIGNERS, "attribute-bug", _AttributeBug)
    temporary(ALIGNERS, "wrong-return", _WrongReturn)
    with pytest.raises(AttributeError, match="audio"):
        prepare("toy", release, tmp_path / "a.h5", aligner="attribute-bug", progress=False)
    with pytest.raises(TypeError, match="wrong-return.*expected an Alignment"):
        prepare("toy", release, tmp_path / "b.h5", aligner="wrong-return", progress=False)
    assert not (tmp_path / "a.h5").exists() and not (tmp_path / "b.h5").exists()


class _Nothing(AlignerBase):
    name = "nothing"


def test_an_aligner_off_contract_is_refused_in_one_line(temporary):
    from histalk_bench.align.factory import make_aligner

    old_style = r"'old' \(_OldSignature\) does not implement align\(request\) with one AlignRequest argument"
    with pytest.raises(UserError, match=old_style):  # an object: checked when registered
        ALIGNERS.register("old", _OldSignature)
    assert "old" not in ALIGNERS
    temporary(ALIGNERS, "old", "test_extension_contracts:_OldSignature")  # lazy: checked when looked up
    with pytest.raises(UserError, match=old_style):
        make_aligner("old")
    temporary(ALIGNERS, "nothing", "test_extension_contracts:_Nothing")
    with pytest.raises(UserError, match=r"does not implement align\(request\) or align_many"):
        make_aligner("nothing")


def test_a_data_problem_is_one_failed_item(registered, release, tmp_path, caplog):
    with np.load(release / "B" / "s02.npz") as data:
        vertices = data["vertices"]
    np.savez(release / "B" / "s02.npz", vertices=vertices, audio=np.zeros(16000, np.float32))
    with caplog.at_level("WARNING", logger="histalk_bench"):
        summary = prepare("toy", release, tmp_path / "c.h5", aligner="toy", progress=False)
    assert summary.written == 6 and summary.alignment_failed == ["B/s02"]
    assert "alignment failed for B/s02: AlignmentError: audio is silent" in caplog.text
    with Cache(tmp_path / "c.h5") as cache:
        assert cache.tier("B", "s02", "phones") is None and cache.tier("B", "s01", "phones") is not None


class _NoExtract(FeatureExtractorBase):
    name = "no-extract"
    rate = 10.0


class _WrongShape(FeatureExtractorBase):
    name = "wrong-shape"
    rate = 10.0

    def extract(self, audio_16k):
        return float(np.abs(audio_16k).mean())


def test_feature_extractors_are_checked(registered, release, tmp_path, temporary):
    from histalk_bench.features.factory import make_extractors

    with pytest.raises(UserError, match=r"'no-extract' \(_NoExtract\) does not implement extract\(\)"):
        FEATURES.register("no-extract", _NoExtract)
    temporary(FEATURES, "wrong-shape", _WrongShape)
    with pytest.raises(TypeError, match="'wrong-shape' returned float, expected a"):
        prepare("toy", release, tmp_path / "d.h5", features="wrong-shape", progress=False)
    [extractor] = make_extractors("envelope")
    assert extractor.cache_name == "envelope" and extractor.config() == {"name": "envelope", "rate": 50.0}


class _BareModel(ModelEntry):
    name = "bare"


def test_datasets_and_models_off_contract_are_refused(temporary):
    from histalk_bench.datasets.base import dataset_entry, dataset_facts, training_speaker_order

    temporary(DATASETS, "bare", "_toy_components:read_toy")
    with pytest.raises(UserError, match="dataset 'bare' is registered as function, not a DatasetEntry"):
        dataset_entry("bare")
    temporary(DATASETS, "renamed", "_toy_components:TOY_DATASET")
    with pytest.raises(UserError, match="dataset 'renamed': its entry is named 'toy'"):
        dataset_entry("renamed")
    with pytest.raises(UserError, match=r"model 'bare' \(_BareModel\) does not implement description, load_predictor\(\)"):
        MODELS.register("bare", _BareModel)
    # facts: protocol order from the entry, sorted for datasets with no entry
    assert training_speaker_order("biwi", ["M3", "F2"]) == ("F2", "M3")
    assert training_speaker_order("vocaset", ["z", "a"]) == ("a", "z")
    assert dataset_facts("nothing-registered").display_scale["lve"] == 1.0
    assert dataset_facts("vocaset").lrp_threshold == 3e-3


def test_registry_lines_are_the_only_wiring(registered):
    """The toy entries are found by name, with did-you-mean for near misses."""
    assert DATASETS.get("toy").train_speakers == ("A",)
    with pytest.raises(UserError, match="did you mean 'envelope'"):
        FEATURES.get("envelop")
    assert json.dumps(DATASETS.names()).count("toy") == 1


def test_a_models_speech_backbone_is_sped_up_through_the_contract(registered, tmp_path):
    """predict/backbone.py knows the toy's network only from EnvelopeModel.speech_backbone()."""
    import soundfile

    from histalk_bench.predict.audio import animate_audio

    t = np.arange(16000) / 16000
    soundfile.write(tmp_path / "a.wav", (0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 2 * t)).astype(np.float32), 16000)
    np.save(tmp_path / "template.npy", np.zeros((toy.N_VERTICES, 3), np.float32))
    fast = animate_audio("envelope", tmp_path / "a.wav", str(tmp_path / "template.npy"))
    exact = animate_audio("envelope", tmp_path / "a.wav", str(tmp_path / "template.npy"), backbone="fp32")
    assert "wav2vec2 encoder truncated to 1 of 2 layers (the model reads hidden state 1; exact)" in fast.notes
    assert "toy speech network int8 (default; --backbone fp32 for exact features)" in fast.notes
    assert "toy speech network fp32" in exact.notes
    assert fast.vertices[None].shape == exact.vertices[None].shape == (25, toy.N_VERTICES, 3)
    np.testing.assert_allclose(fast.vertices[None], exact.vertices[None], atol=0.05)
    assert not np.array_equal(fast.vertices[None], exact.vertices[None])  # int8 ran
    result = CliRunner().invoke(cli, ["predict", "--model", "static", "--audio", str(tmp_path / "a.wav"), "--out",
                                      str(tmp_path / "s.npy"), "--backbone", "int8"])
    assert result.exit_code == 2 and "model 'static' cannot predict from new audio" in result.output


class _BackboneWithoutAudio(ModelEntry):
    name = "half"
    description = "a backbone but no audio predictor"

    def load_predictor(self, cache, **options):
        return None

    def speech_backbone(self, predictor):
        return None


def test_a_speech_backbone_without_audio_prediction_is_refused_by_the_registry():
    with pytest.raises(UserError, match=r"model 'half' \(_BackboneWithoutAudio\) does not implement "
                                        r"load_audio_predictor\(\) \(its speech_backbone\(\) serves"):
        MODELS.register("half", _BackboneWithoutAudio)
