"""compare --seeds: a stochastic model predicts once per seed (reused only for the same seed),
deterministic models once; the leaderboard adds the mean, spread and diversity over seeds."""

import json

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_run(vocaset_cache, tmp_path_factory):
    from histalk_bench.models.base import model_entry

    out = tmp_path_factory.mktemp("facediffuser") / "run"
    return model_entry("facediffuser").train(vocaset_cache, out, size="demo", latent_dim=16, diffusion_steps=8,
                                             epochs=1, progress=False, device="cpu")


def _mtimes(folder):
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("predictions.h5")}


@pytest.mark.slow
def test_compare_with_seeds(vocaset_cache, tiny_run, tmp_path):
    from click.testing import CliRunner

    from histalk_bench.cache import Cache
    from histalk_bench.cli.main import cli
    from histalk_bench.predict.store import PredictionReader

    out = tmp_path / "cmp"
    args = ["compare", "--models", "static,facediffuser", "--run", f"facediffuser={tiny_run}", "--data", str(vocaset_cache),
            "--split", "test", "--out", str(out)]
    result = CliRunner().invoke(cli, args + ["--seeds", "1,2,3"])
    assert result.exit_code == 0, result.output
    assert sorted(_mtimes(out)) == ["facediffuser/seed-1/predictions.h5", "facediffuser/seed-2/predictions.h5",
                                    "facediffuser/seed-3/predictions.h5", "static/predictions.h5"]
    combined = json.loads((out / "facediffuser" / "scores.json").read_text())
    per_seed = [json.loads((out / "facediffuser" / f"seed-{s}" / "scores.json").read_text()) for s in (1, 2, 3)]
    lves = [s["metrics"]["lve"] for s in per_seed]
    assert combined["seeds"]["seeds"] == [1, 2, 3] and combined["seeds"]["per_seed"]["lve"] == lves
    assert len(set(lves)) == 3  # the seeds give different predictions
    assert combined["metrics"]["lve"] == pytest.approx(np.mean(lves), rel=1e-9)  # LVE pools frames: seed mean
    assert combined["seeds"]["sd"]["lve"] == pytest.approx(np.std(lves, ddof=1), rel=1e-9)
    # diversity: mean over sequences (conditions averaged) of the mean pairwise per-vertex distance
    with Cache(vocaset_cache) as cache:
        refs = cache.sequences("test")
    readers = [PredictionReader(out / "facediffuser" / f"seed-{s}" / "predictions.h5") for s in (1, 2, 3)]
    try:
        assert [r.attrs["meta"]["options"]["seed"] for r in readers] == [1, 2, 3]
        expected = []
        for ref in refs:
            per_condition = []
            for condition in readers[0].conditions(ref.subject, ref.sentence):
                runs = [r.vertices(ref.subject, ref.sentence, condition) for r in readers]
                per_condition.append(np.mean([np.linalg.norm(runs[i] - runs[j], axis=-1).mean()
                                              for i, j in ((0, 1), (0, 2), (1, 2))]))
            expected.append(np.mean(per_condition))
    finally:
        for reader in readers:
            reader.close()
    assert combined["seeds"]["diversity"]["value"] == pytest.approx(np.mean(expected), rel=1e-6)
    assert combined["seeds"]["diversity"]["value"] > 0
    board = (out / "leaderboard.md").read_text()
    assert "## Seeds (stochastic models)" in board and "| facediffuser | 1,2,3 |" in board
    # the same seeds again: everything reused; a new seed: only its predictions are made
    before = _mtimes(out)
    result = CliRunner().invoke(cli, args + ["--seeds", "1,2,4"])
    assert result.exit_code == 0, result.output
    after = _mtimes(out)
    assert {k for k in after if before.get(k) != after[k]} == {"facediffuser/seed-4/predictions.h5"}


def test_seeds_need_a_stochastic_model(vocaset_cache, tmp_path):
    from click.testing import CliRunner

    from histalk_bench.cli.main import cli

    result = CliRunner().invoke(cli, ["compare", "--models", "static", "--seeds", "1,2", "--data", str(vocaset_cache),
                                      "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "--seeds applies to stochastic models" in result.output
    assert not (tmp_path / "x").exists()
    result = CliRunner().invoke(cli, ["compare", "--models", "static", "--seeds", "1,1", "--data", str(vocaset_cache),
                                      "--out", str(tmp_path / "y")])
    assert result.exit_code != 0 and "distinct non-negative integers" in result.output
