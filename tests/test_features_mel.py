"""Log-mel extractor: shape, 100 Hz rate, the energy lands in the right band."""

import numpy as np

from histalk_bench.features.factory import make_extractors
from histalk_bench.features.mel import mel_filterbank


def test_shape_rate_and_config():
    (mel,) = make_extractors("mel")
    assert mel.rate == 100.0 and mel.cache_name == "mel"
    features = mel.extract(np.zeros(16000, np.float32))
    assert features.shape == (100, 80) and features.dtype == np.float32
    assert mel.extract(np.zeros(16001, np.float32)).shape == (101, 80)
    assert mel.config()["n_mels"] == 80 and mel.config()["hop"] == 160 and mel.config()["win"] == 400


def test_tone_peaks_in_its_band_and_only_while_it_sounds():
    (mel,) = make_extractors("mel")
    t = np.arange(16000) / 16000
    audio = np.where(t >= 0.5, 0.5 * np.sin(2 * np.pi * 1000 * t), 0).astype(np.float32)
    features = mel.extract(audio)
    bank = mel_filterbank(80, 512)
    expected_bin = int(np.argmax(bank[:, round(1000 / (16000 / 512))]))
    assert abs(int(np.argmax(features[75])) - expected_bin) <= 1
    assert features[20].max() < -10 and features[75].max() > 0  # silence vs tone (natural log power)


def test_batch_equals_single_and_duplicate_names_rejected():
    import pytest

    from histalk_bench.common.errors import UserError

    with pytest.raises(UserError, match="twice"):
        make_extractors("mel, mel")
    extractors = make_extractors(" mel ")
    audios = [np.random.default_rng(i).standard_normal(800 * (i + 1)).astype(np.float32) for i in range(3)]
    for audio, features in zip(audios, extractors[0].extract_batch(audios)):
        np.testing.assert_array_equal(features, extractors[0].extract(audio))
