"""Backbone speed-ups for new audio: exact rewrites stay exact, int8 stays close, chunk windows
cover every frame once."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from histalk_bench.predict.backbone import (chunk_windows, chunked_hidden_states, convs_as_linear, n_frames,
                                            quantize, truncate_encoder)

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


def _network(stable: bool = False, layers: int = 4):
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=64,
                            conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                            feat_extract_norm="layer" if stable else "group", do_stable_layer_norm=stable)
    return Wav2Vec2Model(config).eval()


def _states(network, audio):
    with torch.inference_mode():
        out = network(torch.from_numpy(audio)[None], output_hidden_states=True)
    return torch.stack(out.hidden_states, dim=2)[0].numpy()


AUDIO = np.random.default_rng(0).normal(size=16000).astype(np.float32)


def test_convolutions_as_linear_layers_are_exact():
    network = _network()
    reference = _states(network, AUDIO)
    assert convs_as_linear(network) == 6  # all but the single-channel first convolution
    np.testing.assert_allclose(_states(network, AUDIO), reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("stable", [False, True])
def test_truncation_keeps_the_states_it_keeps(stable):
    network = _network(stable)
    reference = _states(network, AUDIO)
    kept = truncate_encoder(network, 2)
    assert kept == (3 if stable else 2)
    states = _states(network, AUDIO)
    np.testing.assert_allclose(states[:, : 3], reference[:, : 3], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["int8", "int8-cnn"])
def test_int8_stays_close(mode):
    network = _network()
    reference = _states(network, AUDIO)
    states = _states(quantize(copy.deepcopy(network), mode), AUDIO)
    cosine = (states * reference).sum(-1) / (np.linalg.norm(states, axis=-1) * np.linalg.norm(reference, axis=-1))
    assert cosine.mean() > 0.95 and not np.allclose(states, reference)
    assert quantize(network, "fp32") is network


def test_chunk_windows_cover_every_frame_once():
    for n_samples in (400, 16000 * 3 + 123, 16000 * 47):
        windows = chunk_windows(n_samples, window_s=10.0, context_s=1.0)
        frames = [f for _, _, first, last in windows for f in range(first, last)]
        assert frames == list(range(n_frames(n_samples)))
        assert all(0 <= start < end <= n_samples for start, end, _, _ in windows)
    audio = np.random.default_rng(1).normal(size=16000 * 5).astype(np.float32)
    network = _network()
    whole = _states(network, audio)
    parts = chunked_hidden_states(lambda a: _states(network, a), audio, window_s=2.0, context_s=0.5)
    assert parts.shape == whole.shape
