"""evaluate (HDF5 and npy folders), its errors, baselines, compare and leaderboard."""

import json
import subprocess
import sys

import numpy as np
import pytest

from histalk_bench.cache import Cache
from histalk_bench.errors import UserError
from histalk_bench.evaluate import evaluate
from histalk_bench.evaluate_compare import run_compare


def _write_npy_folder(cache_path, folder, conditions=None, drop=0, transform=lambda x: x, flat=True):
    folder.mkdir(parents=True, exist_ok=True)
    with Cache(cache_path) as cache:
        refs = cache.sequences("test")
        for ref in refs[drop:]:
            vertices = transform(cache.vertices(ref.subject, ref.sentence))
            array = vertices.reshape(len(vertices), -1) if flat else vertices
            for condition in conditions or [None]:
                suffix = f"_condition_{condition}" if condition else ""
                np.save(folder / f"{ref.subject}_{ref.sentence}{suffix}.npy", array)
    return refs


def test_perfect_npy_predictions_score_zero(vocaset_cache, tmp_path):
    refs = _write_npy_folder(vocaset_cache, tmp_path / "npy")
    scores = evaluate(tmp_path / "npy", vocaset_cache, "test", out=tmp_path / "scores.json")
    assert scores["n_sequences"] == len(refs)
    assert scores["metrics"]["lve"] == 0 and scores["metrics"]["mve"] == 0 and scores["metrics"]["lrp"] == 100
    saved = json.loads((tmp_path / "scores.json").read_text())
    assert set(saved["metrics"]) == {"lve", "fdd", "mve", "lrp"}
    assert saved["regions"]["lip"]["sha256"] and saved["metric_versions"]["lrp"] == "0.1-geometric"
    assert saved["display_scale"]["lve"] == 1e5 and len(saved["per_sequence"]) == len(refs)


def test_condition_files_and_3d_arrays(vocaset_cache, tmp_path):
    _write_npy_folder(vocaset_cache, tmp_path / "npy", conditions=["FaceTalk_170725_00137_TA", "FaceTalk_170728_03272_TA"],
                      transform=lambda v: v + 0.001, flat=False)
    scores = evaluate(tmp_path / "npy", vocaset_cache, "test")
    assert scores["metrics"]["lve"] == pytest.approx(3e-6, rel=1e-4)
    assert all(row["n_conditions"] == 2 for row in scores["per_sequence"])


@pytest.mark.parametrize("case,message", [
    ("missing", "have no prediction"),
    ("vertices", "wrong vertex count"),
    ("nan", "NaN"),
])
def test_bad_predictions_are_one_line_errors(vocaset_cache, tmp_path, case, message):
    folder = tmp_path / "npy"
    if case == "missing":
        _write_npy_folder(vocaset_cache, folder, drop=1)
    elif case == "vertices":
        _write_npy_folder(vocaset_cache, folder, transform=lambda v: v[:, :-1], flat=False)
    else:
        _write_npy_folder(vocaset_cache, folder, transform=lambda v: np.where(np.arange(len(v))[:, None, None] == 1, np.nan, v))
    result = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "evaluate", "--pred", str(folder), "--data",
                             str(vocaset_cache), "--split", "test"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    if case == "missing":
        scores = evaluate(folder, vocaset_cache, "test", allow_missing=True)
        assert len(scores["missing_sequences"]) == 1


def test_cache_without_regions_explains_what_to_get(vocaset_cache, tmp_path):
    from histalk_bench.cache import CacheWriter

    with Cache(vocaset_cache) as cache:
        ref = cache.sequences("test")[0]
        seq = cache.read(ref.subject, ref.sentence)
        path = tmp_path / "noregions.h5"
        writer = CacheWriter(path, dataset="vocaset", fps=30, n_vertices=cache.n_vertices)
        writer.set_templates({ref.subject: cache.template(ref.subject)})
        writer.write_sequence(seq)
        writer.finalize()
    _write_npy_folder(path, tmp_path / "npy")
    with pytest.raises(UserError, match="FLAME_masks.pkl"):
        evaluate(tmp_path / "npy", path, "test")


def test_compare_baselines_and_rebuild_leaderboard(vocaset_cache, tmp_path):
    csv_path = run_compare(["static", "mean"], vocaset_cache, "test", tmp_path / "cmp")
    import pandas as pd

    table = pd.read_csv(csv_path)
    assert list(table["model"]) == ["mean", "static"]  # mean is closer to the data than the template
    assert {"lve_ci_low", "lve_ci_high", "n_sequences", "dataset", "split"} <= set(table.columns)
    markdown = (tmp_path / "cmp" / "leaderboard.md").read_text()
    assert "↓" in markdown and "±" in markdown and "Paired bootstrap" in markdown
    for plot in ("metrics.png", "lve_per_subject.png", "lip_opening.png"):
        assert (tmp_path / "cmp" / "plots" / plot).stat().st_size > 10_000
    (tmp_path / "cmp" / "leaderboard.csv").unlink()
    result = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "leaderboard", str(tmp_path / "cmp")],
                            capture_output=True, text=True)
    assert result.returncode == 0 and (tmp_path / "cmp" / "leaderboard.csv").exists()


def test_compare_cli_takes_several_models_and_reuses_predictions(vocaset_cache, tmp_path):
    args = [sys.executable, "-m", "histalk_bench.cli.main", "compare", "--models", "static", "mean", "--data",
            str(vocaset_cache), "--split", "test", "--out", str(tmp_path / "cmp")]
    first = subprocess.run(args, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(args, capture_output=True, text=True)
    assert "reusing" in second.stderr
    wrong = subprocess.run(args[:5] + ["statc"] + args[6:], capture_output=True, text=True)
    assert wrong.returncode == 2 and "did you mean 'static'" in wrong.stderr
