"""``train codetalker``: the two stages through the shared loop (demo configuration on the
synthetic VOCASET cache), resumable, a run predicts through the same split machinery, and
options that would be ignored are refused."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from histalk_bench.cache import Cache
from histalk_bench.common.errors import UserError
from histalk_bench.predict.split import predict_split
from histalk_bench.predict.store import PredictionReader

torch.set_num_threads(1)


@pytest.mark.slow
def test_two_stages_resume_and_predict(vocaset_cache, tmp_path):
    from histalk_bench.cli.main import cli

    run = tmp_path / "run"
    args = ["train", "codetalker", "--data", str(vocaset_cache), "--out", str(run), "--device", "cpu", "--threads", "1",
            "--quiet", "--set", "demo=true", "--set", "stage1_epochs=1", "--set", "stage2_epochs=1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    stage1 = json.loads((run / "stage1" / "config.json").read_text())["task"]
    stage2 = json.loads((run / "config.json").read_text())["task"]
    assert stage1["stage"] == 1 and stage2["stage"] == 2 and stage2["vq_source"] == "stage1/best.pt"
    assert "demo" in stage2["configuration"] and stage2["speech"]["audio_encoder"] == "tiny"
    frozen = torch.load(run / "stage1" / "best.pt", weights_only=True)["model"]
    whole = torch.load(run / "best.pt", weights_only=True)["model"]
    for key, value in frozen.items():  # stage 1 stayed frozen through stage 2
        assert torch.equal(whole["autoencoder." + key], value), key
    # resume: stage 1 is finished and not retrained, stage 2 continues for one more epoch
    result = CliRunner().invoke(cli, [*args[:-2], "--set", "stage2_epochs=2", "--resume"])
    assert result.exit_code == 0, result.output
    assert len((run / "stage1" / "history.jsonl").read_text().splitlines()) == 1
    assert len((run / "history.jsonl").read_text().splitlines()) == 2
    with Cache(vocaset_cache) as cache:
        out, _ = predict_split("codetalker", cache, "test", tmp_path / "pred.h5", run_dir=run, device="cpu", progress=False)
        with PredictionReader(out) as reader:
            for subject, sentence in list(reader.keys()):
                assert reader.conditions(subject, sentence) == sorted(stage2["speech"]["speakers"])
                assert np.isfinite(reader.vertices(subject, sentence, stage2["speech"]["speakers"][0])).all()


def test_ignored_options_are_refused(vocaset_cache, tmp_path):
    from histalk_bench.models.codetalker.training import train

    with pytest.raises(UserError, match="unknown codetalker option"):
        train(vocaset_cache, tmp_path / "a", demo=True, wings=3)
    with pytest.raises(UserError, match="batch size 1"):
        train(vocaset_cache, tmp_path / "b", demo=True, batch_size=4)
    with pytest.raises(UserError, match="--features"):
        train(vocaset_cache, tmp_path / "c", features="mel")
    with pytest.raises(UserError, match="codes_per_frame x code_dim"):
        train(vocaset_cache, tmp_path / "d", demo=True, code_dim=7)


def test_missing_wav2vec2_weights_stop_before_stage_1(vocaset_cache, tmp_path, monkeypatch):
    from histalk_bench.models.codetalker.training import train

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_hf_home"))
    with pytest.raises(UserError, match="audio_encoder=tiny"):
        train(vocaset_cache, tmp_path / "run", wav2vec2_model=str(tmp_path / "nowhere" / "wav2vec2-base-960h"))
    assert not (tmp_path / "run" / "stage1").exists()


@pytest.mark.slow
def test_stage_two_on_a_given_vq_vae_and_run_files_as_checkpoints(vocaset_cache, tmp_path):
    """vq_checkpoint= trains stage 2 only, on an earlier run's RUN/stage1/best.pt (head count from
    its config); RUN/best.pt given as --checkpoint predicts like --run."""
    from histalk_bench.models.codetalker.training import train

    first = train(vocaset_cache, tmp_path / "first", demo=True, stage1_epochs=1, stage2_epochs=1, progress=False)
    second = train(vocaset_cache, tmp_path / "second", demo=True, stage2_epochs=1, progress=False,
                   vq_checkpoint=str(first / "stage1" / "best.pt"))
    assert not (second / "stage1").exists()
    config = json.loads((second / "config.json").read_text())["task"]
    assert config["vq_source"].endswith("stage1/best.pt") and config["vq"]["heads"] == 4
    with Cache(vocaset_cache) as cache:
        by_run, _ = predict_split("codetalker", cache, "test", tmp_path / "a.h5", run_dir=second, device="cpu", progress=False)
        by_file, _ = predict_split("codetalker", cache, "test", tmp_path / "b.h5", checkpoint=second / "best.pt",
                                   device="cpu", progress=False)
        ref = cache.sequences("test")[0]
    with PredictionReader(by_run) as a, PredictionReader(by_file) as b:
        speaker = config["speech"]["speakers"][0]
        np.testing.assert_array_equal(a.vertices(ref.subject, ref.sentence, speaker), b.vertices(ref.subject, ref.sentence, speaker))
    with Cache(vocaset_cache) as cache, pytest.raises(UserError, match="drop --vq-checkpoint"):
        predict_split("codetalker", cache, "test", tmp_path / "c.h5", checkpoint=second / "best.pt", device="cpu",
                      options={"vq_checkpoint": str(first / "stage1" / "best.pt")}, progress=False)
