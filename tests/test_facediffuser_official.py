"""FaceDiffuser against the official sampler: state dicts with the official layout (the names and
shapes of the released pretrained_vocaset.pth / pretrained_BIWI.pth: HuBERT-base encoder with old
weight_g/weight_v names, ``cond_projection`` 1536 -> L, ``input_projection`` Linear + Conv1d(1, 1, 9),
one-hot ``time_mlp``, 2-layer GRU, ``obj_vector`` (L, 8|6)), scored through split prediction and
the real CLI, and checked against ``_official_facediffuser``: a straightforward restatement of the
official ``p_sample_loop`` (HuBERT recomputed at every step, one condition at a time, seeded with
``torch.manual_seed(seed)``).  Smaller than the release only where the layout allows: two encoder
layers instead of twelve, a few diffusion steps instead of 1000/500, the synthetic corpus's vertex
count and a smaller latent width."""

import functools

import numpy as np
import pytest
import torch

from _official_facediffuser import OfficialDiffusion, OfficialFaceDiff, official_sample
from histalk_bench.datasets.splits import BIWI_TRAIN, VOCASET_TRAIN

torch.set_num_threads(1)


# ---------------------------------------------------------------- an official-layout state dict
@functools.lru_cache(maxsize=4)  # read-only after construction: tests copy before changing
def official_parts(n_vertices: int, latent: int, steps: int, n_speakers: int, fps: int, seed: int):
    """(state dict with official names and old weight-norm keys, the reference network holding it)."""
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(seed)
    hubert = HubertModel(HubertConfig(num_hidden_layers=2)).eval()  # base shapes: width 768, CNN 512
    network = OfficialFaceDiff(hubert, 3 * n_vertices, latent, steps, latent, 2, n_speakers, fps).eval()
    with torch.no_grad():  # the official init zeroes final_layer: give every tensor visible values
        network.final_layer.weight.normal_(0, 0.02)
        network.final_layer.bias.normal_(0, 0.01)
        network.obj_vector.weight.normal_(0, 1.0)
    state = {}
    for key, value in network.state_dict().items():
        key = key.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v")
        state[key] = value.clone()
    return state, network


def test_state_dict_has_the_official_names():
    state, _ = official_parts(10, 16, 5, 8, 30, seed=0)
    assert "audio_encoder.encoder.pos_conv_embed.conv.weight_g" in state
    assert state["cond_projection.weight"].shape == (16, 1536)
    assert state["input_projection.1.weight"].shape == (1, 1, 9)
    assert state["time_mlp.0.weight"].shape == (16, 5) and state["obj_vector.weight"].shape == (16, 8)
    assert "gru.weight_ih_l1" in state and "final_layer.bias" in state


# ---------------------------------------------------------------- library-level agreement (fast)
def test_one_condition_matches_the_official_loop(tmp_path):
    from histalk_bench.models.facediffuser.api import FaceDiffuserPredictor
    from histalk_bench.models.facediffuser.checkpoint import load_model

    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    template = rng.standard_normal((10, 3)).astype(np.float32)
    state, reference = official_parts(10, 16, 6, 8, 30, seed=3)
    torch.save(state, tmp_path / "vocaset.pth")
    model = load_model(checkpoint=tmp_path / "vocaset.pth", speakers=tuple(VOCASET_TRAIN), fps=30)
    assert (model.config.diffusion_steps, model.config.latent_dim, model.config.gru_layers) == (6, 16, 2)
    assert model.audio_encoder.config.num_hidden_layers == 2
    predictor = FaceDiffuserPredictor(model, torch.device("cpu"), seed=5)
    n_frames = int(len(audio) / 16000 * 30) - 1
    got = predictor.motion(audio, template, n_frames, [3, 0])
    expected = official_sample(reference, OfficialDiffusion(6), audio, template, 3, 8, n_frames, seed=5)
    assert got.shape == (2, n_frames, 10, 3)
    np.testing.assert_allclose(got[0], expected, rtol=0, atol=1e-4)
    expected_0 = official_sample(reference, OfficialDiffusion(6), audio, template, 0, 8, n_frames, seed=5)
    np.testing.assert_allclose(got[1], expected_0, rtol=0, atol=1e-4)  # batched conditions share the noise


def test_seeds_differ_and_a_seed_repeats(tmp_path):
    from histalk_bench.models.facediffuser.api import FaceDiffuserPredictor
    from histalk_bench.models.facediffuser.checkpoint import load_model

    audio = (0.1 * np.random.default_rng(1).standard_normal(12000)).astype(np.float32)
    template = np.zeros((10, 3), np.float32)
    state, _ = official_parts(10, 16, 5, 6, 25, seed=4)
    torch.save(state, tmp_path / "biwi.pth")
    model = load_model(checkpoint=tmp_path / "biwi.pth", speakers=tuple(BIWI_TRAIN), fps=25)
    runs = [FaceDiffuserPredictor(model, torch.device("cpu"), seed=s).motion(audio, template, 17, [1]) for s in (1, 1, 2)]
    assert np.array_equal(runs[0], runs[1])
    assert np.abs(runs[0] - runs[2]).max() > 1e-3
    # the released BIWI model's space: sampled on the normalised template, mapped back to the cache's units
    template = np.random.default_rng(3).standard_normal((10, 3)).astype(np.float32) * [1.0, 2.0, 0.5] + [0.0, 5.0, -1.0]
    scaled, back = facexhubert(template.astype(np.float64))
    normalised = FaceDiffuserPredictor(model, torch.device("cpu"), seed=1, space="facexhubert")
    plain = FaceDiffuserPredictor(model, torch.device("cpu"), seed=1, space="cache")
    np.testing.assert_allclose(normalised.motion(audio, template, 17, [1]),
                               back(plain.motion(audio, scaled.astype(np.float32), 17, [1])), rtol=0, atol=1e-5)
    assert normalised.settings["space"] == "facexhubert"
    from histalk_bench.common.errors import UserError

    with pytest.raises(UserError, match="space must be"):
        FaceDiffuserPredictor(model, torch.device("cpu"), space="metres")


def test_a_file_that_does_not_fit_is_one_user_error(tmp_path):
    from histalk_bench.common.errors import UserError
    from histalk_bench.models.facediffuser.checkpoint import load_model

    state, _ = official_parts(10, 16, 5, 8, 30, seed=0)
    broken = dict(state)
    broken["norm_cond.weight"] = torch.zeros(7)
    del broken["final_layer.bias"]
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(UserError, match=r"broken.pth: checkpoint does not match FaceDiffuser: missing final_layer.bias; "
                                        r"misshapen norm_cond.weight \(7,\)") as caught:
        load_model(checkpoint=tmp_path / "broken.pth", speakers=tuple(VOCASET_TRAIN))
    assert "\n" not in str(caught.value)
    torch.save({"obj_vector.weight": torch.zeros(4, 8)}, tmp_path / "other.pth")
    with pytest.raises(UserError, match="other.pth: not a FaceDiffuser checkpoint: no cond_projection.weight"):
        load_model(checkpoint=tmp_path / "other.pth")


# ---------------------------------------------------------------- split prediction = official test, per condition
@pytest.fixture(scope="module")
def biwi_cache(biwi_corpus, tmp_path_factory):
    from histalk_bench.datasets.prepare import prepare_biwi

    path = tmp_path_factory.mktemp("biwi_cache") / "cache.h5"
    prepare_biwi(biwi_corpus, path, aligner="oracle", features="mel", progress=False)
    return path


# dataset: cache fixture, latent, steps, training speakers, fps, splits, predictions checked, data space
OFFICIAL = {
    "vocaset": ("vocaset_cache", 32, 5, VOCASET_TRAIN, 30, ["test"], 2 * 8, "cache"),  # unseen: 8 conditions
    "biwi": ("biwi_cache", 48, 4, BIWI_TRAIN, 25, ["test_a", "test_b"], 2 * 1 + 1 * 6, "facexhubert"),  # Test-A: own
}


def facexhubert(template):
    """FaceXHuBERT's BIWI preprocessing: per axis, minus the template's mean, over its range."""
    mean, span = template.mean(axis=0), template.max(axis=0) - template.min(axis=0)
    return (template - mean) / span, lambda v: v * span + mean


def _check_against_official(cache_path, checkpoint, reference, steps, speakers, splits, seed, tmp_path, frames="audio",
                            max_conditions=None, space="cache"):
    """Split prediction through ``predict_split``; each prediction (the first ``max_conditions`` of
    each sequence) checked against the official sampler; returns how many were checked."""
    from histalk_bench.cache import Cache
    from histalk_bench.predict.split import predict_split
    from histalk_bench.predict.store import PredictionReader

    diffusion = OfficialDiffusion(steps)
    n_checked = 0
    with Cache(cache_path) as cache:
        for split in splits:
            out, _ = predict_split("facediffuser", cache, split, tmp_path / f"{split}-{seed}.h5", checkpoint=checkpoint,
                                   device="cpu", options={"seed": seed, "frames": frames}, progress=False)
            with PredictionReader(out) as reader:
                meta = reader.attrs["meta"]
                assert (meta["frames"], meta["seed"], meta["diffusion_steps"], meta["space"]) == (frames, seed, steps, space)
                for ref in cache.sequences(split):
                    audio = cache.audio(ref.subject, ref.sentence)
                    n_frames = ref.n_frames if frames == "gt" else int(len(audio) / 16000 * cache.fps) - 1
                    conditions = reader.conditions(ref.subject, ref.sentence)
                    assert conditions == ([None] if ref.subject in speakers else sorted(speakers))
                    for condition in conditions[:max_conditions]:
                        index = speakers.index(ref.subject if condition is None else condition)
                        template, back = cache.template(ref.subject).astype(np.float64), lambda v: v
                        if space == "facexhubert":  # the released BIWI model's data: normalised per subject and axis
                            template, back = facexhubert(template)
                        expected = back(official_sample(reference, diffusion, audio, template.astype(np.float32), index,
                                                        len(speakers), n_frames, seed))
                        got = reader.vertices(ref.subject, ref.sentence, condition)
                        assert got.shape == expected.shape  # the official frame count
                        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
                        n_checked += 1
    return n_checked


@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted(OFFICIAL))
def test_split_prediction_is_the_official_sampler(dataset, request, tmp_path):
    from histalk_bench.cache import Cache

    fixture, latent, steps, speakers, fps, splits, n_expected, space = OFFICIAL[dataset]
    cache_path = request.getfixturevalue(fixture)
    with Cache(cache_path) as cache:
        state, reference = official_parts(cache.n_vertices, latent, steps, len(speakers), fps, seed=len(dataset))
    torch.save(state, tmp_path / f"{dataset}.pth")
    assert _check_against_official(cache_path, tmp_path / f"{dataset}.pth", reference, steps, speakers, splits,
                                   seed=7, tmp_path=tmp_path, space=space) == n_expected


@pytest.mark.slow
def test_ground_truth_length_is_an_explicit_recorded_option(vocaset_cache, tmp_path):
    from histalk_bench.cache import Cache

    with Cache(vocaset_cache) as cache:
        state, reference = official_parts(cache.n_vertices, 16, 4, 8, 30, seed=2)
        refs = cache.sequences("test")
        assert [r.n_frames for r in refs] != [int(len(cache.audio(r.subject, r.sentence)) / 16000 * 30) - 1 for r in refs]
    torch.save(state, tmp_path / "vocaset.pth")
    assert _check_against_official(vocaset_cache, tmp_path / "vocaset.pth", reference, 4, VOCASET_TRAIN, ["test"],
                                   seed=3, tmp_path=tmp_path, frames="gt", max_conditions=2) == 2 * 2


@pytest.mark.slow
def test_the_cli_predicts_with_the_seed_it_is_given(vocaset_cache, tmp_path):
    """histalk-bench predict --model facediffuser --checkpoint vocaset.pth --seed 7 --data cache.h5 --split test --out pred.h5"""
    from click.testing import CliRunner

    from histalk_bench.cache import Cache
    from histalk_bench.cli.main import cli
    from histalk_bench.predict.store import PredictionReader

    with Cache(vocaset_cache) as cache:
        state, reference = official_parts(cache.n_vertices, 16, 4, 8, 30, seed=9)
        ref = cache.sequences("test")[0]
        audio, template = cache.audio(ref.subject, ref.sentence), cache.template(ref.subject)
    torch.save(state, tmp_path / "vocaset.pth")
    files = {}
    for name, seed in (("pred7", "7"), ("pred8", "8")):
        result = CliRunner().invoke(cli, ["predict", "--model", "facediffuser", "--checkpoint", str(tmp_path / "vocaset.pth"),
                                          "--seed", seed, "--data", str(vocaset_cache), "--split", "test",
                                          "--out", str(tmp_path / f"{name}.h5")])
        assert result.exit_code == 0, result.output
        files[name] = tmp_path / f"{name}.h5"
    n_frames = int(len(audio) / 16000 * 30) - 1
    expected = official_sample(reference, OfficialDiffusion(4), audio, template, 2, 8, n_frames, seed=7)
    with PredictionReader(files["pred7"]) as seven, PredictionReader(files["pred8"]) as eight:
        assert seven.attrs["meta"]["options"]["seed"] == 7 and eight.attrs["meta"]["options"]["seed"] == 8
        got = seven.vertices(ref.subject, ref.sentence, VOCASET_TRAIN[2])
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
        assert np.abs(got - eight.vertices(ref.subject, ref.sentence, VOCASET_TRAIN[2])).max() > 1e-4


@pytest.mark.slow
def test_new_audio_with_an_official_file_is_the_official_predict(tmp_path):
    """predict.py: frames int(len/16000*fps) - 1, the VOCASET one-hot columns named, the seed's noise."""
    from histalk_bench.models.base import model_entry

    rng = np.random.default_rng(2)
    audio = (0.1 * rng.standard_normal(20000)).astype(np.float32)
    template = rng.standard_normal((5023, 3)).astype(np.float32)
    state, reference = official_parts(5023, 16, 3, 8, 30, seed=6)
    torch.save(state, tmp_path / "pretrained_vocaset.pth")
    predictor = model_entry("facediffuser").load_audio_predictor(checkpoint=tmp_path / "pretrained_vocaset.pth",
                                                                 device="cpu", seed=11)
    predictor.progress = False
    assert predictor.config.speakers == tuple(VOCASET_TRAIN) and predictor.config.fps == 30
    got = predictor.predict_audio(audio, template, VOCASET_TRAIN[1])
    n_frames = int(20000 / 16000 * 30) - 1
    expected = official_sample(reference, OfficialDiffusion(3), audio, template, 1, 8, n_frames, seed=11)
    assert got.shape == (n_frames, 5023, 3)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
