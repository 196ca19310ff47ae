"""wav2vec2 extractor: shapes, 50 Hz rate, batching equals single calls, offline errors."""

import numpy as np
import pytest

from histalk_bench.common.errors import UserError
from histalk_bench.common.hub import download_command
from histalk_bench.features.factory import make_extractors

from _features_helpers import save_tiny_wav2vec2

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_group(tmp_path_factory):
    return save_tiny_wav2vec2(tmp_path_factory.mktemp("w2v") / "tiny-group", "group")


@pytest.fixture(scope="module")
def tiny_layer(tmp_path_factory):
    return save_tiny_wav2vec2(tmp_path_factory.mktemp("w2v") / "tiny-layer", "layer")


def _audio(seconds, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * 16000))).astype(np.float32)


def test_all_layers_and_one_layer(tiny_group):
    (extractor,) = make_extractors("wav2vec2", model=str(tiny_group), device="cpu")
    assert extractor.rate == 50.0 and extractor.cache_name == "wav2vec2"
    features = extractor.extract(_audio(1.0))
    assert features.dtype == np.float32 and features.shape == (49, 3, 32)  # floor((16000-400)/320)+1
    (last,) = make_extractors("wav2vec2", model=str(tiny_group), layer=-1, device="cpu")
    assert last.cache_name == "wav2vec2_l2" and last.config()["layer"] == 2
    np.testing.assert_allclose(last.extract(_audio(1.0)), features[:, 2], atol=1e-5)
    assert extractor.config()["model"] == "tiny-group" and extractor.config()["hidden"] == 32
    other = save_tiny_wav2vec2(tiny_group.parent / "other" / "tiny-group", "layer")
    (changed,) = make_extractors("wav2vec2", model=str(other))
    assert changed.config()["model"] == "tiny-group" and changed.config() != extractor.config()  # new weights
    with pytest.raises(UserError, match="out of range"):
        make_extractors("wav2vec2", model=str(tiny_group), layer=5)


def test_normalisation_makes_features_gain_invariant(tiny_group):
    (extractor,) = make_extractors("wav2vec2", model=str(tiny_group))
    audio = _audio(0.5)
    np.testing.assert_allclose(extractor.extract(audio), extractor.extract(3.0 * audio + 0.01), atol=1e-4)


@pytest.mark.parametrize("norm", ["group", "layer"])
def test_batches_equal_single_calls(norm, tiny_group, tiny_layer):
    folder = tiny_group if norm == "group" else tiny_layer
    (extractor,) = make_extractors("wav2vec2", model=str(folder), batch_size=3)
    audios = [_audio(0.7, 1), _audio(0.45, 2), _audio(0.7, 3), _audio(0.3, 4)]
    batched = extractor.extract_batch(audios)
    for audio, features in zip(audios, batched):
        assert features.shape[0] == extractor.n_frames(audio.size)
        np.testing.assert_allclose(features, extractor.extract(audio), atol=2e-4)


def test_offline_hub_id_gives_one_line_download_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(UserError) as info:
        make_extractors("wav2vec2", model="facebook/wav2vec2-base-960h")
    message = str(info.value)
    assert "\n" not in message
    assert download_command("facebook/wav2vec2-base-960h", "wav2vec2-base-960h") in message and "--wav2vec2-model" in message


def test_bad_folders_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        make_extractors("wav2vec2", model=str(tmp_path / "nope"))
    with pytest.raises(UserError, match="no config.json"):
        make_extractors("wav2vec2", model=str(tmp_path))


def test_unknown_feature_name_suggests():
    with pytest.raises(UserError, match="did you mean 'wav2vec2'"):
        make_extractors("wav2vec")
    assert make_extractors("none") == []
