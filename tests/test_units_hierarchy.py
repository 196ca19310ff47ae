"""Frame -> phone/word/utterance unit indices from alignment tiers or SpeechFormer++-style
statistical scales."""

import numpy as np
import pytest

from histalk_bench.align.units import frames_to_units, group_units, hierarchy, statistical_sizes, statistical_units


def _valid_index(units: np.ndarray, n_frames: int) -> bool:
    return (units.shape == (n_frames,) and units.dtype == np.int64 and (n_frames == 0 or units[0] == 0)
            and (np.diff(units) >= 0).all() and (np.diff(units) <= 1).all())


def _nested(inner: np.ndarray, outer: np.ndarray) -> bool:
    """Each inner unit lies inside exactly one outer unit."""
    return all(len(set(outer[inner == u].tolist())) == 1 for u in np.unique(inner))


def test_intervals_and_gaps_are_units_by_frame_centre():
    # frames at 30 fps have centres 1/60, 3/60, ...; gap, a, b, gap, c, gap -> six units
    units = frames_to_units([(0.1, 0.2, "a"), (0.2, 0.25, "b"), (0.4, 0.5, "c")], 18, 30.0)
    centres = (np.arange(18) + 0.5) / 30
    assert units.tolist() == [0, 0, 0, 1, 1, 1, 2, 3, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5]
    assert (centres[units == 1] >= 0.1).all() and (centres[units == 1] < 0.2).all()
    # an interval shorter than a frame that holds no frame centre leaves no empty unit
    short = frames_to_units([(0.0, 0.1, "a"), (0.1, 0.11, "b"), (0.11, 0.3, "c")], 9, 30.0)
    assert short.tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert frames_to_units([], 4, 30.0).tolist() == [0, 0, 0, 0]
    assert frames_to_units([(0, 1, "a")], 0, 30.0).shape == (0,)


@pytest.mark.parametrize("fps, expected", [(30.0, {"phone": 2, "word": 8, "utterance": 32}),
                                           (25.0, {"phone": 1, "word": 6, "utterance": 24}),
                                           (60.0, {"phone": 3, "word": 15, "utterance": 60})])
def test_statistical_scales_are_nested_multiples(fps, expected):
    assert statistical_sizes(fps) == expected
    units = hierarchy(100, fps, source="statistical")
    for level in ("phone", "word", "utterance"):
        assert np.bincount(units[level])[:-1].tolist() == [expected[level]] * (len(np.bincount(units[level])) - 1)
    assert statistical_units(10, 30.0, 0.1).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]


@pytest.mark.parametrize("n_frames", [0, 1, 7, 301])
@pytest.mark.parametrize("source", ["aligned", "statistical"])
def test_hierarchy_is_nested_for_any_length(n_frames, source):
    rng = np.random.default_rng(n_frames)
    edges = np.cumsum(rng.uniform(0.02, 0.15, size=200))
    phones = [(a, b, "p") for a, b in zip(edges[:-1], edges[1:]) if rng.random() > 0.1]  # with pauses
    words = [(phones[i][0], phones[min(i + 2, len(phones) - 1)][1], "w") for i in range(0, len(phones) - 3, 3)]
    units = hierarchy(n_frames, 30.0, phones, words, source)
    for level in ("phone", "word", "utterance"):
        assert _valid_index(units[level], n_frames)
    assert _nested(units["phone"], units["word"]) and _nested(units["word"], units["utterance"])


def test_aligned_words_group_into_utterance_chunks_of_about_a_second():
    words = [(0.3 * i, 0.3 * i + 0.25, f"w{i}") for i in range(20)]  # 20 words with pauses, 6 s
    phones = [(0.3 * i, 0.3 * i + 0.25, "p") for i in range(20)]
    units = hierarchy(180, 30.0, phones, words, "aligned")
    lengths = np.bincount(units["utterance"])
    assert (lengths[:-1] >= 32).all() and (lengths[:-1] <= 32 + 9).all()  # closed at the first word past 32 frames
    assert units["word"].max() + 1 == 40  # 20 words + 20 pauses (the first starts at 0)
    assert group_units(np.array([0, 0, 1, 2, 2, 2, 3]), 3).tolist() == [0, 0, 0, 1, 1, 1, 2]


def test_aligned_units_without_tiers_fail_instead_of_falling_back():
    from histalk_bench.common.errors import UserError
    from histalk_bench.align.units import resolve_units

    words = [(0.0, 0.5, "w")]
    for phones, tier_words in ((None, None), (None, words), (words, None)):
        with pytest.raises(ValueError, match="both a phones and a words tier"):
            hierarchy(30, 30.0, phones, tier_words, "aligned")
    with pytest.raises(ValueError):
        hierarchy(3, 30.0, source="syllables")
    assert resolve_units("auto", True) == "aligned" and resolve_units("auto", False) == "statistical"
    assert resolve_units("statistical", True) == "statistical"
    with pytest.raises(UserError, match="c.h5.*prepare --aligner"):
        resolve_units("aligned", False, "c.h5")


def test_units_from_a_prepared_cache(vocaset_cache):
    from histalk_bench.cache import Cache

    with Cache(vocaset_cache) as cache:
        ref = cache.sequences("train")[0]
        phones, words = cache.tier(ref.subject, ref.sentence, "phones"), cache.tier(ref.subject, ref.sentence, "words")
        assert phones and words
        units = hierarchy(ref.n_frames, cache.fps, phones, words, "aligned")
    n_words = len(words)
    assert n_words <= units["word"].max() + 1 <= 2 * n_words + 1  # words plus pauses
    assert units["phone"].max() > units["word"].max() > units["utterance"].max()
    assert _nested(units["phone"], units["word"]) and _nested(units["word"], units["utterance"])
