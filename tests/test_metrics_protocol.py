"""Metrics against an independent slow reference (per sequence and pooled) and analytic cases."""

import numpy as np
import pytest

from histalk_bench.metrics.accumulate import MetricAccumulator
from histalk_bench.metrics.bootstrap import confidence_intervals, paired_test
from histalk_bench.metrics.functional import lip_max_squared_error, upper_face_dynamics
from histalk_bench.metrics.one_sequence import sequence_statistics


def slow_reference(sequences, lip, upper, threshold):
    """Straightforward loops over frames and vertices, written independently of the library."""
    lip_maxima, fdds, distances, hits = [], [], [], 0
    for pred, gt, template in sequences:
        n = min(len(pred), len(gt))
        for t in range(n):
            worst = 0.0
            for v in lip:
                d = sum((float(pred[t, v, c]) - float(gt[t, v, c])) ** 2 for c in range(3))
                worst = max(worst, d)
            lip_maxima.append(worst)
            hits += worst ** 0.5 < threshold
            for v in range(pred.shape[1]):
                distances.append(sum((float(pred[t, v, c]) - float(gt[t, v, c])) ** 2 for c in range(3)) ** 0.5)

        def dynamics(x):
            stds = []
            for v in upper:
                values = [sum((float(x[t, v, c]) - float(template[v, c])) ** 2 for c in range(3)) for t in range(n)]
                mean = sum(values) / n
                stds.append((sum((y - mean) ** 2 for y in values) / n) ** 0.5)
            return sum(stds) / len(stds)

        fdds.append(dynamics(gt) - dynamics(pred))
    return {"lve": sum(lip_maxima) / len(lip_maxima), "fdd": sum(fdds) / len(fdds),
            "mve": sum(distances) / len(distances), "lrp": 100.0 * hits / len(lip_maxima)}


def _sequences(rng, n=3, vertices=40):
    out = []
    for i in range(n):
        template = rng.normal(size=(vertices, 3)).astype(np.float32)
        gt = template + 0.01 * rng.normal(size=(9 + 2 * i, vertices, 3)).astype(np.float32)
        pred = template + 0.01 * rng.normal(size=(11 - i, vertices, 3)).astype(np.float32)
        out.append((pred, gt, template))
    return out


def test_pooled_metrics_match_the_slow_reference():
    rng = np.random.default_rng(0)
    lip, upper = np.array([1, 4, 7, 9, 20]), np.array([0, 2, 3, 30, 31, 39])
    sequences = _sequences(rng)
    threshold = 0.025
    accumulator = MetricAccumulator(lip, upper, threshold)
    for i, (pred, gt, template) in enumerate(sequences):
        accumulator.update("s", f"q{i}", {None: pred}, gt, template)
    fast = accumulator.compute()
    slow = slow_reference(sequences, lip, upper, threshold)
    for key in ("lve", "fdd", "mve", "lrp"):
        assert fast[key] == pytest.approx(slow[key], rel=1e-9), key
    for row, seq in zip(accumulator.per_sequence(), sequences):
        single = slow_reference([seq], lip, upper, threshold)
        assert row["lve"] == pytest.approx(single["lve"], rel=1e-9)
        assert row["fdd"] == pytest.approx(single["fdd"], rel=1e-9)


def test_identical_meshes_score_zero():
    rng = np.random.default_rng(1)
    pred, gt, template = _sequences(rng, 1)[0]
    stats = sequence_statistics(gt, gt, template, np.arange(5), np.arange(5, 10), 1e-3)
    assert stats["lve_sum"] == 0 and stats["fdd"] == 0 and stats["mve_sum"] == 0 and stats["lrp_hits"] == stats["frames"]


def test_constant_lip_offset_gives_lve_d_squared():
    rng = np.random.default_rng(2)
    _, gt, template = _sequences(rng, 1)[0]
    lip = np.array([3, 5, 8])
    gt = gt.astype(np.float64)  # exact arithmetic for the analytic value
    pred = gt.copy()
    d = 0.004
    pred[:, lip, 1] += d
    assert lip_max_squared_error(pred, gt, lip) == pytest.approx(np.full(len(gt), d * d), rel=1e-9)


def test_static_prediction_fdd_is_the_ground_truth_motion_statistic():
    rng = np.random.default_rng(3)
    _, gt, template = _sequences(rng, 1)[0]
    upper = np.arange(10, 30)
    static = np.repeat(template[None], len(gt), axis=0)
    stats = sequence_statistics(static, gt, template, np.arange(3), upper, 1e-3)
    assert stats["fdd"] == pytest.approx(upper_face_dynamics(gt, template, upper), rel=1e-12)
    assert stats["fdd"] > 0


def test_truncation_to_the_shorter_sequence():
    rng = np.random.default_rng(4)
    pred, gt, template = _sequences(rng, 1)[0]
    longer = np.concatenate([pred, 100 + pred], axis=0)
    a = sequence_statistics(pred[: len(gt)], gt, template, np.arange(4), np.arange(4, 8), 1e-3)
    b = sequence_statistics(longer, gt, template, np.arange(4), np.arange(4, 8), 1e-3)
    assert a == b


def test_conditions_are_averaged_per_sequence():
    rng = np.random.default_rng(5)
    pred, gt, template = _sequences(rng, 1)[0]
    other = pred + 0.01
    lip, upper = np.arange(4), np.arange(4, 8)
    both = MetricAccumulator(lip, upper, 1e-3)
    both.update("s", "q", {"A": pred[: len(gt)], "B": other[: len(gt)]}, gt, template)
    separate = [MetricAccumulator(lip, upper, 1e-3) for _ in range(2)]
    separate[0].update("s", "q", {None: pred[: len(gt)]}, gt, template)
    separate[1].update("s", "q", {None: other[: len(gt)]}, gt, template)
    for key in ("lve", "fdd", "mve"):
        assert both.compute()[key] == pytest.approx((separate[0].compute()[key] + separate[1].compute()[key]) / 2)


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(6)
    accumulator = MetricAccumulator(np.arange(4), np.arange(4, 8), 0.02)
    for i, (pred, gt, template) in enumerate(_sequences(rng, 8)):
        accumulator.update("s", f"q{i}", {None: pred}, gt, template)
    stats = accumulator.arrays()
    ci = confidence_intervals(stats, seed=3)
    assert ci == confidence_intervals(stats, seed=3)
    value = accumulator.compute()["lve"]
    assert ci["lve"][0] <= value <= ci["lve"][1]
    worse = {k: v.copy() for k, v in stats.items()}
    worse["lve_sum"] = worse["lve_sum"] * 3
    test = paired_test(stats, worse, "lve")
    assert test["difference"] < 0 and test["p_value"] < 0.01
    assert paired_test(stats, stats, "lve")["p_value"] == 1.0


def test_per_sequence_functions_match_the_slow_reference():
    from histalk_bench.metrics.one_sequence import fdd, lrp, lve, mve

    rng = np.random.default_rng(7)
    lip, upper = np.array([2, 6, 11]), np.array([0, 1, 30, 33])
    for seq in _sequences(rng, 2):
        slow = slow_reference([seq], lip, upper, 0.02)
        pred, gt, template = seq
        assert lve(pred, gt, lip) == pytest.approx(slow["lve"], rel=1e-9)
        assert fdd(pred, gt, template, upper) == pytest.approx(slow["fdd"], rel=1e-9)
        assert mve(pred, gt) == pytest.approx(slow["mve"], rel=1e-9)
        assert lrp(pred, gt, lip, 0.02) == pytest.approx(slow["lrp"], rel=1e-9)


def test_lve_pools_frames_rather_than_averaging_sequences():
    lip, upper = np.arange(2), np.arange(2, 4)
    template = np.zeros((4, 3))
    short_gt, long_gt = np.zeros((1, 4, 3)), np.zeros((3, 4, 3))
    short_pred, long_pred = short_gt + [1.0, 0, 0], long_gt.copy()
    accumulator = MetricAccumulator(lip, upper, 0.5)
    accumulator.update("s", "a", {None: short_pred}, short_gt, template)
    accumulator.update("s", "b", {None: long_pred}, long_gt, template)
    assert accumulator.compute()["lve"] == pytest.approx(1 / 4)  # not (1 + 0) / 2
    assert accumulator.compute()["lrp"] == pytest.approx(75.0)


@pytest.mark.parametrize("case,message", [
    ("vertices", "vertex counts differ"),
    ("shape", r"\(T, V, 3\)"),
    ("empty", "no frames"),
    ("lip_range", "outside"),
    ("upper_empty", "empty"),
    ("template", "template shaped"),
])
def test_error_paths(case, message):
    rng = np.random.default_rng(8)
    pred, gt, template = _sequences(rng, 1)[0]
    lip, upper = np.arange(3), np.arange(3, 6)
    if case == "vertices":
        pred = pred[:, :-1]
    elif case == "shape":
        pred = pred.reshape(len(pred), -1)
    elif case == "empty":
        pred = pred[:0]
    elif case == "lip_range":
        lip = np.array([0, pred.shape[1]])
    elif case == "upper_empty":
        upper = np.array([], dtype=np.int64)
    else:
        template = template[:-1]
    with pytest.raises(ValueError, match=message):
        sequence_statistics(pred, gt, template, lip, upper, 1e-3)


def test_paired_test_detects_a_small_consistent_improvement():
    rng = np.random.default_rng(9)
    accumulator = MetricAccumulator(np.arange(4), np.arange(4, 8), 0.02)
    for i, (pred, gt, template) in enumerate(_sequences(rng, 10)):
        accumulator.update("s", f"q{i}", {None: pred}, gt, template)
    a = accumulator.arrays()
    b = {k: v.copy() for k, v in a.items()}
    b["lve_sum"] = b["lve_sum"] * 1.05
    result = paired_test(a, b, "lve", seed=1)
    assert result["difference"] < 0 and result["p_value"] < 0.05 and result == paired_test(a, b, "lve", seed=1)
