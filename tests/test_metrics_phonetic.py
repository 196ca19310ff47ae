"""Mouth opening, viseme classes, per-viseme LVE, closure rate, lip-sync offset and the metric registry."""

import numpy as np
import pytest

from histalk_bench.metrics import METRICS, all_specs
from histalk_bench.metrics.accumulate import MetricAccumulator
from histalk_bench.metrics.bootstrap import confidence_intervals
from histalk_bench.metrics.one_sequence import score_one
from histalk_bench.metrics.mouth import (FLAME_RULE, PAIR_RULE, flame_landmark_offset, from_flame_landmarks, from_pairs,
                                         mouth_points, pairs_digest, select_lip_pairs)
from histalk_bench.metrics.spec import MetricSpec
from histalk_bench.metrics.visemes import CLASSES, frame_classes, label_classes

FPS = 30.0


def mouth_sequence(opening: np.ndarray) -> np.ndarray:
    """(T, 4, 3) mesh: vertex 0 upper lip, 1 lower lip (``opening`` apart vertically), 2-3 static."""
    vertices = np.zeros((len(opening), 4, 3))
    vertices[:, 0, 1] = opening / 2
    vertices[:, 1, 1] = -opening / 2
    vertices[:, 2:, 0] = [1.0, -1.0]
    return vertices


MOUTH = from_pairs(np.array([[0, 1]]), "test", "0" * 64)


def speech_opening(n: int = 120, seed: int = 0) -> np.ndarray:
    """A mouth opening between 0 (closed) and ~8 mm with several irregular syllables."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FPS
    signal = sum(rng.uniform(0.5, 1) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (2.1, 3.3, 4.7))
    return 0.004 * (1 + signal / 3)


def score(name, pred_open, gt_open, phones=None):
    return score_one(name, mouth_sequence(pred_open), mouth_sequence(gt_open), lip_ids=[0, 1], fps=FPS,
                     mouth=MOUTH, phones=phones)


def test_mouth_opening_is_the_distance_of_matched_points():
    opening = np.array([0.0, 0.002, 0.005])
    np.testing.assert_allclose(MOUTH.opening(mouth_sequence(opening)), opening)


@pytest.mark.parametrize("delay,expected_ms", [(3, 100.0), (-2, -66.6667), (0, 0.0)])
def test_offset_of_a_delayed_prediction(delay, expected_ms):
    gt = speech_opening()
    pred = np.roll(gt, delay)  # pred[t] = gt[t - delay]: positive delay = the model is late
    if delay > 0:
        pred[:delay] = gt[0]
    elif delay < 0:
        pred[delay:] = gt[-1]
    assert score("lipsync_offset_ms", pred, gt) == pytest.approx(expected_ms, abs=1e-3)
    assert score("lipsync_corr", pred, gt) > 0.97
    if delay:
        assert score("opening_corr", pred, gt) < score("lipsync_corr", pred, gt)


def test_offset_at_25_fps_and_constant_prediction():
    gt = speech_opening(100)
    pred = np.concatenate([np.full(2, gt[0]), gt[:-2]])
    assert score_one("lipsync_offset_ms", mouth_sequence(pred), mouth_sequence(gt), lip_ids=[0, 1], fps=25.0,
                     mouth=MOUTH) == pytest.approx(80.0)
    flat = np.full_like(gt, 0.004)
    assert score("lipsync_corr", flat, gt) == 0.0 and np.isnan(score("lipsync_offset_ms", flat, gt))  # no lag: absent


def _bilabial_phones(gt: np.ndarray) -> list:
    """Phones 'p'/'AH' alternating; each 'P' sits on a local minimum of ``gt`` (three frames around it)."""
    minima = [t for t in range(2, len(gt) - 2) if gt[t] == gt[t - 2 : t + 3].min()]
    phones, cursor = [], 0.0
    for t in minima:
        start, end = (t - 1) / FPS, (t + 2) / FPS
        if start > cursor:
            phones.append((cursor, start, "AH1"))
        phones.append((start, end, "P"))
        cursor = end
    return phones


def test_closure_rate_never_closing_mouth_is_zero_and_perfect_is_one():
    gt = speech_opening()
    phones = _bilabial_phones(gt)
    assert sum(p[2] == "P" for p in phones) >= 3
    assert score("closure_rate", np.full_like(gt, gt.max()), gt, phones) == 0.0
    assert score("closure_rate", gt, gt, phones) == 100.0
    half_closed = gt + 0.5 * (gt.max() - gt.min())  # never within 20 % of the range of the minimum
    assert score("closure_rate", half_closed, gt, phones) == 0.0
    assert np.isnan(score("closure_rate", gt, gt, None))  # no tier: absent, not 0


def test_viseme_labels_arpabet_espeak_and_silence():
    arpabet = label_classes(["sil", "P", "AA1", "F", "UW0", "S", "m"])
    assert [CLASSES[c] if c >= 0 else None for c in arpabet] == [None, "bilabial", "open", "labiodental", "rounded",
                                                                 "other", "bilabial"]
    espeak = label_classes(["b", "u:", "V", "t", "v", "aI", "w", ""])  # espeak 'V' is the vowel AH, not the fricative
    assert [CLASSES[c] if c >= 0 else None for c in espeak] == ["bilabial", "rounded", "open", "other", "labiodental",
                                                                "open", "rounded", None]
    classes = frame_classes([(0.0, 0.1, "M"), (0.1, 0.2, "AE1")], n_frames=8, fps=FPS)
    assert classes.tolist() == [0, 0, 0, 3, 3, 3, -1, -1]  # frame t at t / fps; after the last phone: none


def test_lve_per_viseme_class_pools_the_frames_of_the_class():
    gt = np.zeros((9, 4, 3))
    pred = gt.copy()
    pred[:3, 0, 1] = 0.002  # error only during the bilabial frames 0-2
    pred[6:, 0, 1] = 0.001  # and during the 'other' frames
    phones = [(0.0, 0.1, "B"), (0.1, 0.2, "AA"), (0.2, 0.3, "S")]
    accumulator = MetricAccumulator([0, 1], [2, 3], 1e-3, fps=FPS, mouth=MOUTH)
    accumulator.update("s", "1", {None: pred}, gt, np.zeros((4, 3)), phones)
    values = accumulator.compute()
    assert values["lve_bilabial"] == pytest.approx(4e-6) and values["lve_open"] == 0.0
    assert values["lve_other"] == pytest.approx(1e-6) and np.isnan(values["lve_rounded"])
    assert values["lve"] == pytest.approx((3 * 4e-6 + 3 * 1e-6) / 9)


def test_curve_statistics_bootstrap_and_per_sequence():
    accumulator = MetricAccumulator([0, 1], [2, 3], 1e-3, fps=FPS, mouth=MOUTH)
    for i in range(6):
        gt = speech_opening(90, seed=i)
        pred = np.concatenate([np.full(2, gt[0]), gt[:-2]])  # 2 frames late everywhere
        accumulator.update("s", f"{i}", {None: mouth_sequence(pred)}, mouth_sequence(gt), np.zeros((4, 3)))
    assert accumulator.arrays()["xcorr_wsum"].shape == (6, 25)
    assert accumulator.compute()["lipsync_offset_ms"] == pytest.approx(66.6667, abs=1e-3)
    ci = confidence_intervals(accumulator.arrays(), seed=0)
    assert ci["lipsync_offset_ms"] == pytest.approx([66.6667, 66.6667], abs=1e-3) and ci["closure_rate"] is None
    assert all(row["lipsync_offset_ms"] == pytest.approx(66.6667, abs=1e-3) for row in accumulator.per_sequence())


def test_lip_pairs_of_the_synthetic_face_are_the_inner_lip_rows():
    from histalk_bench.synth.face import MOUTH_ROW_LAT, activations, animate, build_face

    rig = build_face(shape_seed=3)
    pairs = select_lip_pairs(rig.template, rig.lip_ids, rig.faces)
    assert pairs.shape == (3, 2)
    lat = np.arcsin(rig.template[:, 1] / rig.template[:, 1].max() * np.sin(1.15))  # grid latitude of each vertex
    np.testing.assert_allclose(lat[pairs[:, 0]], MOUTH_ROW_LAT + 0.02, atol=1e-4)  # upper lip row of the slit
    np.testing.assert_allclose(lat[pairs[:, 1]], MOUTH_ROW_LAT - 0.02, atol=1e-4)  # lower lip row
    mouth = from_pairs(pairs, PAIR_RULE, pairs_digest(pairs))
    closed = animate(rig, activations([(0, 0.3, "m")], [False], 0.3, FPS, amplitude=1, brow_gain=0, blink_times=[]))
    opened = animate(rig, activations([(0, 0.3, "a")], [False], 0.3, FPS, amplitude=1, brow_gain=0, blink_times=[]))
    neutral = mouth.opening(rig.template[None])[0]
    assert 0.002 < neutral < 0.006
    assert mouth.opening(closed)[5] < 0.7 * neutral < neutral < mouth.opening(opened)[5]
    assert np.array_equal(select_lip_pairs(rig.template, rig.lip_ids[::-1], rig.faces), pairs)  # reproducible
    without_faces = select_lip_pairs(rig.template, rig.lip_ids)  # the documented fallback: all lip vertices
    assert without_faces.shape[1] == 2 and (rig.template[without_faces[:, 0], 1] > rig.template[without_faces[:, 1], 1]).all()
    assert pairs_digest(pairs) != pairs_digest(pairs[::-1])


def test_flame_embedding_uses_inner_lip_landmarks_61_to_67():
    ids = np.arange(68 * 3).reshape(68, 3)
    weights = np.tile([[1.0, 0.0, 0.0]], (68, 1)).astype(np.float32)
    mouth = from_flame_landmarks(ids, weights)
    assert mouth.source == FLAME_RULE
    assert mouth.upper_ids[:, 0].tolist() == [61 * 3, 62 * 3, 63 * 3]
    assert mouth.lower_ids[:, 0].tolist() == [67 * 3, 66 * 3, 65 * 3]
    static_only = from_flame_landmarks(ids[17:], weights[17:], offset=flame_landmark_offset((ids[17:],), "barycentric"))
    assert static_only.upper_ids[:, 0].tolist() == mouth.upper_ids[:, 0].tolist()  # 51 static points: iBUG 17-67
    assert flame_landmark_offset((ids[:40],), "barycentric") is None and flame_landmark_offset((ids,), "selected") is None


def test_prepared_synthetic_cache_stores_lip_pairs_with_digest(vocaset_cache):
    from histalk_bench.cache import Cache

    with Cache(vocaset_cache) as cache:
        pairs = cache.regions()["lip_pairs"]
        info = cache.region_info()["lip_pairs"]
        mouth = mouth_points(cache)
        assert pairs.shape[1] == 2 and info["source"] == PAIR_RULE and info["sha256"] == pairs_digest(pairs)
        assert mouth.sha256 == info["sha256"] and set(pairs.ravel()) <= set(cache.regions()["lip"].tolist())
        ref = cache.sequences()[0]
        opening = mouth.opening(cache.vertices(ref.subject, ref.sentence))
        assert opening.max() - opening.min() > 0.003  # the synthetic mouth opens and closes by millimetres


def test_a_new_metric_is_one_spec_and_one_registry_line():
    spec = MetricSpec(name="toy_max_error", version="0.1", higher_is_better=False, units="data units",
                      title="max error", description="largest vertex error of a sequence",
                      statistics=("toy_max",), compute=lambda view: {"toy_max": float(np.sqrt(view.squared.max()))},
                      pool=lambda s: s["toy_max"].max(axis=-1), display_scale={"vocaset": 1e3})
    METRICS.register("toy_max_error", spec)
    try:
        assert spec in all_specs("core")
        accumulator = MetricAccumulator([0], [1], 1e-3)
        gt = np.zeros((4, 3, 3))
        accumulator.update("s", "1", {None: gt + 0.003}, gt, np.zeros((3, 3)))
        assert accumulator.compute()["toy_max_error"] == pytest.approx(0.003 * np.sqrt(3))
        with pytest.raises(Exception, match="must be a MetricSpec"):
            METRICS.register("broken", object())
    finally:
        METRICS._entries.pop("toy_max_error", None)
        METRICS._help.pop("toy_max_error", None)


def test_prepare_stores_no_lip_pairs_when_the_flame_embedding_gives_the_inner_lips():
    from histalk_bench.datasets.landmarks import LandmarkMap
    from histalk_bench.datasets.base import DatasetHeader
    from histalk_bench.datasets.prepare import _lip_pairs
    from histalk_bench.datasets.regions import Region
    from histalk_bench.synth.face import build_face

    rig = build_face(shape_seed=1)
    regions = {"lip": Region(rig.lip_ids, "lve.txt", "a" * 64)}
    header = DatasetHeader("vocaset", 30.0, len(rig.template), {"s": rig.template}, rig.faces, regions)
    pairs, rule, digest = _lip_pairs(header)
    assert rule == PAIR_RULE and digest == pairs_digest(pairs)
    header.landmarks = LandmarkMap(np.zeros((68, 3), np.int64), np.full((68, 3), 1 / 3, np.float32), "flame", "barycentric")
    assert _lip_pairs(header) is None


def test_biwi_lip_pairs_sit_on_the_crease_of_the_closed_mouth(reference):
    """BIWI has no mouth slit: the rule finds the crease between the lips on the centre line."""
    import trimesh

    from histalk_bench.datasets.regions import read_index_file
    from histalk_bench.metrics.lip_pairs import mouth_line

    mesh = trimesh.load(reference / "biwi" / "BIWI.ply", process=False)
    vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    lip = read_index_file(reference / "biwi" / "regions" / "lve.txt")
    split, _, how = mouth_line(vertices, lip, faces)
    assert how == "groove" and -0.2 < split < -0.18  # between the lower-lip (-0.21) and upper-lip (-0.155) bulges
    pairs = select_lip_pairs(vertices, lip, faces)
    assert (vertices[pairs[:, 0], 1] > split).all() and (vertices[pairs[:, 1], 1] <= split).all()
    assert from_pairs(pairs, PAIR_RULE, "").opening(vertices[None])[0] < 0.015  # closed: ~3 mm on BIWI's scale


def test_flame_inner_lip_opening_of_the_vocaset_templates_is_small(reference):
    """The 12 real VOCASET neutral templates have closed mouths: inner-lip opening of a few mm at most."""
    import trimesh

    from histalk_bench.datasets.landmarks import from_flame_embedding

    faces = np.asarray(trimesh.load(reference / "vocaset" / "FLAME_sample.ply", process=False).faces)
    embedding = from_flame_embedding(reference / "vocaset" / "flame_landmarks", faces)
    mouth = from_flame_landmarks(embedding.vertex_ids, embedding.weights,
                                 offset=flame_landmark_offset((embedding.vertex_ids,), embedding.kind))
    templates = np.stack([np.asarray(trimesh.load(p, process=False).vertices)
                          for p in sorted((reference / "vocaset" / "templates_ply").glob("*.ply"))])
    openings = mouth.opening(templates)
    assert len(openings) == 12 and (openings < 0.004).all() and (openings > 0).all()
