"""The README's main command, small: synth -> prepare -> train HiSTalk -> compare."""

import subprocess
import sys

import pandas as pd
import pytest


@pytest.mark.slow
def test_demo_writes_the_leaderboard(tmp_path):
    result = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "demo", "--out", str(tmp_path / "demo"),
                             "--subjects", "4", "--sentences", "4", "--epochs", "3"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    table = pd.read_csv(tmp_path / "demo" / "leaderboard.csv")
    assert set(table["model"]) == {"histalk", "static", "mean"}
    assert (table["split"] == "test").all() and (table["n_sequences"] > 0).all()
    assert (tmp_path / "demo" / "leaderboard.md").read_text().startswith("# Leaderboard: vocaset / test")
    assert sorted(p.name for p in (tmp_path / "demo" / "plots").glob("*.png")) == [
        "lip_opening.png", "lipsync_offset_ms_per_sequence.png", "lve_by_part.png", "lve_per_subject.png", "metrics.png"]
    assert "## Phonetic metrics" in (tmp_path / "demo" / "leaderboard.md").read_text()
    assert "demo finished" in result.stdout
