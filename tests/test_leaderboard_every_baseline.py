"""One command, one leaderboard: HiSTalk (a trained run) beside FaceFormer, CodeTalker, SelfTalk and
FaceDiffuser (official-layout checkpoints, FaceDiffuser over three seeds), as a researcher runs the
benchmark.  Sizes are reduced only where the layout allows (encoder depth/width, diffusion steps)."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from _official_selftalk import official_state as selftalk_state
from click.testing import CliRunner
from test_codetalker_official import SMALL, write_official
from test_facediffuser_official import official_parts
from test_faceformer_official import official_state as faceformer_state
from test_selftalk_official import SMALL_XLSR

from histalk_bench.cache import Cache
from histalk_bench.cli.main import cli
from histalk_bench.datasets.splits import VOCASET_TRAIN

MODELS = ("histalk", "faceformer", "codetalker", "selftalk", "facediffuser")


@pytest.mark.slow
def test_every_baseline_in_one_leaderboard_from_one_command(vocaset_cache, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "histalk", "--data", str(vocaset_cache), "--out", str(tmp_path / "histalk"),
                                 "--epochs", "1", "--device", "cpu", "--quiet", "--features", "mel",
                                 "--set", "d_model=16", "--set", "stage_layers=[1,1,1,1]"])
    assert result.exit_code == 0, result.output
    with Cache(vocaset_cache) as cache:
        n_vertices = cache.n_vertices
    stage1, stage2, _, _ = write_official(tmp_path, n_vertices, False, SMALL, seed=3)
    torch.save(faceformer_state(n_vertices, 64, len(VOCASET_TRAIN), 30, seed=1), tmp_path / "faceformer.pth")
    torch.save(selftalk_state("vocaset", n_vertices, seed=2, encoder=SMALL_XLSR), tmp_path / "selftalk.pth")
    torch.save(official_parts(n_vertices, 16, 4, len(VOCASET_TRAIN), 30, seed=4)[0], tmp_path / "facediffuser.pth")

    out = tmp_path / "cmp"
    result = runner.invoke(cli, ["compare", "--models", *MODELS, "--data", str(vocaset_cache), "--out", str(out),
                                 "--run", f"histalk={tmp_path / 'histalk'}",
                                 "--checkpoint", f"faceformer={tmp_path / 'faceformer.pth'}",
                                 "--checkpoint", f"codetalker={stage2},{stage1}",
                                 "--checkpoint", f"selftalk={tmp_path / 'selftalk.pth'}",
                                 "--checkpoint", f"facediffuser={tmp_path / 'facediffuser.pth'}",
                                 "--seeds", "1,2,3", "--no-report", "--threads", "1"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    with open(out / "leaderboard.csv", newline="") as handle:
        rows = {row["model"]: row for row in csv.DictReader(handle)}
    assert sorted(rows) == sorted(MODELS)
    assert all(float(row["lve"]) > 0 for row in rows.values())
    board = (out / "leaderboard.md").read_text()
    assert all(f"| {name}" in board for name in MODELS)
    assert "Seeds" in board  # FaceDiffuser's spread over the three seeds beside the other models
    seeds = sorted(p.name for p in (out / "facediffuser").iterdir() if p.name.startswith("seed-"))
    assert seeds == ["seed-1", "seed-2", "seed-3"]
    combined = json.loads((out / "facediffuser" / "scores.json").read_text())
    assert combined["seeds"]["seeds"] == [1, 2, 3]
