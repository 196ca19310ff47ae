"""FaceFormer against the official code's inference: state dicts with the official layout
(the names and shapes of the released vocaset.pth / biwi.pth: wav2vec2-base encoder with old
weight_g/weight_v names, d 64/128, PPE.pe (1, 630|625, d), obj_vector (d, 8|6)), scored through
split prediction and checked against a straightforward re-statement of the official ``test()`` /
``predict()`` loop written here (full recompute of the prefix at every frame, one speaker
condition at a time).  Smaller than the release only where it does not change the layout: two
encoder layers instead of twelve, and the synthetic corpus's vertex count."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from histalk_bench.datasets.splits import BIWI_TRAIN, VOCASET_TRAIN

torch.set_num_threads(1)


# ---------------------------------------------------------------- an official-layout state dict
def official_state(n_vertices: int, d: int, n_speakers: int, period: int, seed: int) -> dict:
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(seed)
    encoder = Wav2Vec2Model(Wav2Vec2Config(num_hidden_layers=2))  # base shapes: hidden 768, CNN 512
    state = {}
    for key, value in encoder.state_dict().items():
        key = key.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v")
        state["audio_encoder." + key] = value.clone()
    layer = nn.TransformerDecoderLayer(d, 4, 2 * d, batch_first=True)
    state.update({"transformer_decoder.layers.0." + k: v.clone() for k, v in layer.state_dict().items()})
    state["audio_feature_map.weight"], state["audio_feature_map.bias"] = torch.randn(d, 768) * 0.03, torch.randn(d) * 0.1
    state["vertice_map.weight"], state["vertice_map.bias"] = torch.randn(d, 3 * n_vertices) * 0.02, torch.randn(d) * 0.1
    state["vertice_map_r.weight"], state["vertice_map_r.bias"] = torch.randn(3 * n_vertices, d) * 0.02, torch.randn(3 * n_vertices) * 0.01
    state["obj_vector.weight"] = torch.randn(d, n_speakers)
    position = torch.arange(period, dtype=torch.float)[:, None]
    div = torch.exp(torch.arange(0, d, 2).float() * (-math.log(10000.0) / d))
    pe = torch.zeros(period, d)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(position * div), torch.cos(position * div)
    state["PPE.pe"] = pe[None].repeat(1, 600 // period + 1, 1)
    return state


# ---------------------------------------------------------------- the official loop, restated
def official_biased_mask(n_head: int, max_seq_len: int, period: int) -> torch.Tensor:
    start = 2 ** (-2 ** -(math.log2(n_head) - 3))
    slopes = torch.tensor([start * start ** i for i in range(n_head)])
    bias = torch.arange(0, max_seq_len, period).unsqueeze(1).repeat(1, period).view(-1) // period
    bias = -torch.flip(bias, dims=[0])
    alibi = torch.zeros(max_seq_len, max_seq_len)
    for i in range(max_seq_len):
        alibi[i, : i + 1] = bias[-(i + 1):]
    alibi = slopes[:, None, None] * alibi[None]
    mask = (torch.triu(torch.ones(max_seq_len, max_seq_len)) == 1).transpose(0, 1)
    mask = mask.float().masked_fill(mask == 0, float("-inf")).masked_fill(mask == 1, 0.0)
    return mask[None] + alibi


def official_memory_mask(dataset: str, t: int, s: int) -> torch.Tensor:
    mask = torch.ones(t, s)
    for i in range(t):
        if dataset == "BIWI":
            mask[i, i * 2 : i * 2 + 2] = 0
        else:
            mask[i, i] = 0
    return mask == 1


class OfficialFaceFormer:
    """The official ``predict(audio, template, one_hot)``, straight from its description."""

    def __init__(self, state: dict, dataset: str):
        from transformers import Wav2Vec2Config, Wav2Vec2Model

        self.dataset, self.w = dataset, state
        encoder_state = {k[len("audio_encoder."):].replace("weight_g", "parametrizations.weight.original0")
                         .replace("weight_v", "parametrizations.weight.original1"): v
                         for k, v in state.items() if k.startswith("audio_encoder.")}
        self.encoder = Wav2Vec2Model(Wav2Vec2Config(num_hidden_layers=2)).eval()
        self.encoder.load_state_dict(encoder_state)
        d = state["audio_feature_map.weight"].shape[0]
        self.decoder = nn.TransformerDecoderLayer(d, 4, 2 * d, batch_first=True).eval()
        prefix = "transformer_decoder.layers.0."
        self.decoder.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
        self.biased_mask = official_biased_mask(4, 600, 25 if dataset == "BIWI" else 30)

    def audio_memory(self, audio_16k: np.ndarray) -> torch.Tensor:
        x = (audio_16k - audio_16k.mean()) / np.sqrt(audio_16k.var() + 1e-7)  # Wav2Vec2Processor
        hidden = self.encoder.feature_extractor(torch.from_numpy(x.astype(np.float32))[None]).transpose(1, 2)
        if self.dataset == "BIWI":
            if hidden.shape[1] % 2 != 0:
                hidden = hidden[:, :-1]
        else:  # linear_interpolation(features, 50, 30, output_len=None)
            output_len = int(hidden.shape[1] / float(50) * 30)
            hidden = F.interpolate(hidden.transpose(1, 2), size=output_len, align_corners=True, mode="linear").transpose(1, 2)
        hidden = self.encoder.feature_projection(hidden)[0]
        return self.encoder.encoder(hidden).last_hidden_state

    def predict(self, hidden: torch.Tensor, template: np.ndarray, one_hot: torch.Tensor) -> np.ndarray:
        w = self.w
        frame_num = hidden.shape[1] // 2 if self.dataset == "BIWI" else hidden.shape[1]
        hidden = F.linear(hidden, w["audio_feature_map.weight"], w["audio_feature_map.bias"])
        obj_embedding = F.linear(one_hot, w["obj_vector.weight"])
        for i in range(frame_num):
            if i == 0:
                vertice_emb = obj_embedding.unsqueeze(1)
                style_emb = vertice_emb
            vertice_input = vertice_emb + w["PPE.pe"][:, : vertice_emb.shape[1]]
            n = vertice_input.shape[1]
            vertice_out = self.decoder(vertice_input, hidden, tgt_mask=self.biased_mask[:, :n, :n],
                                       memory_mask=official_memory_mask(self.dataset, n, hidden.shape[1]))
            vertice_out = F.linear(vertice_out, w["vertice_map_r.weight"], w["vertice_map_r.bias"])
            new_output = F.linear(vertice_out[:, -1], w["vertice_map.weight"], w["vertice_map.bias"]).unsqueeze(1)
            vertice_emb = torch.cat((vertice_emb, new_output + style_emb), 1)
        out = vertice_out + torch.from_numpy(template.reshape(1, 1, -1))
        return out[0].view(frame_num, -1, 3).numpy()


# ---------------------------------------------------------------- split prediction = official test()
@pytest.fixture(scope="module")
def biwi_cache(biwi_corpus, tmp_path_factory):
    from histalk_bench.datasets.prepare import prepare_biwi

    path = tmp_path_factory.mktemp("biwi_cache") / "cache.h5"
    prepare_biwi(biwi_corpus, path, aligner="oracle", features="mel", progress=False)
    return path


def _check_split_against_official(cache_path, checkpoint, state, dataset, splits, train_subjects, tmp_path):
    from histalk_bench.cache import Cache
    from histalk_bench.predict.split import predict_split
    from histalk_bench.predict.store import PredictionReader

    official = OfficialFaceFormer(state, dataset)
    one_hots = torch.eye(len(train_subjects))
    n_checked = 0
    with Cache(cache_path) as cache:
        for split in splits:
            out, _ = predict_split("faceformer", cache, split, tmp_path / f"{split}.h5", checkpoint=checkpoint,
                                   device="cpu", progress=False)
            with PredictionReader(out) as reader:
                assert reader.attrs["meta"]["frames"] == "audio"
                for ref in cache.sequences(split):
                    seen = ref.subject in train_subjects
                    conditions = reader.conditions(ref.subject, ref.sentence)
                    assert conditions == ([None] if seen else sorted(train_subjects))
                    with torch.no_grad():
                        hidden = official.audio_memory(cache.audio(ref.subject, ref.sentence))
                    for condition in conditions:
                        index = train_subjects.index(ref.subject if condition is None else condition)
                        with torch.no_grad():
                            expected = official.predict(hidden, cache.template(ref.subject), one_hots[index:index + 1])
                        got = reader.vertices(ref.subject, ref.sentence, condition)
                        assert got.shape == expected.shape  # same frame count as the official test
                        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
                        n_checked += 1
    return n_checked


# dataset: cache fixture, d, training speakers, period, PPE length, official name, splits, predictions checked
OFFICIAL = {
    "vocaset": ("vocaset_cache", 64, VOCASET_TRAIN, 30, 630, "vocaset", ["test"], 2 * 8),  # unseen: 8 conditions
    "biwi": ("biwi_cache", 128, BIWI_TRAIN, 25, 625, "BIWI", ["test_a", "test_b"], 2 * 1 + 1 * 6),  # Test-A: own condition
}


@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted(OFFICIAL))
def test_split_prediction_is_the_official_test(dataset, request, tmp_path):
    from histalk_bench.cache import Cache

    fixture, d, speakers, period, pe_length, official_name, splits, n_expected = OFFICIAL[dataset]
    cache_path = request.getfixturevalue(fixture)
    with Cache(cache_path) as cache:
        n_vertices = cache.n_vertices
    state = official_state(n_vertices, d, len(speakers), period, seed=len(dataset))
    assert state["PPE.pe"].shape == (1, pe_length, d) and state["obj_vector.weight"].shape == (d, len(speakers))
    assert "audio_encoder.encoder.pos_conv_embed.conv.weight_g" in state
    torch.save(state, tmp_path / f"{dataset}.pth")
    n = _check_split_against_official(cache_path, tmp_path / f"{dataset}.pth", state, official_name, splits,
                                      speakers, tmp_path)
    assert n == n_expected


@pytest.mark.slow
def test_ground_truth_length_is_an_explicit_recorded_option(vocaset_cache, tmp_path):
    from histalk_bench.cache import Cache
    from histalk_bench.common.errors import UserError
    from histalk_bench.predict.split import predict_split
    from histalk_bench.predict.store import PredictionReader

    with Cache(vocaset_cache) as cache:
        state = official_state(cache.n_vertices, 64, 8, 30, seed=2)
        torch.save(state, tmp_path / "vocaset.pth")
        counts = {}
        for frames in ("gt", "audio"):
            out, _ = predict_split("faceformer", cache, "test", tmp_path / f"{frames}.h5", checkpoint=tmp_path / "vocaset.pth",
                                   device="cpu", options={"frames": frames}, progress=False)
            with PredictionReader(out) as reader:
                assert reader.attrs["meta"]["frames"] == frames
                counts[frames] = [len(reader.vertices(r.subject, r.sentence, VOCASET_TRAIN[0])) for r in cache.sequences("test")]
        refs = cache.sequences("test")
        assert counts["gt"] == [r.n_frames for r in refs]
        assert counts["audio"] == [int(((len(cache.audio(r.subject, r.sentence)) - 400) // 320 + 1) / 50 * 30) for r in refs]
        assert counts["gt"] != counts["audio"]
        with pytest.raises(UserError, match="--frames"):
            predict_split("faceformer", cache, "test", tmp_path / "x.h5", checkpoint=tmp_path / "vocaset.pth",
                          device="cpu", options={"frames": "video"}, progress=False)
