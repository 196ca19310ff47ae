"""The ablation runner: variants parsed, runs trained per seed and reused, tables written."""

import csv
import json

import numpy as np
import pytest

from histalk_bench.common.errors import UserError
from histalk_bench.evaluate.ablation import paired_difference, parse_variants


def test_variants_parse_to_options():
    variants = parse_variants("levels=frame+word,use_se_gate=false,units=statistical;cmg_basis=4")
    assert [v.label for v in variants][0] == "default" and variants[0].options == {}
    assert variants[1].options == {"levels": ["frame", "word"]}
    assert variants[2].options == {"use_se_gate": False}
    assert variants[3].options == {"units": "statistical", "cmg_basis": 4}
    with pytest.raises(UserError, match="KEY=VALUE"):
        parse_variants("default,nonsense")


def test_paired_difference_interval_contains_a_known_shift():
    rng = np.random.default_rng(0)
    n = 40
    base = {"frames": np.full(n, 10.0), "lve_sum": rng.uniform(1, 2, n) * 10, "fdd": rng.normal(size=n),
            "mve_sum": np.ones(n), "n_vertices": np.ones(n), "lrp_hits": np.zeros(n)}
    shifted = {**base, "lve_sum": base["lve_sum"] + 10 * 0.5 + rng.normal(scale=0.1, size=n)}
    as_scores = [{"statistics": {k: v.tolist() for k, v in s.items()}} for s in (shifted, base)]
    result = paired_difference([as_scores[0]], [as_scores[1]], "lve")
    assert result["low"] < 0.5 < result["high"] and result["low"] > 0.4
    same = paired_difference([as_scores[1]], [as_scores[1]], "lve")
    assert same["difference"] == same["low"] == same["high"] == 0.0


@pytest.mark.slow
def test_ablate_cli_trains_scores_and_reuses_runs(vocaset_cache, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "abl"
    command = [sys.executable, "-m", "histalk_bench.cli.main", "ablate", "--data", str(vocaset_cache), "--out", str(out),
               "--variants", "default,use_se_gate=false", "--seeds", "2", "--epochs", "1", "--features", "mel",
               "--set", "d_model=16", "--set", "stage_layers=[1,1,1,1]", "--set", "max_frames=20"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = list(csv.DictReader(open(out / "ablation.csv")))
    assert [r["variant"] for r in rows] == ["default", "use_se_gate=false"]
    assert rows[0]["seeds"] == "2" and "d_lve_low" in rows[1] and rows[1]["d_lve_low"] != ""
    assert float(rows[1]["d_lve_low"]) <= float(rows[1]["d_lve"]) <= float(rows[1]["d_lve_high"])
    markdown = (out / "ablation.md").read_text()  # a row per metric (spec title, scale, direction), a column per variant
    assert "| LVE (x1e-5) ↓ |" in markdown and "| MVE (x1e-3) ↓ |" in markdown and "; Δ " in markdown
    assert (out / "ablation.png").stat().st_size > 0
    config = json.loads((out / "runs" / "use_se_gate_false" / "seed1" / "config.json").read_text())
    assert config["task"]["histalk"]["use_se_gate"] is False and config["train"]["seed"] == 1
    assert (out / "runs" / "use_se_gate_false" / "seed1" / "provenance.json").exists()
    stamp = (out / "runs" / "default" / "seed0" / "best.pt").stat().st_mtime_ns
    result = subprocess.run(command, capture_output=True, text=True)  # everything finished: reused, not retrained
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "runs" / "default" / "seed0" / "best.pt").stat().st_mtime_ns == stamp
