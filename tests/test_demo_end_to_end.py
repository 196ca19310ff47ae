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
    # the demo's run is made as `train` makes one: locked, provenance recorded, its cache recorded
    run = tmp_path / "demo" / "runs" / "histalk"
    import json

    training = json.loads((run / "provenance.json").read_text())["training"]
    assert training["model"] == "histalk" and training["options"]["epochs"] == 3
    assert json.loads((run / "cache.json").read_text())["cache"] == str((tmp_path / "demo" / "cache.h5").resolve())
    assert "[compare] report:" in result.stderr
    _check_report_in_browser(tmp_path / "demo" / "report.html", {"histalk", "static", "mean"}, tmp_path)


def _check_report_in_browser(page, models, tmp_path):
    """The demo's report.html in headless Chromium (network off): every model's row, clips that play
    in step.  Without Chromium this part is skipped outside CI (and fails under CI)."""
    from _browser import CHROMIUM, assert_in_step, browser, play_first_sequence, table_models

    assert page.exists()
    if not CHROMIUM.exists():
        import os

        if not os.environ.get("CI"):
            return
    with browser(tmp_path / "profile") as driver:
        driver.get(page.as_uri())
        assert set(table_models(driver, "leaderboard-table")) == models
        assert set(table_models(driver, "phonetic-table")) == models
        assert_in_step(play_first_sequence(driver))
        driver.save_screenshot(str(tmp_path / "demo_report.png"))
