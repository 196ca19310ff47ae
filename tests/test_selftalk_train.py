"""`train selftalk`: the paper's four loss terms, the frozen recogniser (from a released file or
the demo's tiny one), refusals of what cannot run here, and predicting from the run."""

import json

import numpy as np
import pytest
import torch
from _official_selftalk import REDUCED_XLSR, official_state

torch.set_num_threads(1)

DEMO = {"audio_encoder": "tiny", "d_model": 32, "lip_layers": 1, "lip_heads": 2, "lip_ffn": 32, "progress": False}


def test_greedy_ctc_targets_merge_repeats_drop_blanks_and_edge_delimiters():
    from histalk_bench.models.selftalk.train import greedy_ctc_targets

    frames = [0, 4, 7, 7, 0, 7, 4, 0, 4, 9, 9, 4, 0]  # blank 0, word delimiter 4
    logits = torch.nn.functional.one_hot(torch.tensor(frames), 12).float()
    assert greedy_ctc_targets(logits, blank=0, delimiter=4).tolist() == [7, 7, 4, 9]
    assert greedy_ctc_targets(torch.nn.functional.one_hot(torch.zeros(5, dtype=torch.long), 12).float()).tolist() == []
    for frames, expected in (([7, 4, 0, 4], [7]), ([4, 0, 4, 7, 4, 0, 4, 8], [7, 4, 8]), ([4], [])):
        logits = torch.nn.functional.one_hot(torch.tensor(frames), 12).float()
        assert greedy_ctc_targets(logits, blank=0, delimiter=4).tolist() == expected


def _tiny_model(text_encoder="tiny"):
    from histalk_bench.models.selftalk.model import TINY_ENCODER, SelfTalkConfig
    from histalk_bench.models.selftalk.train import (
        LipReadingConfig,
        SelfTalkTraining,
        build_text_encoder,
    )

    torch.manual_seed(0)
    config = SelfTalkConfig(n_vertices=40, d_model=32, dim_feedforward=64, encoder_config=dict(TINY_ENCODER))
    lip = LipReadingConfig(text_encoder=text_encoder, lip_entries=6, layers=1, heads=2, ffn=32)
    recogniser = None if text_encoder == "none" else build_text_encoder(text_encoder, None)
    return SelfTalkTraining(config, lip, np.arange(6), text_encoder=recogniser)


def test_the_loss_is_the_papers_weighted_sum_and_the_recogniser_stays_frozen():
    from histalk_bench.models.selftalk.train import SelfTalkTask

    model = _tiny_model().train()
    audio, motion = torch.randn(1, 16000), torch.randn(1, 30, 120) * 0.01
    batch = {"audio": audio, "motion": motion}
    torch.manual_seed(1)
    total, logs = SelfTalkTask(model, {}, None).loss(model, batch)
    assert set(logs) == {"vertex", "velocity", "lip_feature", "ctc"}
    expected = 1000 * logs["vertex"] + 1000 * logs["velocity"] + 0.001 * logs["lip_feature"] + 0.0001 * logs["ctc"]
    assert float(total.detach()) == pytest.approx(expected, rel=1e-5)
    with torch.no_grad():
        predicted = model.decode(model.encode_audio(audio, 30))
    assert logs["vertex"] == pytest.approx(float(((predicted - motion) ** 2).mean()), rel=1e-5)
    total.backward()
    assert all(p.grad is None for p in model.text_encoder.parameters())
    assert all(p.grad is None for p in model.audio_encoder.feature_extractor.parameters())  # CNN frozen
    assert model.lip_map.weight.grad is not None and model.lm_head.weight.grad.abs().sum() > 0
    # without the branch: only the vertex and velocity terms
    plain = _tiny_model("none").train()
    _, logs = SelfTalkTask(plain, {}, None).loss(plain, batch)
    assert set(logs) == {"vertex", "velocity"}


def test_the_recogniser_comes_from_a_released_file(tmp_path):
    from histalk_bench.models.selftalk.train import build_text_encoder

    encoder = {**REDUCED_XLSR, "hidden_size": 64, "intermediate_size": 128, "conv_dim": (64,) * 7,
               "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4, "num_attention_heads": 1}
    state = official_state("vocaset", 20, seed=4, encoder=encoder)
    torch.save(state, tmp_path / "vocaset.pth")
    recogniser = build_text_encoder(str(tmp_path / "vocaset.pth"), None)
    assert torch.equal(recogniser.lm_head.weight, state["text_encoder.lm_head.weight"])
    assert torch.equal(recogniser.wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original0,
                       state["text_encoder.wav2vec2.encoder.pos_conv_embed.conv.weight_g"])
    assert not any(p.requires_grad for p in recogniser.parameters())


def test_what_cannot_run_here_is_refused_in_one_line(vocaset_cache, tmp_path):
    from histalk_bench.common.errors import UserError
    from histalk_bench.models.selftalk.train import train

    with pytest.raises(UserError) as info:
        train(vocaset_cache, tmp_path / "run", progress=False)  # the paper's: pretrained xlsr, not here
    text = str(info.value)
    assert "hf download jonatasgrosman/wav2vec2-large-xlsr-53-english" in text and "\n" not in text
    assert "--set audio_encoder=tiny --set text_encoder=tiny" in text
    with pytest.raises(UserError, match="text_encoder must be"):
        train(vocaset_cache, tmp_path / "run", audio_encoder="tiny", text_encoder="nowhere", progress=False)
    with pytest.raises(UserError, match="batch size 1"):
        train(vocaset_cache, tmp_path / "run", batch_size=4, **DEMO)
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def biwi_cache(biwi_corpus, tmp_path_factory):
    from histalk_bench.datasets.prepare import prepare_biwi

    path = tmp_path_factory.mktemp("biwi_cache") / "cache.h5"
    prepare_biwi(biwi_corpus, path, aligner="oracle", features="mel", progress=False)
    return path


def test_biwi_demo_training_pairs_features_and_cuts_the_recogniser_to_the_frames(biwi_cache, tmp_path):
    from histalk_bench.models.selftalk.checkpoint import load_model
    from histalk_bench.models.selftalk.train import train

    run = train(biwi_cache, tmp_path / "run", epochs=1, **DEMO)
    record = json.loads((run / "history.jsonl").read_text().splitlines()[0])
    assert np.isfinite(record["train_ctc"]) and record["train_lip_feature"] > 0
    model = load_model(run / "last.pt")
    assert model.config.dataset == "biwi" and model.audio_feature_map.in_features == 2 * 32


def test_demo_training_writes_an_official_layout_run_that_predicts(vocaset_cache, tmp_path):
    from histalk_bench.cache import Cache
    from histalk_bench.models.selftalk.api import SelfTalkEntry
    from histalk_bench.models.selftalk.train import train
    from histalk_bench.predict.split import predict_split
    from histalk_bench.predict.store import PredictionReader

    run = train(vocaset_cache, tmp_path / "run", epochs=1, **DEMO)
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    record = history[0]
    assert all(np.isfinite(record[f"train_{k}"]) and record[f"train_{k}"] > 0 for k in ("vertex", "velocity", "lip_feature", "ctc"))
    assert "val_lve" in record
    saved = torch.load(run / "last.pt", weights_only=True)
    assert {k.split(".")[0] for k in saved["model"]} == {"audio_encoder", "audio_feature_map", "transformer_decoder",
                                                          "vertice_map_r", "text_encoder", "lip_map", "transformer", "lm_head"}
    entry = SelfTalkEntry()
    assert entry.weights_path(run_dir=run) == run / "last.pt"  # the official test uses the last epoch
    with Cache(vocaset_cache) as cache:
        out, _ = predict_split("selftalk", cache, "test", tmp_path / "pred.h5", run_dir=run, device="cpu", progress=False)
        with PredictionReader(out) as reader:
            assert reader.attrs["meta"]["ignored_training_weights"]["text_encoder.*"] > 0
            for ref in cache.sequences("test"):
                frames = int(((len(cache.audio(ref.subject, ref.sentence)) - 400) // 320 + 1) / 50 * 30)
                assert reader.vertices(ref.subject, ref.sentence, None).shape == (frames, cache.n_vertices, 3)


@pytest.mark.slow
def test_the_papers_path_takes_encoder_and_recogniser_from_one_pretrained_folder(vocaset_cache, tmp_path):
    """audio_encoder=xlsr with --wav2vec2-model DIR (here a tiny Wav2Vec2ForCTC saved with
    save_pretrained, in place of jonatasgrosman/wav2vec2-large-xlsr-53-english)."""
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

    from histalk_bench.models.selftalk.model import TINY_ENCODER
    from histalk_bench.models.selftalk.train import train

    torch.manual_seed(3)
    Wav2Vec2ForCTC(Wav2Vec2Config(**TINY_ENCODER, vocab_size=33)).save_pretrained(tmp_path / "xlsr")
    (tmp_path / "xlsr" / "vocab.json").write_text(json.dumps({"<pad>": 0, "a": 1, "|": 9}))
    pretrained = Wav2Vec2ForCTC.from_pretrained(tmp_path / "xlsr")
    run = train(vocaset_cache, tmp_path / "run", epochs=1, wav2vec2_model=str(tmp_path / "xlsr"),
                **{**DEMO, "audio_encoder": "xlsr"})
    config = json.loads((run / "config.json").read_text())["task"]
    assert config["audio_encoder"].startswith("xlsr (weights ") and config["text_encoder_source"] == "same"
    assert config["lip_reading"]["word_delimiter_id"] == 9  # from the folder's vocab.json
    saved = torch.load(run / "last.pt", weights_only=True)["model"]
    assert torch.equal(saved["text_encoder.lm_head.weight"], pretrained.lm_head.weight)  # frozen recogniser
    assert torch.equal(saved["audio_encoder.feature_extractor.conv_layers.0.conv.weight"],  # frozen CNN
                       pretrained.wav2vec2.feature_extractor.conv_layers[0].conv.weight)
    assert not torch.equal(saved["audio_encoder.encoder.layers.0.attention.q_proj.weight"],  # fine-tuned
                           pretrained.wav2vec2.encoder.layers[0].attention.q_proj.weight)
