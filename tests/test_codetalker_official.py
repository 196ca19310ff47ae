"""CodeTalker against the official code's inference: ``{'state_dict': ...}`` files with the
official layout (the released key names; stage 2 without ``autoencoder.*`` and with old
wav2vec2 weight_g/weight_v names), scored through split prediction and checked per speaker
condition against ``_official_codetalker.OfficialCodeTalker``, a straightforward restatement of
the official ``predict`` loop (full recompute of the prefix at every frame, one condition at a
time).  The fast tests shrink widths and depths; the slow one keeps the released widths (1024,
codebook 256 x 64 / 128, wav2vec2 width 768) with reduced depths."""

import hashlib

import numpy as np
import pytest
import torch
from _official_codetalker import (
    OfficialCodeTalker,
    official_stage1_state,
    official_stage2_state,
)
from click.testing import CliRunner

from histalk_bench.cache import Cache
from histalk_bench.common.errors import UserError
from histalk_bench.datasets.splits import BIWI_TRAIN, VOCASET_TRAIN
from histalk_bench.predict.split import predict_split
from histalk_bench.predict.store import PredictionReader

torch.set_num_threads(1)

TINY_W2V = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
            "conv_dim": (32,) * 7, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4}
SMALL = {"hidden": 128, "depth": 2, "mlp": 192, "d": 128, "layers": 2, "w2v": TINY_W2V}
RELEASED_WIDTHS = {"hidden": 1024, "depth": 1, "mlp": 1536, "d": 1024, "layers": 1, "w2v": {"num_hidden_layers": 1}}


@pytest.fixture(scope="module")
def biwi_cache(biwi_corpus, tmp_path_factory):
    from histalk_bench.datasets.prepare import prepare_biwi

    path = tmp_path_factory.mktemp("ct_biwi_cache") / "cache.h5"
    prepare_biwi(biwi_corpus, path, aligner="oracle", features="mel", progress=False)
    return path


def write_official(folder, n_vertices: int, biwi: bool, sizes: dict, seed: int = 0):
    """{name}_stage1.pth.tar and {name}_stage2.pth.tar in the official layout; returns paths and states."""
    s1 = official_stage1_state(n_vertices, biwi, hidden=sizes["hidden"], depth=sizes["depth"], mlp=sizes["mlp"], seed=seed)
    frame_width = 8 * s1["quantize.embedding.weight"].shape[1] if biwi else sizes["hidden"]
    s2 = official_stage2_state(n_vertices, biwi, frame_width, d=sizes["d"], layers=sizes["layers"],
                               encoder_config=sizes["w2v"], seed=seed + 1)
    name = "biwi" if biwi else "vocaset"
    stage1, stage2 = folder / f"{name}_stage1.pth.tar", folder / f"{name}_stage2.pth.tar"
    torch.save({"state_dict": s1}, stage1)
    torch.save({"state_dict": s2}, stage2)
    return stage1, stage2, s1, s2


def check_against_official(cache_path, out, s1, s2, biwi, sizes, train_subjects, checked_conditions):
    """Every prediction of ``out`` has the official loop's frame count; those of ``checked_conditions``
    (per sequence) equal it to 1e-4.  Returns the number of predictions compared."""
    official = OfficialCodeTalker(s2, s1, biwi, sizes["w2v"])
    n = 0
    with Cache(cache_path) as cache, PredictionReader(out) as reader:
        for ref in list(reader.keys()):
            subject, sentence = ref
            audio = cache.audio(subject, sentence)
            with torch.no_grad():
                hidden = official.audio_hidden(audio)
            frames = hidden.shape[1] // 2 if biwi else hidden.shape[1]
            for condition in reader.conditions(subject, sentence):
                got = reader.vertices(subject, sentence, condition)
                assert got.shape[0] == frames  # the official frame count, from the audio
                speaker = subject if condition is None else condition
                if condition is not None and condition not in checked_conditions:
                    continue
                with torch.no_grad():
                    expected = official.predict(hidden, cache.template(subject), train_subjects.index(speaker))
                np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
                n += 1
    return n


def test_vocaset_split_prediction_is_the_official_loop(vocaset_cache, tmp_path):
    with Cache(vocaset_cache) as cache:
        stage1, stage2, s1, s2 = write_official(tmp_path, cache.n_vertices, False, SMALL)
        assert not any(k.startswith("autoencoder.") for k in s2)
        assert "audio_encoder.encoder.pos_conv_embed.conv.weight_g" in s2
        out, n = predict_split("codetalker", cache, "test", tmp_path / "pred.h5", checkpoint=stage2, device="cpu",
                               options={"vq_checkpoint": str(stage1)}, progress=False)
        with PredictionReader(out) as reader:
            meta = reader.attrs["meta"]
            assert meta["frames"] == "audio" and meta["tf32"] is False
            assert [w["sha256"] for w in meta["weights"]] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in (stage2, stage1)]
            for subject, sentence in list(reader.keys()):  # unseen test speakers: one prediction per training condition
                assert reader.conditions(subject, sentence) == sorted(VOCASET_TRAIN)
    checked = check_against_official(vocaset_cache, out, s1, s2, False, SMALL, VOCASET_TRAIN, VOCASET_TRAIN[:2])
    assert checked == n * 2


@pytest.mark.parametrize("split,seen_conditions,per_sequence", [("test_a", "own", 1), ("test_b", "own", 6),
                                                                 ("test_a", "all", 6)])
def test_biwi_test_a_and_test_b_are_the_official_loop(biwi_cache, tmp_path, split, seen_conditions, per_sequence):
    with Cache(biwi_cache) as cache:
        stage1, stage2, s1, s2 = write_official(tmp_path, cache.n_vertices, True, SMALL, seed=3)
        out, n = predict_split("codetalker", cache, split, tmp_path / "pred.h5", checkpoint=stage2, device="cpu",
                               options={"vq_checkpoint": str(stage1), "seen_conditions": seen_conditions}, progress=False)
    with PredictionReader(out) as reader:
        assert sum(len(reader.conditions(*key)) for key in list(reader.keys())) == n * per_sequence
        assert reader.attrs["meta"]["seen_conditions"] == seen_conditions
    checked = check_against_official(biwi_cache, out, s1, s2, True, SMALL, BIWI_TRAIN, BIWI_TRAIN[:1])
    assert checked == n


@pytest.mark.parametrize("quirk", ["attention_scale", "position", "gelu"])
def test_a_broken_quirk_breaks_the_match(vocaset_cache, tmp_path, monkeypatch, quirk):
    """Each reproduced quirk matters: 'fixing' it moves the predictions away from the official loop."""
    from histalk_bench.models.codetalker import vqvae

    if quirk == "attention_scale":  # 1/sqrt(head width) instead of 1/sqrt(width)
        original = vqvae.WidthScaledAttention.__init__

        def head_scaled(self, width, heads):
            original(self, width, heads)
            self.scale = (width // heads) ** -0.5
        monkeypatch.setattr(vqvae.WidthScaledAttention, "__init__", head_scaled)
    elif quirk == "position":  # true positions 0..T-1 instead of position 0 at every frame
        monkeypatch.setattr(vqvae.BatchFirstPositionQuirk, "forward",
                            lambda self, x: self.dropout(x + self.pe[: x.shape[1], 0].to(x.dtype)))
    else:  # exact (erf) GELU instead of the tanh approximation, with inputs where they differ most
        monkeypatch.setattr(vqvae, "gelu_tanh", lambda x: torch.nn.functional.gelu(x))
    with Cache(vocaset_cache) as cache:
        stage1, stage2, s1, s2 = write_official(tmp_path, cache.n_vertices, False, SMALL, seed=5)
        if quirk == "gelu":  # larger MLP inputs and outputs: the two GELUs differ by up to ~1e-3 near |x| = 2
            for key in list(s1):
                if key.endswith("fn.l1.weight"):
                    s1[key] = s1[key] * 3
                if key.endswith("fn.l2.weight") or key == "decoder.vertice_map_reverse.weight":
                    s1[key] = s1[key] * 30
            torch.save({"state_dict": s1}, stage1)
        out, _ = predict_split("codetalker", cache, "test", tmp_path / "pred.h5", checkpoint=stage2, device="cpu",
                               options={"vq_checkpoint": str(stage1)}, progress=False)
    with pytest.raises(AssertionError):
        check_against_official(vocaset_cache, out, s1, s2, False, SMALL, VOCASET_TRAIN, VOCASET_TRAIN[:1])


def test_missing_or_misshapen_weights_are_one_line_errors(vocaset_cache, tmp_path):
    from histalk_bench.models.codetalker.checkpoint import load_official

    with Cache(vocaset_cache) as cache:
        stage1, stage2, s1, s2 = write_official(tmp_path, cache.n_vertices, False, SMALL)
    broken = dict(s1)
    del broken["decoder.decoder_transformer.net.1.fn.fn.l2.bias"]
    torch.save({"state_dict": broken}, tmp_path / "no_key.pth.tar")
    with pytest.raises(UserError) as error:
        load_official(stage2, tmp_path / "no_key.pth.tar")
    assert "no_key.pth.tar" in str(error.value) and "l2.bias" in str(error.value) and "\n" not in str(error.value)
    broken = dict(s2)
    broken["vertice_map.bias"] = broken["vertice_map.bias"][:-1]
    torch.save({"state_dict": broken}, tmp_path / "bad_shape.pth.tar")
    with pytest.raises(UserError, match="bad_shape.pth.tar.*misshapen vertice_map.bias"):
        load_official(tmp_path / "bad_shape.pth.tar", stage1)
    with pytest.raises(UserError, match="stage-1 .*--vq-checkpoint"):
        load_official(stage1, stage1)
    with Cache(vocaset_cache) as cache, pytest.raises(UserError, match="--vq-checkpoint"):
        predict_split("codetalker", cache, "test", tmp_path / "x.h5", checkpoint=stage2, device="cpu", progress=False)


def test_predict_command_line_as_documented(vocaset_cache, tmp_path):
    """`histalk-bench predict --model codetalker --checkpoint vocaset_stage2.pth.tar --vq-checkpoint
    vocaset_stage1.pth.tar --data cache.h5 --split test --out pred.h5`; a broken file is one line."""
    from histalk_bench.cli.main import cli

    with Cache(vocaset_cache) as cache:
        stage1, stage2, s1, s2 = write_official(tmp_path, cache.n_vertices, False, SMALL, seed=7)
    runner = CliRunner()
    args = ["predict", "--model", "codetalker", "--checkpoint", str(stage2), "--vq-checkpoint", str(stage1),
            "--data", str(vocaset_cache), "--split", "test", "--device", "cpu", "--threads", "1", "--out", str(tmp_path / "pred.h5")]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert check_against_official(vocaset_cache, tmp_path / "pred.h5", s1, s2, False, SMALL, VOCASET_TRAIN,
                                  VOCASET_TRAIN[-1:]) == 2
    torch.save({"state_dict": {k: v for k, v in s1.items() if k != "quantize.embedding.weight"}}, tmp_path / "cut.pth.tar")
    result = runner.invoke(cli, [*args[:6], str(tmp_path / "cut.pth.tar"), *args[7:-1], str(tmp_path / "pred2.h5")])
    assert result.exit_code != 0 and "cut.pth.tar" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "pred2.h5").exists()


@pytest.mark.slow
@pytest.mark.parametrize("biwi", [False, True])
def test_released_widths_match_the_official_loop(vocaset_cache, biwi_cache, tmp_path, biwi):
    """Released widths (VQ 1024 with codebook 256 x 64 / 128, stage 2 width 1024, wav2vec2 width
    768), one block / layer each: one condition of the first sequence."""
    cache_path = biwi_cache if biwi else vocaset_cache
    train = BIWI_TRAIN if biwi else VOCASET_TRAIN
    with Cache(cache_path) as cache:
        stage1, stage2, s1, s2 = write_official(tmp_path, cache.n_vertices, biwi, RELEASED_WIDTHS, seed=11)
        assert s1["quantize.embedding.weight"].shape == ((256, 128) if biwi else (256, 64))
        assert s2["feat_map.weight"].shape == (1024, 1024) and s2["learnable_style_emb.weight"].shape == (len(train), 1024)
        from histalk_bench.models.codetalker.api import load_predictor

        predictor = load_predictor(cache, checkpoint=stage2, vq_checkpoint=str(stage1), device="cpu")
        assert (predictor.model.vq_config.codes_per_frame, predictor.model.config.period) == ((8, 25) if biwi else (16, 30))
        ref = cache.sequences("test_a" if biwi else "test")[0]
        audio, template = cache.audio(ref.subject, ref.sentence), cache.template(ref.subject)
        got = template[None] + predictor.motion(audio, None, [1])[0]
    official = OfficialCodeTalker(s2, s1, biwi, RELEASED_WIDTHS["w2v"])
    with torch.no_grad():
        expected = official.predict(official.audio_hidden(audio), template, 1)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


@pytest.mark.slow
def test_compare_puts_codetalker_beside_faceformer_from_official_files(vocaset_cache, tmp_path):
    """`compare --models static,faceformer,codetalker --checkpoint faceformer=vocaset.pth
    --checkpoint codetalker=vocaset_stage2.pth.tar,vocaset_stage1.pth.tar`: one leaderboard,
    and the CodeTalker predictions record both files' sha256."""
    from test_faceformer_official import official_state

    from histalk_bench.cli.main import cli

    with Cache(vocaset_cache) as cache:
        stage1, stage2, _, _ = write_official(tmp_path, cache.n_vertices, False, SMALL, seed=13)
        torch.save(official_state(cache.n_vertices, 64, 8, 30, seed=1), tmp_path / "vocaset.pth")
    out = tmp_path / "compare"
    result = CliRunner().invoke(cli, ["compare", "--models", "static,faceformer,codetalker", "--data", str(vocaset_cache),
                                      "--out", str(out), "--threads", "1", "--no-report", "--checkpoint", f"faceformer={tmp_path / 'vocaset.pth'}",
                                      "--checkpoint", f"codetalker={stage2},{stage1}"])
    assert result.exit_code == 0, result.output
    board = (out / "leaderboard.csv").read_text()
    assert all(name in board for name in ("static", "faceformer", "codetalker"))
    with PredictionReader(out / "codetalker" / "predictions.h5") as reader:
        digests = [w["sha256"] for w in reader.attrs["meta"]["weights"]]
    assert digests == [hashlib.sha256(p.read_bytes()).hexdigest() for p in (stage2, stage1)]


def test_new_audio_is_the_official_predict(vocaset_cache, tmp_path):
    """`animate`/`predict --audio`: load_audio_predictor, conditions named as the official subjects."""
    from histalk_bench.models import MODELS

    with Cache(vocaset_cache) as cache:
        stage1, stage2, s1, s2 = write_official(tmp_path, cache.n_vertices, False, SMALL, seed=17)
        ref = cache.sequences("test")[0]
        audio, template = cache.audio(ref.subject, ref.sentence)[:16000], cache.template(ref.subject)
    predictor = MODELS.get("codetalker").load_audio_predictor(checkpoint=stage2, vq_checkpoint=str(stage1), device="cpu")
    predictor.progress = False
    assert predictor.config.speakers == tuple(VOCASET_TRAIN)
    got = predictor.predict_audio(audio, template, VOCASET_TRAIN[2])
    official = OfficialCodeTalker(s2, s1, False, SMALL["w2v"])
    with torch.no_grad():
        expected = official.predict(official.audio_hidden(audio), template, 2)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    with pytest.raises(UserError, match="--vq-checkpoint"):
        MODELS.get("codetalker").load_audio_predictor(checkpoint=stage2, device="cpu")
