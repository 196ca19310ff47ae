"""Baselines, compare (predict + evaluate + tables + plots) and leaderboard rebuilding."""

import json
import subprocess
import sys

import numpy as np
import pytest
from _evaluate_helpers import build_cache

from histalk_bench.cache import Cache
from histalk_bench.common.errors import UserError
from histalk_bench.evaluate.compare import run_compare
from histalk_bench.models.baselines import mean as baselines_mean, static as baselines_static
from histalk_bench.evaluate.leaderboard import rebuild_leaderboard, write_leaderboard


@pytest.fixture(scope="module")
def cache_path(tmp_path_factory):
    return build_cache(tmp_path_factory.mktemp("cmp") / "cache.h5")


def test_baselines_predict_template_and_streamed_mean(cache_path):
    with Cache(cache_path) as cache:
        ref = cache.sequences("test")[0]
        static = baselines_static.StaticEntry().load_predictor(cache).predict(cache, ref)[None]
        assert static.shape == (ref.n_frames, cache.n_vertices, 3)
        assert np.array_equal(static[5], cache.template(ref.subject))
        train = cache.sequences("train")
        all_disp = np.concatenate([cache.vertices(r.subject, r.sentence) - cache.template(r.subject) for r in train])
        mean = baselines_mean.MeanEntry().load_predictor(cache).predict(cache, ref)[None]
        np.testing.assert_allclose(mean[0] - cache.template(ref.subject), all_disp.mean(axis=0), atol=1e-7)



def test_baselines_refuse_weights_and_prediction_options(cache_path):
    """A baseline has no weights and no options: --run, --checkpoint or --frames are errors, not ignored
    (the models' one unused-option check, on the path every prediction of a split takes)."""
    from histalk_bench.predict.split import predict_split

    with Cache(cache_path) as cache:
        with pytest.raises(UserError, match="^--run does not apply: model 'static' has no weights; drop it$"):
            predict_split("static", cache, "test", cache_path.parent / "x.h5", run_dir="runs/x")
        with pytest.raises(UserError, match="--checkpoint does not apply: model 'mean' has no weights"):
            predict_split("mean", cache, "test", cache_path.parent / "x.h5", checkpoint="x.pt")
        with pytest.raises(UserError, match="^--frames is not read by mean predictions; drop it$"):
            predict_split("mean", cache, "test", cache_path.parent / "x.h5", options={"frames": "gt"})
    assert not (cache_path.parent / "x.h5").exists()

@pytest.mark.slow
def test_compare_baselines_and_rebuild_leaderboard(cache_path, tmp_path):
    csv_path = run_compare(["static", "mean"], cache_path, "test", tmp_path / "cmp")
    import pandas as pd

    table = pd.read_csv(csv_path)
    assert set(table["model"]) == {"mean", "static"} and list(table["lve"]) == sorted(table["lve"])
    assert {"lve_ci_low", "lve_ci_high", "fdd_ci_low", "n_sequences", "dataset", "split"} <= set(table.columns)
    assert (table["lve_ci_low"] <= table["lve"]).all() and (table["lve"] <= table["lve_ci_high"]).all()
    static_scores = json.loads((tmp_path / "cmp" / "static" / "scores.json").read_text())
    assert static_scores["metrics"]["fdd"] > 0  # no motion: GT dynamics minus zero
    markdown = (tmp_path / "cmp" / "leaderboard.md").read_text()
    assert "↓" in markdown and "↑" in markdown and "±" in markdown and "(x1e-5)" in markdown
    assert "NOT comparable" not in markdown.split("|")[0]
    # 6 test sequences: intervals marked unreliable, no p-value (honest statistics below 10 sequences)
    assert "No paired bootstrap test: only 6 common sequences" in markdown and "p <" not in markdown and "p =" not in markdown
    main_rows = [line for line in markdown.split("## Phonetic metrics")[0].splitlines() if line.startswith("| static")]
    assert main_rows and main_rows[0].count("†") == 4 and "fewer than 10 sequences" in markdown
    for plot in ("metrics.png", "lve_per_subject.png", "lip_opening.png", "lve_by_part.png", "lipsync_offset_ms_per_sequence.png"):
        assert (tmp_path / "cmp" / "plots" / plot).stat().st_size > 10_000
    phonetic = markdown.split("## Phonetic metrics")[1]  # compare always adds the phonetic table
    static_row = next(line for line in phonetic.splitlines() if line.startswith("| static"))
    assert static_row.count("absent") == 7  # no phone tiers: 5 viseme classes + closure rate; and no lag for a still mouth
    assert static_scores["metrics"]["lipsync_corr"] == 0.0  # a constant mouth correlates with nothing
    assert static_scores["metrics"]["lipsync_offset_ms"] is None
    before = csv_path.read_text()
    csv_path.unlink()
    result = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "leaderboard", str(tmp_path / "cmp")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert csv_path.read_text() == before
    assert "Phonetic metrics" not in result.stdout
    phonetic = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "leaderboard", "--phonetic",
                               str(tmp_path / "cmp"), "--out", str(tmp_path / "rebuilt")], capture_output=True, text=True)
    assert phonetic.returncode == 0, phonetic.stderr
    assert "## Phonetic metrics" in phonetic.stdout and (tmp_path / "rebuilt" / "plots" / "lve_by_part.png").exists()


def test_leaderboard_refuses_mixed_splits_and_flags_other_regions(tmp_path):
    cache_path = build_cache(tmp_path / "ten.h5", n_sentences=5)  # 10 test sequences: a p-value is printed
    run_compare(["static"], cache_path, "test", tmp_path / "a")
    scores = json.loads((tmp_path / "a" / "static" / "scores.json").read_text())
    other = dict(scores, model="other", split="val")
    with pytest.raises(UserError, match="mix datasets/splits"):
        write_leaderboard([scores, other], tmp_path / "mixed")
    regions = {k: dict(v, sha256="c" * 64) for k, v in scores["regions"].items()}
    _, md = write_leaderboard([scores, dict(scores, model="other", regions=regions)], tmp_path / "warn")
    assert "different region files" in md.read_text()
    run_compare(["static"], cache_path, "test", tmp_path / "b")
    csv_path, md_path, plots = rebuild_leaderboard([tmp_path / "a", tmp_path / "b"], tmp_path / "both")
    text = md_path.read_text()
    assert "static (a)" in text and "static (b)" in text and "p = 1.0000" in text and "†" not in text
    assert all(p.stat().st_size > 10_000 for p in plots)


@pytest.mark.slow
def test_compare_cli_takes_several_models_and_reuses_predictions(cache_path, tmp_path):
    args = [sys.executable, "-m", "histalk_bench.cli.main", "compare", "--models", "static,mean", "--data",
            str(cache_path), "--split", "test", "--out", str(tmp_path / "cmp")]
    first = subprocess.run(args, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "cmp" / "static" / "predictions.h5").exists() and (tmp_path / "cmp" / "mean" / "scores.json").exists()
    second = subprocess.run(args, capture_output=True, text=True)
    assert "reusing" in second.stderr and second.returncode == 0
    wrong = subprocess.run(args[:5] + ["statc"] + args[6:], capture_output=True, text=True)
    assert wrong.returncode == 2 and "did you mean 'static'" in wrong.stderr


def test_compare_on_the_synthetic_corpus_reports_phonetic_metrics(vocaset_cache, tmp_path):
    """Oracle phone tiers: per-viseme LVE and closure are present for every model; a still mouth has no offset."""
    run_compare(["static", "mean"], vocaset_cache, "test", tmp_path / "cmp")
    for name in ("static", "mean"):
        scores = json.loads((tmp_path / "cmp" / name / "scores.json").read_text())
        assert scores["phonetic"]["sequences_with_phones"] == scores["n_sequences"] > 0
        assert scores["phonetic"]["mouth_opening"]["source"] == "template-lip-region-v1"
        for metric in ("lve_bilabial", "lve_open", "lve_other", "closure_rate"):
            assert scores["metrics"][metric] is not None and scores["ci95"][metric] is not None, (name, metric)
        assert scores["metrics"]["closure_rate"] < 50.0  # neither baseline closes the lips for p/b/m
        assert scores["metrics"]["lipsync_offset_ms"] is None and scores["metrics"]["lipsync_corr"] == 0.0
    table = (tmp_path / "cmp" / "leaderboard.md").read_text().split("## Phonetic metrics")[1]
    rows = [line for line in table.splitlines() if line.startswith(("| static", "| mean"))]
    assert len(rows) == 2 and all(row.count("absent") <= 2 for row in rows)  # offset (and a class never spoken)


def test_scores_written_before_the_phonetic_metrics_still_rebuild(cache_path, tmp_path):
    """An older scores.json (only lve/fdd/mve/lrp, no lip_pairs region) mixes with a new one without false warnings."""
    from histalk_bench.evaluate.leaderboard import load_scores

    run_compare(["static", "mean"], cache_path, "test", tmp_path / "cmp")
    old_path = tmp_path / "cmp" / "mean" / "scores.json"
    old = json.loads(old_path.read_text())
    core = ("lve", "fdd", "mve", "lrp")
    for key in ("metrics", "ci95", "display_scale", "higher_is_better", "metric_versions"):
        old[key] = {k: v for k, v in old[key].items() if k in core}
    old["statistics"] = {k: v for k, v in old["statistics"].items() if k in ("frames", "lve_sum", "fdd", "mve_sum", "n_vertices", "lrp_hits")}
    old["regions"].pop("lip_pairs", None)
    for key in ("phonetic", "metric_info"):
        old.pop(key)
    old_path.write_text(json.dumps(old))
    csv_path, md_path, _ = rebuild_leaderboard([tmp_path / "cmp"], phonetic=True)
    text = md_path.read_text()
    assert "WARNING" not in text and "No paired bootstrap test: only 6 common sequences" in text  # < 10: no p-value
    mean_row = next(line for line in text.split("## Phonetic metrics")[1].splitlines() if line.startswith("| mean"))
    assert mean_row.count("absent") == 9  # every phonetic column
    assert {s["model"] for s in load_scores([old_path])} == {"mean"}
