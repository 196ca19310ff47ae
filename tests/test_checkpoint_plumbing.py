"""Weight files and seeds reach a model the same way from every command: ``predict --vq-checkpoint``,
``predict --seed``, ``compare --checkpoint NAME=F1,F2``; each file's sha256 and the seed used are
recorded, ``compare`` reuses predictions only when they match, and an option the model does not read
is refused.  Exercised with a two-file, seeded toy model on the toy release."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from click.testing import CliRunner

from histalk_bench.cache import Cache
from histalk_bench.cli.main import cli
from histalk_bench.common.errors import UserError
from histalk_bench.datasets import DATASETS
from histalk_bench.datasets.prepare import prepare
from histalk_bench.features import FEATURES
from histalk_bench.models import MODELS
from histalk_bench.models.base import ModelEntry
from histalk_bench.predict.store import PredictionReader

import _toy_components as toy


class OffsetNoisePredictor:
    name = "offset-noise"

    def __init__(self, offset: float, seed: int):
        self.offset, self.seed = offset, seed

    def predict(self, cache, ref):
        rng = np.random.default_rng(self.seed)
        template = cache.template(ref.subject)
        motion = self.offset + 0.01 * rng.standard_normal((ref.n_frames, *template.shape))
        return {None: (template[None] + motion).astype(np.float32)}


class OffsetNoiseModel(ModelEntry):
    """Two weight files (each holds one number, summed) and a sampling seed."""

    name = "offset-noise"
    description = "template + the files' offset + seeded noise (a toy)"
    checkpoint_parts = ("checkpoint", "vq_checkpoint")
    stochastic = True
    default_seed = 11

    def load_predictor(self, cache, run_dir=None, checkpoint=None, device="auto", vq_checkpoint=None, seed=None,
                       **options):
        if checkpoint is None or vq_checkpoint is None:
            raise UserError("offset-noise needs --checkpoint and --vq-checkpoint")
        offset = float(np.load(checkpoint)) + float(np.load(vq_checkpoint))
        return OffsetNoisePredictor(offset, seed)


@pytest.fixture
def toy_cache(tmp_path):
    DATASETS.register("toy", "_toy_components:TOY_DATASET")
    FEATURES.register("envelope", "_toy_components:EnvelopeExtractor")
    MODELS.register("offset-noise", OffsetNoiseModel)
    try:
        cache_path = tmp_path / "toy.h5"
        prepare("toy", toy.write_toy_release(tmp_path / "release"), cache_path, features="envelope", progress=False)
        for name, value in (("a.npy", 0.5), ("b.npy", 0.25), ("c.npy", 0.125)):
            np.save(tmp_path / name, np.float64(value))
        yield cache_path
    finally:
        for registry, name in ((DATASETS, "toy"), (FEATURES, "envelope"), (MODELS, "offset-noise")):
            registry.unregister(name)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_predict_records_every_weight_file_and_the_default_seed(toy_cache, tmp_path):
    runner = CliRunner()
    out = tmp_path / "pred.h5"
    result = runner.invoke(cli, ["predict", "--model", "offset-noise", "--checkpoint", str(tmp_path / "a.npy"),
                                 "--vq-checkpoint", str(tmp_path / "b.npy"), "--data", str(toy_cache),
                                 "--split", "test", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with PredictionReader(out) as reader, Cache(toy_cache) as cache:
        meta = reader.attrs["meta"]
        assert [w["sha256"] for w in meta["weights"]] == [sha256(tmp_path / "a.npy"), sha256(tmp_path / "b.npy")]
        assert meta["options"]["seed"] == 11  # the model's default, recorded
        ref = cache.sequences("test")[0]
        motion = reader.vertices(ref.subject, ref.sentence) - cache.template(ref.subject)[None]
        assert abs(float(motion.mean()) - 0.75) < 0.01  # both files were read


def test_seed_changes_the_sample_and_repeats_exactly(toy_cache, tmp_path):
    runner = CliRunner()
    samples = {}
    for name, seed in (("s3", 3), ("s3again", 3), ("s4", 4)):
        result = runner.invoke(cli, ["predict", "--model", "offset-noise", "--checkpoint", str(tmp_path / "a.npy"),
                                     "--vq-checkpoint", str(tmp_path / "b.npy"), "--seed", str(seed),
                                     "--data", str(toy_cache), "--out", str(tmp_path / f"{name}.h5")])
        assert result.exit_code == 0, result.output
        with PredictionReader(tmp_path / f"{name}.h5") as reader:
            key = sorted(reader.keys())[0]
            samples[name] = reader.vertices(*key)
            assert reader.attrs["meta"]["options"]["seed"] == seed
    assert np.array_equal(samples["s3"], samples["s3again"])
    assert not np.allclose(samples["s3"], samples["s4"])


def test_compare_checkpoint_files_are_provenance(toy_cache, tmp_path, caplog):
    runner = CliRunner()
    base = ["compare", "--models", "offset-noise,static", "--data", str(toy_cache), "--out", str(tmp_path / "cmp")]
    pair = f"offset-noise={tmp_path / 'a.npy'},{tmp_path / 'b.npy'}"
    result = runner.invoke(cli, base + ["--checkpoint", pair])
    assert result.exit_code == 0, result.output
    stored = tmp_path / "cmp" / "offset-noise" / "predictions.h5"
    with PredictionReader(stored) as reader:
        assert len(reader.attrs["meta"]["weights"]) == 2
    caplog.set_level("INFO", logger="histalk_bench")
    assert runner.invoke(cli, base + ["--checkpoint", pair]).exit_code == 0
    assert "reusing" in caplog.text and "not reusing" not in caplog.text
    caplog.clear()
    other = f"offset-noise={tmp_path / 'a.npy'},{tmp_path / 'c.npy'}"  # another second file: predict again
    assert runner.invoke(cli, base + ["--checkpoint", other]).exit_code == 0
    assert "not reusing" in caplog.text and "weights" in caplog.text
    with PredictionReader(stored) as reader:
        assert reader.attrs["meta"]["weights"][1]["sha256"] == sha256(tmp_path / "c.npy")


@pytest.mark.parametrize("argv, message", [
    (["compare", "--models", "static", "--checkpoint", "offset-noise=X"], "not in --models"),
    (["compare", "--models", "offset-noise", "--checkpoint", "offset-noise=A,A,A"], "takes 2 file(s)"),
    (["compare", "--models", "offset-noise", "--checkpoint", "offset-noise"], "NAME=FILE"),
    (["predict", "--model", "static", "--seed", "3"], "deterministic"),
    (["predict", "--model", "static", "--vq-checkpoint", "A"], "vq-checkpoint"),
])
def test_options_a_model_does_not_read_are_refused(toy_cache, tmp_path, argv, message):
    argv = [str(tmp_path / "a.npy") if a == "A" else (a.replace("=X", f"={tmp_path / 'a.npy'}").replace(
        "A,A,A", ",".join([str(tmp_path / "a.npy")] * 3))) for a in argv]
    out = ["--out", str(tmp_path / ("o.h5" if argv[0] == "predict" else "o"))]
    result = CliRunner().invoke(cli, argv + ["--data", str(toy_cache)] + out)
    assert result.exit_code != 0
    text = result.output + str(result.exception)
    assert message in text, text
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.h5").exists()
