"""Cache schema v1: round trip, atomic shards, resume after a crash, reuse of an existing cache."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from histalk_bench.cache import SCHEMA_VERSION, Cache, CacheWriter, SequenceData
from histalk_bench.common.errors import UserError


def _sequence(subject, sentence, n_frames=7, n_vertices=11, seed=0, **extra):
    rng = np.random.default_rng(seed)
    return SequenceData(
        subject=subject,
        sentence=sentence,
        vertices=rng.normal(size=(n_frames, n_vertices, 3)).astype(np.float32),
        audio=rng.normal(size=1600 * n_frames // 3).astype(np.float32),
        split=extra.pop("split", "train"),
        **extra,
    )


def _writer(path, **kwargs):
    return CacheWriter(path, dataset="toy", fps=30.0, n_vertices=11, config={"root": "x"}, **kwargs)


def test_round_trip_every_field(tmp_path):
    path = tmp_path / "cache.h5"
    writer = _writer(path)
    writer.set_templates({"A": np.ones((11, 3))})
    writer.set_faces(np.array([[0, 1, 2], [2, 3, 4]]))
    writer.set_region("lip", np.array([1, 2, 3]), source="lve.txt", sha256="ab" * 32)
    writer.set_region("upper_face", np.array([7, 8]), source="fdd.txt", sha256="cd" * 32)
    writer.set_landmark_map(np.array([[0, 1, 2], [3, 4, 5]]), np.array([[0.2, 0.3, 0.5], [1, 0, 0]]), source="emb", kind="barycentric")
    features = {"mel": (np.arange(40, dtype=np.float32).reshape(10, 4), 100.0),
                "wav2vec2": (np.ones((5, 3, 2), np.float32), 50.0)}
    seq = _sequence("A", "s01", transcript="hello world", split="test",
                    phones=[(0.0, 0.1, "HH"), (0.1, 0.2, "AH")], words=[(0.0, 0.2, "hello")],
                    features=features, landmarks=np.zeros((7, 2, 3), np.float32),
                    attrs={"alignment": "oracle"})
    writer.write_sequence(seq)
    writer.finalize()
    assert not writer.parts.exists()

    with Cache(path) as cache:
        assert cache.dataset == "toy" and cache.fps == 30.0 and cache.n_vertices == 11
        assert cache.config == {"root": "x"}
        with h5py.File(path) as raw:
            assert raw.attrs["schema_version"] == SCHEMA_VERSION
            assert raw["sequences/A/s01/audio"].attrs["sample_rate"] == 16000
        np.testing.assert_array_equal(cache.template("A"), np.ones((11, 3), np.float32))
        assert cache.faces.dtype == np.int32 and cache.faces.shape == (2, 3)
        assert cache.region_info()["lip"] == {"source": "lve.txt", "sha256": "ab" * 32, "n": 3}
        np.testing.assert_array_equal(cache.regions()["upper_face"], [7, 8])
        ids, weights = cache.landmark_map()
        assert ids.shape == (2, 3) and weights.dtype == np.float32
        [ref] = cache.sequences("test")
        assert (ref.subject, ref.sentence, ref.n_frames, ref.transcript) == ("A", "s01", 7, "hello world")
        back = cache.read("A", "s01")
        np.testing.assert_array_equal(back.vertices, seq.vertices)
        np.testing.assert_array_equal(back.audio, seq.audio)
        assert back.phones == seq.phones and back.words == seq.words
        assert set(back.features) == {"mel", "wav2vec2"}
        assert back.features["wav2vec2"][0].shape == (5, 3, 2) and back.features["mel"][1] == 100.0
        assert back.attrs["alignment"] == "oracle"
        np.testing.assert_array_equal(cache.vertices("A", "s01", slice(2, 4)), seq.vertices[2:4])
        assert cache.sequences("train") == []


def test_missing_tiers_read_as_none(tmp_path):
    path = tmp_path / "c.h5"
    writer = _writer(path)
    writer.write_sequence(_sequence("A", "s01"))
    writer.finalize()
    with Cache(path) as cache:
        assert cache.tier("A", "s01", "phones") is None
        assert cache.feature("A", "s01", "mel") is None
        assert cache.landmarks("A", "s01") is None
        with pytest.raises(UserError, match="no sequence 'A/s99'"):
            cache.vertices("A", "s99")


def test_bad_split_is_rejected(tmp_path):
    writer = _writer(tmp_path / "c.h5")
    with pytest.raises(ValueError, match="split"):
        writer.write_sequence(_sequence("A", "s01", split="training"))


def test_not_a_cache_is_one_line_error(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(UserError) as info:
        Cache(junk)
    assert str(info.value).startswith(str(junk)) and "\n" not in str(info.value)
    with pytest.raises(UserError, match="file not found"):
        Cache(tmp_path / "absent.h5")
    with h5py.File(tmp_path / "other.h5", "w") as handle:
        handle.attrs["x"] = 1
    with pytest.raises(UserError, match="not a histalk-bench cache"):
        Cache(tmp_path / "other.h5")


def test_unfinished_shard_is_discarded_and_finished_ones_are_kept(tmp_path):
    path = tmp_path / "c.h5"
    writer = _writer(path)
    writer.write_sequence(_sequence("A", "s01", seed=1))
    # a crash mid-write leaves only a temporary file, never a shard that reads as complete
    (writer.parts / "A__s02.tmp").write_bytes(b"\x89HDF half written")
    resumed = _writer(path)
    assert resumed.is_done("A", "s01") and not resumed.is_done("A", "s02")
    assert not (writer.parts / "A__s02.tmp").exists()
    resumed.write_sequence(_sequence("A", "s02", seed=2))
    resumed.finalize()
    with Cache(path) as cache:
        assert [r.sentence for r in cache.sequences()] == ["s01", "s02"]
        np.testing.assert_array_equal(cache.vertices("A", "s01"), _sequence("A", "s01", seed=1).vertices)


def test_kill_9_mid_run_then_resume_matches_clean_run(tmp_path):
    """A writer process killed with SIGKILL is resumed; every sequence reads back identical."""
    script = textwrap.dedent(
        f"""
        import os, sys, time
        sys.path.insert(0, {os.getcwd()!r})
        from tests.test_cache_schema import _sequence, _writer
        writer = _writer(sys.argv[1])
        for i in range(50):
            if not writer.is_done("A", f"s{{i:02d}}"):
                writer.write_sequence(_sequence("A", f"s{{i:02d}}", n_vertices=11, seed=i))
                if i == 3 and len(sys.argv) > 2:
                    print("ready", flush=True)
                    time.sleep(60)
        writer.finalize()
        """
    )
    runner = tmp_path / "runner.py"
    runner.write_text(script)
    crashed = tmp_path / "crashed.h5"
    process = subprocess.Popen([sys.executable, str(runner), str(crashed), "pause"], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not crashed.exists()
    subprocess.run([sys.executable, str(runner), str(crashed)], check=True)
    clean = tmp_path / "clean.h5"
    subprocess.run([sys.executable, str(runner), str(clean)], check=True)
    with Cache(crashed) as a, Cache(clean) as b:
        assert [r.key for r in a.sequences()] == [r.key for r in b.sequences()]
        for ref in b.sequences():
            np.testing.assert_array_equal(a.vertices(ref.subject, ref.sentence), b.vertices(ref.subject, ref.sentence))


def test_existing_cache_sequences_are_reused_and_extended(tmp_path):
    path = tmp_path / "c.h5"
    writer = _writer(path)
    writer.write_sequence(_sequence("A", "s01", seed=3))
    writer.write_sequence(_sequence("A", "s02", seed=4))
    writer.finalize()

    again = _writer(path)
    assert again.is_done("A", "s01")
    loaded = again.load_done("A", "s01")
    loaded.features["mel"] = (np.zeros((3, 2), np.float32), 100.0)
    again.write_sequence(loaded)
    again.finalize()
    with Cache(path) as cache:
        assert cache.feature_names("A", "s01") == ["mel"]
        assert cache.feature_names("A", "s02") == []
        np.testing.assert_array_equal(cache.vertices("A", "s02"), _sequence("A", "s02", seed=4).vertices)

    forced = _writer(path, force=True)
    assert not forced.is_done("A", "s01")
    forced.abandon()


def test_reading_one_sequence_touches_only_its_chunks(tmp_path):
    path = tmp_path / "c.h5"
    writer = _writer(path)
    for i in range(3):
        writer.write_sequence(_sequence("A", f"s{i}", n_frames=90, seed=i))
    writer.finalize()
    with h5py.File(path) as raw:
        dataset = raw["sequences/A/s1/vertices"]
        assert dataset.chunks is not None and dataset.chunks[0] <= 30
        assert json.loads(raw.attrs["config"]) == {"root": "x"}
