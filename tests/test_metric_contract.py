"""The metric registry's contract: statistic names cannot collide, compute returns exactly what a
spec declares, specs are built by keyword, and every table, plot and the ablation take names,
titles, direction, signedness and scale from the specs (no metric name written in evaluate/)."""

import ast
import csv
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import histalk_bench.evaluate
from histalk_bench.common.errors import UserError
from histalk_bench.evaluate.ablation import Variant, summarise, write_tables
from histalk_bench.evaluate.leaderboard import write_leaderboard
from histalk_bench.evaluate.table import leaderboard_rows
from histalk_bench.metrics import METRICS, all_specs
from histalk_bench.metrics.accumulate import MetricAccumulator
from histalk_bench.metrics.bootstrap import confidence_intervals
from histalk_bench.metrics.one_sequence import score_one
from histalk_bench.metrics.spec import FRAMES, MetricSpec, ratio

N_VERTICES = 12
LIP, UPPER = np.arange(4), np.arange(4, 12)


def make_spec(name="toy_metric", statistics=("toy_sum",), compute=None, **fields):
    """A valid spec (mean per-frame max error) unless the arguments break it."""
    def default_compute(view):
        return {"toy_sum": float(np.sqrt(view.lip_max).sum())}

    options = dict(version="1.0", higher_is_better=False, units="data units", title="toy error",
                   description="mean over frames of the largest lip-vertex error", statistics=statistics,
                   compute=compute or default_compute,
                   pool=lambda s: ratio(s["toy_sum"].sum(axis=-1), s[FRAMES].sum(axis=-1)))
    options.update(fields)
    return MetricSpec(name=name, **options)


@contextmanager
def registered(spec: MetricSpec):
    METRICS.register(spec.name, spec)
    try:
        yield spec
    finally:
        METRICS.unregister(spec.name)


def sequence(rng, n_frames=20, scale=0.01):
    gt = rng.normal(size=(n_frames, N_VERTICES, 3))
    return gt + rng.normal(scale=scale, size=gt.shape), gt


def score_dict(model: str, seed: int, scale: float) -> dict:
    """A scores.json-shaped dict of every registered metric, from real accumulated statistics."""
    rng = np.random.default_rng(seed)
    accumulator = MetricAccumulator(LIP, UPPER, 0.02)
    for k in range(4):
        pred, gt = sequence(rng, scale=scale)
        accumulator.update("S1", f"s{k:02d}", {None: pred}, gt, np.zeros((N_VERTICES, 3)))
    arrays = accumulator.arrays()
    return {"model": model, "dataset": "toyset", "split": "test", "n_sequences": 4,
            "metrics": {k: (None if np.isnan(v) else v) for k, v in accumulator.compute().items()},
            "ci95": confidence_intervals(arrays), "display_scale": {s.name: 1.0 for s in all_specs()},
            "per_sequence": accumulator.per_sequence(), "per_subject": accumulator.per_subject(),
            "statistics": {k: v.tolist() for k, v in arrays.items()}, "options": {"lrp_threshold": 0.02}}


def test_a_spec_declaring_frames_is_refused_and_lve_is_unchanged():
    rng = np.random.default_rng(0)
    pred, gt = sequence(rng)
    before = score_one("lve", pred, gt, lip_ids=LIP)
    half_frames = make_spec(statistics=("frames", "toy_sum"),
                            compute=lambda view: {"frames": view.n_frames / 2, "toy_sum": 1.0})
    with pytest.raises(UserError, match="metric 'toy_metric' declares the statistic 'frames'"):
        METRICS.register("toy_metric", half_frames)
    assert "toy_metric" not in METRICS
    accumulator = MetricAccumulator(LIP, UPPER, 0.02)
    accumulator.update("S1", "s1", {None: pred}, gt, np.zeros((N_VERTICES, 3)))
    assert accumulator.compute()["lve"] == pytest.approx(before)


def test_a_statistic_another_spec_computes_is_refused_naming_both():
    steals = make_spec(statistics=("lve_sum",), compute=lambda view: {"lve_sum": 0.0},
                       pool=lambda s: s["lve_sum"].sum(axis=-1))
    with registered(steals):
        with pytest.raises(UserError, match="metric 'toy_metric' declares the statistic 'lve_sum', which metric 'lve'"):
            MetricAccumulator(LIP, UPPER, 0.02)


def test_specs_sharing_one_compute_share_its_statistics_and_it_runs_once():
    calls = []

    def compute(view):
        calls.append(1)
        return {"toy_sum": float(view.lip_max.sum())}

    first, second = make_spec("toy_a", compute=compute), make_spec("toy_b", compute=compute, higher_is_better=True)
    with registered(first), registered(second):
        rng = np.random.default_rng(1)
        accumulator = MetricAccumulator(LIP, UPPER, 0.02)
        accumulator.update("S1", "s1", {None: sequence(rng)[0]}, sequence(rng)[1], np.zeros((N_VERTICES, 3)))
        values = accumulator.compute()
    assert len(calls) == 1 and values["toy_a"] == values["toy_b"] > 0


def test_a_compute_returning_other_keys_than_declared_is_an_error_naming_the_spec():
    wrong = make_spec(compute=lambda view: {"toy_total": 1.0})
    with registered(wrong):
        accumulator = MetricAccumulator(LIP, UPPER, 0.02)
        pred, gt = sequence(np.random.default_rng(2))
        with pytest.raises(UserError, match=r"metric 'toy_metric': compute returned \['toy_total'\], but the spec "
                                            r"declares the statistics \['toy_sum'\]"):
            accumulator.update("S1", "s1", {None: pred}, gt, np.zeros((N_VERTICES, 3)))


def test_specs_are_built_by_keyword_only_and_checked_when_registered():
    with pytest.raises(TypeError):
        MetricSpec("x", "1.0", False, "u", "x", "d", ("x_sum",), lambda view: {}, lambda s: 0.0)
    with pytest.raises(UserError, match="names a statistic twice"):
        METRICS.register("toy_metric", make_spec(statistics=("toy_sum", "toy_sum")))
    with pytest.raises(UserError, match="'n_conditions', the accumulator's own count"):
        METRICS.register("toy_metric", make_spec(statistics=("n_conditions",)))
    with pytest.raises(UserError, match="table 'main' is not one of core, phonetic"):
        METRICS.register("toy_metric", make_spec(table="main"))
    assert "toy_metric" not in METRICS


def test_the_leaderboard_shows_a_specs_title_and_ranks_by_the_primary_signed_metric(tmp_path):
    # a signed metric ordered first becomes the primary one: models rank by distance to 0
    signed = make_spec("toy_bias", title="Jaw bias (signed toy)", statistics=("toy_bias_sum",),
                       compute=lambda view: {"toy_bias_sum": float((view.pred - view.gt)[:, :, 1].mean(axis=1).sum())},
                       pool=lambda s: ratio(s["toy_bias_sum"].sum(axis=-1), s[FRAMES].sum(axis=-1)),
                       sign="+: jaw too high", order=0)
    with registered(signed):
        scores = [score_dict("near", 3, 0.01), score_dict("far", 4, 0.5)]
        scores[0]["metrics"]["toy_bias"], scores[1]["metrics"]["toy_bias"] = -0.5, 0.1
        _, md_path = write_leaderboard(scores, tmp_path)
        markdown = md_path.read_text()
        assert [row["model"] for row in leaderboard_rows(scores)] == ["far", "near"]  # |0.1| < |-0.5|
    header = markdown.splitlines()[2]
    assert "Jaw bias (signed toy) ↓" in header and "LRP (%, geometric) ↑" in header
    assert "Jaw bias (signed toy) is signed (+: jaw too high)" in markdown
    assert "not comparable with published LRP" in markdown  # the LRP spec's own note
    assert "Jaw bias (signed toy): data units" in markdown and "LRP (%, geometric): percent of frames" in markdown


def test_ablate_reports_every_registered_metric_with_its_title(tmp_path):
    variants = [Variant("default"), Variant("use_cmg=false", {"use_cmg": False})]
    scores = {"default": [score_dict("d0", 5, 0.01), score_dict("d1", 6, 0.01)],
              "use_cmg=false": [score_dict("v0", 5, 0.05), score_dict("v1", 6, 0.05)]}
    rows = summarise(variants, scores)
    write_tables(rows, tmp_path, scores["default"][0]["display_scale"], {"epochs": 1})
    with open(tmp_path / "ablation.csv", newline="") as handle:
        header = next(csv.reader(handle))
    markdown = (tmp_path / "ablation.md").read_text()
    for spec in all_specs():
        assert f"{spec.name}_mean" in header and f"{spec.title} {spec.arrow}" in markdown
    assert rows[1]["d_mve"] > 0 and rows[1]["d_mve_low"] <= rows[1]["d_mve"] <= rows[1]["d_mve_high"]


def test_no_metric_or_statistic_name_is_written_in_evaluate():
    """Tables, plots and the ablation must iterate over the specs, never name a metric."""
    names = {spec.name for spec in all_specs()} | {s for spec in all_specs() for s in spec.statistics}
    found = []
    for path in sorted(Path(histalk_bench.evaluate.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                found.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert not found, found
