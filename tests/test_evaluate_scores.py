"""evaluate: HDF5 and npy-folder predictions, scores.json contents, one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
from _evaluate_helpers import build_cache

from histalk_bench.cache import Cache
from histalk_bench.common.errors import UserError
from histalk_bench.evaluate.scores import evaluate
from histalk_bench.metrics.accumulate import MetricAccumulator
from histalk_bench.metrics.mouth import mouth_points
from histalk_bench.predict.store import PredictionWriter


@pytest.fixture(scope="module")
def cache_path(tmp_path_factory):
    return build_cache(tmp_path_factory.mktemp("eval") / "cache.h5")


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


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "evaluate", *map(str, args)],
                          capture_output=True, text=True)


def test_perfect_npy_predictions_score_zero_and_scores_json_is_complete(cache_path, tmp_path):
    refs = _write_npy_folder(cache_path, tmp_path / "npy")
    np.save(tmp_path / "npy" / "unrelated_file.npy", np.zeros(3))
    scores = evaluate(tmp_path / "npy", cache_path, "test", out=tmp_path / "scores.json")
    assert scores["n_sequences"] == len(refs) == 6
    core = {k: scores["metrics"][k] for k in ("lve", "fdd", "mve", "lrp")}
    assert core == {"lve": 0.0, "fdd": 0.0, "mve": 0.0, "lrp": 100.0}
    # no phone tiers in this cache: the phonetic metrics are absent (None), never 0
    assert scores["metrics"]["closure_rate"] is None and scores["metrics"]["lve_bilabial"] is None
    assert scores["ci95"]["closure_rate"] is None and scores["phonetic"]["sequences_with_phones"] == 0
    assert scores["metrics"]["lipsync_offset_ms"] == 0.0 and scores["metrics"]["lipsync_corr"] == pytest.approx(1.0)
    saved = json.loads((tmp_path / "scores.json").read_text())
    assert saved["regions"]["lip"]["sha256"] == "a" * 64 and saved["metric_versions"]["lrp"] == "0.1-geometric"
    assert saved["display"]["scale"]["lve"] == 1e5 and saved["display"]["scale"]["fdd"] == 1e7
    assert "not comparable with published LRP" in saved["metric_info"]["lrp"]["note"] and saved["options"]["lrp_threshold"] == 3e-3
    assert set(saved["ci95"]) == set(saved["metrics"]) >= {"lve", "fdd", "mve", "lrp", "closure_rate"}
    assert saved["metric_versions"]["closure_rate"] and saved["package_version"]
    assert len(saved["per_sequence"]) == 6 and set(saved["per_subject"]) == {r.subject for r in refs}
    assert saved["unmatched_files"] == ["unrelated_file.npy"] and saved["options"]["split"] == "test"


def test_h5_predictions_match_a_direct_accumulator(cache_path, tmp_path):
    """Scores of a shifted prediction equal the accumulator run by hand on the same arrays."""
    with Cache(cache_path) as cache:
        lip, upper = cache.regions()["lip"], cache.regions()["upper_face"]
        by_hand = MetricAccumulator(lip, upper, 3e-3, fps=cache.fps, mouth=mouth_points(cache))
        with PredictionWriter(tmp_path / "p.h5", model="shifted", dataset="vocaset", fps=30, n_vertices=cache.n_vertices) as w:
            for i, ref in enumerate(cache.sequences("test")):
                gt = cache.vertices(ref.subject, ref.sentence)
                pred = gt[: len(gt) - i] + np.float32(0.002 * (i % 3))
                w.write(ref.subject, ref.sentence, pred)
                by_hand.update(ref.subject, ref.sentence, {None: pred}, gt, cache.template(ref.subject))
    scores = evaluate(tmp_path / "p.h5", cache_path, "test")
    assert scores["model"] == "shifted"
    for key, value in by_hand.compute().items():
        assert scores["metrics"][key] == (None if np.isnan(value) else pytest.approx(value, rel=1e-12)), key
    assert 0 < scores["metrics"]["lrp"] < 100


def test_condition_files_are_averaged_and_3d_arrays_accepted(cache_path, tmp_path):
    _write_npy_folder(cache_path, tmp_path / "npy", conditions=["FaceTalk_170725_00137_TA", "FaceTalk_170728_03272_TA"],
                      transform=lambda v: v + np.float32(0.001), flat=False)
    scores = evaluate(tmp_path / "npy", cache_path, "test")
    assert scores["metrics"]["lve"] == pytest.approx(3e-6, rel=1e-4)  # offset (1,1,1) mm on every lip vertex
    assert all(row["n_conditions"] == 2 for row in scores["per_sequence"])


@pytest.mark.parametrize("case,message", [
    ("missing", "1 of 6 sequences have no prediction"),
    ("vertices", "wrong vertex count"),
    ("nan", "NaN"),
])
def test_bad_predictions_are_one_line_errors(cache_path, tmp_path, case, message):
    folder = tmp_path / "npy"
    if case == "missing":
        _write_npy_folder(cache_path, folder, drop=1)
    elif case == "vertices":
        _write_npy_folder(cache_path, folder, transform=lambda v: v[:, :-1], flat=False)
    else:
        _write_npy_folder(cache_path, folder, transform=lambda v: np.where(np.arange(len(v))[:, None, None] == 1, np.nan, v))
    result = _cli("--pred", folder, "--data", cache_path, "--split", "test")
    assert result.returncode == 2 and "Traceback" not in result.stderr and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    if case == "missing":
        assert "FaceTalk_" in result.stderr  # the missing sequence is named
        ok = _cli("--pred", folder, "--data", cache_path, "--split", "test", "--allow-missing", "--out", tmp_path / "s.json")
        assert ok.returncode == 0 and "1 sequences had no prediction" in ok.stderr
        assert len(json.loads((tmp_path / "s.json").read_text())["missing_sequences"]) == 1


def test_cache_without_regions_explains_what_to_get(tmp_path):
    path = build_cache(tmp_path / "noregions.h5", with_regions=False, n_sentences=1)
    _write_npy_folder(path, tmp_path / "npy")
    with pytest.raises(UserError, match="FLAME_masks.pkl.*--regions PATH"):
        evaluate(tmp_path / "npy", path, "test")


def test_region_ids_out_of_range_are_refused(tmp_path):
    path = build_cache(tmp_path / "bad.h5", lip_ids=[1, 2, 5000], n_sentences=1)
    _write_npy_folder(path, tmp_path / "npy")
    result = _cli("--pred", tmp_path / "npy", "--data", path, "--split", "test")
    assert result.returncode == 2 and "out of range" in result.stderr and "Traceback" not in result.stderr


def test_predictions_for_another_dataset_are_refused(cache_path, tmp_path):
    with Cache(cache_path) as cache, PredictionWriter(tmp_path / "p.h5", model="m", dataset="biwi", fps=25,
                                                      n_vertices=cache.n_vertices) as w:
        ref = cache.sequences("test")[0]
        w.write(ref.subject, ref.sentence, cache.vertices(ref.subject, ref.sentence))
    with pytest.raises(UserError, match="dataset 'biwi'"):
        evaluate(tmp_path / "p.h5", cache_path, "test")
