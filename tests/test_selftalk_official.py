"""SelfTalk against the official inference: state dicts with the released layout (names, the
xlsr-style encoder's convolution stack and norms, old weight_g/weight_v names, audio_feature_map
1024->512 / 2048->1024 reduced to the test encoder's width, decoder d 512 / 1024, the
training-only text_encoder/lip_map/transformer/lm_head entries), predicted through the library's
split prediction and the real command line, checked against tests/_official_selftalk.py."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from _official_selftalk import REDUCED_XLSR, OfficialSelfTalk, official_state

torch.set_num_threads(1)

# narrower still for the quick tests; heads = width / 64 as in the release (head size 64 is what
# the loader infers the head count from)
SMALL_XLSR = {**REDUCED_XLSR, "hidden_size": 64, "intermediate_size": 128, "conv_dim": (64,) * 7,
              "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4, "num_attention_heads": 1}


@pytest.fixture(scope="module")
def biwi_cache(biwi_corpus, tmp_path_factory):
    from histalk_bench.datasets.prepare import prepare_biwi

    path = tmp_path_factory.mktemp("biwi_cache") / "cache.h5"
    prepare_biwi(biwi_corpus, path, aligner="oracle", features="mel", progress=False)
    return path


def _n_vertices(cache_path) -> int:
    from histalk_bench.cache import Cache

    with Cache(cache_path) as cache:
        return cache.n_vertices


def _check_against_official(cache_path, predictions: dict, state, dataset) -> int:
    """Every sequence of every split: same frame count, vertices within 1e-4; one unconditioned prediction each."""
    from histalk_bench.cache import Cache
    from histalk_bench.predict.store import PredictionReader

    official = OfficialSelfTalk(state, dataset)
    n_checked = 0
    with Cache(cache_path) as cache:
        for split, path in predictions.items():
            with PredictionReader(path) as reader:
                assert reader.attrs["meta"]["frames"] == "audio"
                for ref in cache.sequences(split):
                    assert reader.conditions(ref.subject, ref.sentence) == [None]  # no speaker conditioning
                    expected = official.predict(cache.audio(ref.subject, ref.sentence), cache.template(ref.subject))
                    got = reader.vertices(ref.subject, ref.sentence, None)
                    assert got.shape == expected.shape  # the official frame count
                    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
                    n_checked += 1
    return n_checked


# dataset: cache fixture, official name, splits, sequences checked
OFFICIAL = {"vocaset": ("vocaset_cache", "vocaset", ["test"], 2), "biwi": ("biwi_cache", "BIWI", ["test_a", "test_b"], 3)}


@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted(OFFICIAL))
def test_split_prediction_is_the_official_inference(dataset, request, tmp_path):
    from histalk_bench.cache import Cache
    from histalk_bench.predict.split import predict_split

    fixture, name, splits, n_expected = OFFICIAL[dataset]
    cache_path = request.getfixturevalue(fixture)
    state = official_state(name, _n_vertices(cache_path), seed=len(dataset))
    assert "audio_encoder.encoder.pos_conv_embed.conv.weight_g" in state and "text_encoder.lm_head.weight" in state
    torch.save(state, tmp_path / f"{name}.pth")
    predictions = {}
    with Cache(cache_path) as cache:
        for split in splits:
            predictions[split], _ = predict_split("selftalk", cache, split, tmp_path / f"{split}.h5",
                                                  checkpoint=tmp_path / f"{name}.pth", device="cpu", progress=False)
    assert _check_against_official(cache_path, predictions, state, name) == n_expected


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device"))])
@pytest.mark.parametrize("dataset", ["vocaset", "BIWI"])
def test_audio_longer_than_the_window_is_encoded_in_pieces_as_the_official_predict(dataset, device, tmp_path):
    """The official predict encodes 30 s windows apart (VOCASET interpolating each window): a 1 s
    window on 2.7 s of audio checks the pieces, their frame counts and the joins."""
    from histalk_bench.models.selftalk.checkpoint import load_model

    encoder = SMALL_XLSR
    state = official_state(dataset, 30, seed=3, encoder=encoder, training_keys=False)
    torch.save(state, tmp_path / "w.pth")
    model = load_model(tmp_path / "w.pth", window_s=1.0).eval()
    official = OfficialSelfTalk(state, dataset, encoder=encoder, window_s=1.0)
    audio = np.random.default_rng(0).standard_normal(43200).astype(np.float32) * 0.1
    template = np.random.default_rng(1).standard_normal((30, 3)).astype(np.float32)
    from histalk_bench.models.selftalk.api import SelfTalkPredictor

    got = SelfTalkPredictor(model, torch.device(device)).predict_audio(audio, template)  # the official on CPU
    expected = official.predict(audio, template)
    assert got.shape == expected.shape == (model.frames_for_audio(len(audio)), 30, 3)
    # VOCASET: windows of 49, 49, 34 features -> 29 + 29 + 20 frames; one window of 134 features would give 80
    assert len(got) == {"vocaset": 78, "BIWI": 66}[dataset]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


def _tiny_official(tmp_path, **kwargs):
    encoder = SMALL_XLSR
    return official_state("vocaset", 20, seed=5, encoder=encoder, **kwargs)


def test_training_only_weights_are_ignored_and_reported(tmp_path, capsys):
    from histalk_bench.models.selftalk.api import load
    from histalk_bench.models.selftalk.checkpoint import TRAINING_PREFIXES, read_weights

    state = _tiny_official(tmp_path)
    torch.save(state, tmp_path / "vocaset.pth")
    model = load(checkpoint=tmp_path / "vocaset.pth")
    ignored = model.source["ignored_training_weights"]
    assert set(ignored) == {p + "*" for p in TRAINING_PREFIXES}
    assert ignored["text_encoder.*"] == sum(k.startswith("text_encoder.") for k in state)
    assert model.source["memory_mapped"] is True
    note = capsys.readouterr().err
    assert "ignoring training-only weights in vocaset.pth" in note and "text_encoder.* (" in note
    loaded = {name for name, _ in model.named_parameters()}
    assert not any(name.startswith(TRAINING_PREFIXES) for name in loaded)
    assert read_weights(tmp_path / "vocaset.pth").state.keys().isdisjoint({k for k in state if k.startswith("lip_map")})
    # the inference weights are the file's (old weight-norm names renamed)
    assert torch.equal(model.audio_encoder.encoder.pos_conv_embed.conv.parametrizations.weight.original1,
                       state["audio_encoder.encoder.pos_conv_embed.conv.weight_v"])
    assert model.config.dataset == "vocaset" and model.config.d_model == 512 and model.config.n_vertices == 20
    assert model.audio_encoder.config.do_stable_layer_norm and model.audio_encoder.config.conv_bias


def test_a_legacy_format_file_loads_whole_and_says_so(tmp_path, capsys):
    from histalk_bench.models.selftalk.api import load

    state = _tiny_official(tmp_path, training_keys=False)
    torch.save(state, tmp_path / "old.pth", _use_new_zipfile_serialization=False)
    model = load(checkpoint=tmp_path / "old.pth")
    assert model.source["memory_mapped"] is False and model.source["ignored_training_weights"] == {}
    assert "old.pth has the legacy (pre-zip) torch format and cannot be memory-mapped" in capsys.readouterr().err
    assert torch.equal(model.vertice_map_r.weight, state["vertice_map_r.weight"])


@pytest.mark.parametrize("change, message", [
    ("drop:vertice_map_r.bias", "missing vertice_map_r.bias"),
    ("drop:audio_encoder.encoder.layers.1.attention.k_proj.weight", "missing audio_encoder.encoder.layers.1.attention.k_proj.weight"),
    ("drop-prefix:transformer_decoder.", "no transformer_decoder.* weights"),
    ("shape:transformer_decoder.layers.0.norm1.weight", "misshapen transformer_decoder.layers.0.norm1.weight"),
    ("shape:audio_feature_map.weight", "misshapen audio_feature_map.weight"),
])
def test_missing_or_misshapen_inference_weights_are_one_line_refusals(tmp_path, change, message):
    from histalk_bench.common.errors import UserError
    from histalk_bench.models.selftalk.checkpoint import load_model

    state = _tiny_official(tmp_path, training_keys=False)
    kind, key = change.split(":")
    if kind == "drop":
        del state[key]
    elif kind == "drop-prefix":
        state = {k: v for k, v in state.items() if not k.startswith(key)}
    else:
        state[key] = torch.zeros(*(s + 1 for s in state[key].shape))
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(UserError) as info:
        load_model(tmp_path / "bad.pth")
    text = str(info.value)
    assert message in text and "bad.pth" in text and "\n" not in text


@pytest.mark.slow
def test_the_command_line_of_the_issue(vocaset_cache, tmp_path):
    """histalk-bench predict --model selftalk --checkpoint vocaset.pth --data cache.h5 --split test --out pred.h5"""
    from histalk_bench.cache import Cache
    from histalk_bench.predict.store import PredictionReader

    state = official_state("vocaset", _n_vertices(vocaset_cache), seed=11)
    torch.save(state, tmp_path / "vocaset.pth")
    (tmp_path / "cache.h5").symlink_to(vocaset_cache)
    done = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "predict", "--model", "selftalk",
                           "--checkpoint", "vocaset.pth", "--data", "cache.h5", "--split", "test", "--out", "pred.h5",
                           "--device", "cpu"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "ignoring training-only weights in vocaset.pth" in done.stderr
    with PredictionReader(tmp_path / "pred.h5") as reader:
        meta = reader.attrs["meta"]
        assert meta["weights"][0]["sha256"] and meta["ignored_training_weights"]["transformer.*"] > 0
    assert _check_against_official(vocaset_cache, {"test": tmp_path / "pred.h5"}, state, "vocaset") == 2
    with Cache(vocaset_cache) as cache:
        assert len(cache.sequences("test")) == 2
    # a file without the inference path: one line, non-zero exit, nothing written
    torch.save({k: v for k, v in state.items() if not k.startswith("vertice_map_r")}, tmp_path / "broken.pth")
    done = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "predict", "--model", "selftalk",
                           "--checkpoint", "broken.pth", "--data", "cache.h5", "--out", "bad.h5", "--device", "cpu"],
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "broken.pth" in done.stderr and "vertice_map_r" in done.stderr
    assert not (tmp_path / "bad.h5").exists()


@pytest.mark.slow
def test_ground_truth_length_option_and_wrong_dataset_refusal(vocaset_cache, tmp_path):
    from histalk_bench.cache import Cache
    from histalk_bench.common.errors import UserError
    from histalk_bench.predict.split import predict_split
    from histalk_bench.predict.store import PredictionReader

    state = official_state("vocaset", _n_vertices(vocaset_cache), seed=7, encoder=SMALL_XLSR, training_keys=False)
    torch.save(state, tmp_path / "vocaset.pth")
    with Cache(vocaset_cache) as cache:
        out, _ = predict_split("selftalk", cache, "test", tmp_path / "gt.h5", checkpoint=tmp_path / "vocaset.pth",
                               device="cpu", options={"frames": "gt"}, progress=False)
        with PredictionReader(out) as reader:
            assert reader.attrs["meta"]["frames"] == "gt"
            for ref in cache.sequences("test"):
                assert len(reader.vertices(ref.subject, ref.sentence, None)) == ref.n_frames
        for options, message in (({"frames": "video"}, "--frames"), ({"seed": 1}, "deterministic")):
            with pytest.raises(UserError, match=message):
                predict_split("selftalk", cache, "test", tmp_path / "x.h5", checkpoint=tmp_path / "vocaset.pth",
                              device="cpu", options=options, progress=False)
        torch.save(official_state("BIWI", 20, seed=7, encoder=SMALL_XLSR, training_keys=False), tmp_path / "BIWI.pth")
        with pytest.raises(UserError, match="predicts 20 vertices"):
            predict_split("selftalk", cache, "test", tmp_path / "x.h5", checkpoint=tmp_path / "BIWI.pth", device="cpu",
                          progress=False)
        assert not (tmp_path / "x.h5").exists()


@pytest.mark.slow
def test_compare_ranks_selftalk_and_faceformer_official_files_in_one_leaderboard(vocaset_cache, tmp_path):
    """compare --checkpoint faceformer=vocaset.pth --checkpoint selftalk=vocaset.pth: one command,
    one leaderboard; each model's predictions record its own file's sha256."""
    from click.testing import CliRunner
    from test_faceformer_official import official_state as faceformer_state

    from histalk_bench.cli.main import cli
    from histalk_bench.datasets.splits import VOCASET_TRAIN
    from histalk_bench.models.provenance import file_digest
    from histalk_bench.predict.store import PredictionReader

    n_vertices = _n_vertices(vocaset_cache)
    (tmp_path / "ff").mkdir()
    (tmp_path / "st").mkdir()
    torch.save(faceformer_state(n_vertices, 64, len(VOCASET_TRAIN), 30, seed=1), tmp_path / "ff" / "vocaset.pth")
    torch.save(official_state("vocaset", n_vertices, seed=2, encoder=SMALL_XLSR), tmp_path / "st" / "vocaset.pth")
    result = CliRunner().invoke(cli, ["compare", "--models", "static,faceformer,selftalk", "--data", str(vocaset_cache),
                                      "--split", "test", "--out", str(tmp_path / "cmp"), "--no-report",
                                      "--checkpoint", f"faceformer={tmp_path / 'ff' / 'vocaset.pth'}",
                                      "--checkpoint", f"selftalk={tmp_path / 'st' / 'vocaset.pth'}"])
    assert result.exit_code == 0, result.output + str(result.exception)
    board = (tmp_path / "cmp" / "leaderboard.md").read_text()
    assert all(f"| {name} |" in board for name in ("static", "faceformer", "selftalk"))
    with PredictionReader(tmp_path / "cmp" / "selftalk" / "predictions.h5") as reader:
        assert reader.attrs["meta"]["weights"][0]["sha256"] == file_digest(tmp_path / "st" / "vocaset.pth")
