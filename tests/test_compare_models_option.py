"""`compare --models`: the command line users are promised, verbatim, and its other forms."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from histalk_bench.cli.main import cli

TINY = {"histalk": ["--features", "mel", "--set", "d_model=16", "--set", "stage_layers=[1,1,1,1]"],
        "faceformer": ["--set", "audio_encoder=tiny", "--set", "teacher_forcing=true", "--set", "d_model=16"]}


def _rows(folder):
    with open(folder / "leaderboard.csv", newline="") as handle:
        return sorted(row["model"] for row in csv.DictReader(handle))


@pytest.fixture(scope="module")
def trained(vocaset_cache, tmp_path_factory):
    """A user's working folder: runs/histalk and runs/faceformer trained there with `train` (1 epoch, tiny)."""
    home = tmp_path_factory.mktemp("user")
    for model, extra in TINY.items():
        result = CliRunner().invoke(cli, ["train", model, "--data", str(vocaset_cache), "--out", str(home / "runs" / model),
                                          "--epochs", "1", "--device", "cpu", "--quiet", *extra])
        assert result.exit_code == 0, result.output
    return home


@pytest.mark.slow
def test_the_promised_command_line_verbatim(trained):
    """`histalk-bench compare --models histalk faceformer`, as a user types it in a folder with runs/."""
    import shutil
    import subprocess
    import sys

    program = shutil.which("histalk-bench", path=str(Path(sys.executable).parent))
    command = [program] if program else [sys.executable, "-m", "histalk_bench.cli.main"]
    result = subprocess.run([*command, "compare", "--models", "histalk", "faceformer"], cwd=trained,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert _rows(trained / "compare_out") == ["faceformer", "histalk"]


@pytest.mark.slow
@pytest.mark.parametrize("argv", [
    ["compare", "--models", "histalk", "faceformer", "--out", "spaced"],
    ["compare", "--models", "histalk,faceformer", "--out", "comma"],
    ["compare", "--models", "histalk", "--models", "faceformer", "--out", "repeated"],
    ["compare", "--models", "histalk", "faceformer,static", "--models", "faceformer", "--out", "mixed"],
])
def test_every_form_of_models_writes_one_row_per_model(trained, argv, monkeypatch):
    """Defaults: runs/NAME and the cache those runs recorded."""
    monkeypatch.chdir(trained)
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    out = trained / argv[argv.index("--out") + 1]
    expected = ["faceformer", "histalk", "static"] if "mixed" in argv else ["faceformer", "histalk"]
    assert _rows(out) == expected


def test_unknown_models_are_one_error_line_listing_the_registered_ones(vocaset_cache, tmp_path):
    result = CliRunner().invoke(cli, ["compare", "--models", "histalk", "histlak", "nope,static", "--data",
                                      str(vocaset_cache), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()[-1:]
    assert line.startswith("error: ") and "'histlak', 'nope'" in line
    from histalk_bench.models import MODELS

    assert f"(registered models: {', '.join(MODELS.names())})" in line and "histalk, mean" in line
    assert not (tmp_path / "o").exists()


def test_a_run_for_a_model_not_compared_is_an_error(vocaset_cache, tmp_path):
    result = CliRunner().invoke(cli, ["compare", "--models", "static", "--run", f"histlak={tmp_path}", "--data",
                                      str(vocaset_cache), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "error: --run histlak=" in result.output and "'histlak' is not one of the compared models (static)" in result.output
    assert not (tmp_path / "o").exists()


def test_without_data_and_without_recorded_runs_data_is_asked_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["compare", "--models", "static", "mean"])
    assert result.exit_code == 2 and "error: --data CACHE.h5 is required" in result.output
