"""prepare vocaset/biwi on synthetic corpora in the real layouts, and every bad-input case."""

import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest

from histalk_bench.cache import Cache
from histalk_bench.datasets.prepare import prepare_biwi, prepare_vocaset


def _index(corpus):
    with open(corpus / "subj_seq_to_idx.pkl", "rb") as handle:
        return pickle.load(handle)


def test_raw_vocaset_is_stored_at_30fps_exactly(vocaset_corpus, vocaset_cache):
    data = np.load(vocaset_corpus / "data_verts.npy", mmap_mode="r")
    index = _index(vocaset_corpus)
    with Cache(vocaset_cache) as cache:
        assert cache.dataset == "vocaset" and cache.fps == 30.0
        refs = cache.sequences()
        assert len(refs) == sum(len(s) for s in index.values())
        assert {r.split for r in refs} >= {"train", "val", "test"}
        for ref in refs[:5]:
            frames = index[ref.subject][ref.sentence]
            expected = data[[frames[k] for k in sorted(frames)]][::2]
            np.testing.assert_array_equal(cache.vertices(ref.subject, ref.sentence), expected)
            audio = cache.audio(ref.subject, ref.sentence)
            assert audio.dtype == np.float32 and abs(len(audio) / 16000 - ref.n_frames / 30) < 0.05
            assert ref.transcript and cache.tier(ref.subject, ref.sentence, "words")
            assert cache.feature(ref.subject, ref.sentence, "mel")[1] == 100.0
            assert cache.landmarks(ref.subject, ref.sentence).shape[0] == ref.n_frames
        assert set(cache.regions()) == {"lip", "upper_face", "lip_pairs"}  # lip_pairs: the mouth-opening points
        assert len(cache.region_info()["lip"]["sha256"]) == 64


def test_processed_vocaset_layout_gives_the_same_cache(vocaset_corpus, vocaset_cache, tmp_path):
    import soundfile

    processed = tmp_path / "processed"
    (processed / "vertices_npy").mkdir(parents=True)
    (processed / "wav").mkdir()
    data = np.load(vocaset_corpus / "data_verts.npy", mmap_mode="r")
    with open(vocaset_corpus / "raw_audio_fixed.pkl", "rb") as handle:
        audio = pickle.load(handle)
    for subject, sentences in _index(vocaset_corpus).items():
        for sentence, frames in sentences.items():
            rows = [frames[k] for k in sorted(frames)]
            np.save(processed / "vertices_npy" / f"{subject}_{sentence}.npy", data[rows].reshape(len(rows), -1))
            soundfile.write(processed / "wav" / f"{subject}_{sentence}.wav", audio[subject][sentence]["audio"], 22050)
    for name in ("templates.pkl", "synth_info.json", "faces.npy"):
        shutil.copy(vocaset_corpus / name, processed / name)
    shutil.copytree(vocaset_corpus / "regions", processed / "regions")
    out = tmp_path / "processed.h5"
    prepare_vocaset(processed, out, progress=False)
    with Cache(out) as mine, Cache(vocaset_cache) as raw:
        assert [r.key for r in mine.sequences()] == [r.key for r in raw.sequences()]
        ref = raw.sequences()[0]
        np.testing.assert_array_equal(mine.vertices(ref.subject, ref.sentence), raw.vertices(ref.subject, ref.sentence))
        np.testing.assert_allclose(mine.audio(ref.subject, ref.sentence), raw.audio(ref.subject, ref.sentence), atol=1e-4)


def test_biwi_splits_and_selected_landmarks(biwi_corpus, tmp_path):
    out = tmp_path / "biwi.h5"
    summary = prepare_biwi(biwi_corpus, out, progress=False)
    assert summary.written > 0
    with Cache(out) as cache:
        assert cache.fps == 25.0
        assert {r.split for r in cache.sequences()} >= {"train", "val", "test_a", "test_b"}
        ref = cache.sequences("train")[0]
        assert ref.transcript  # from sentences.txt
        vertices = np.load(biwi_corpus / "vertices_npy" / f"{ref.subject}_{ref.sentence}.npy")
        np.testing.assert_array_equal(cache.vertices(ref.subject, ref.sentence).reshape(len(vertices), -1), vertices)


def test_biwi_landmark_selection_is_reproducible_without_given_landmarks(biwi_corpus, tmp_path):
    import json

    corpus = tmp_path / "corpus"
    shutil.copytree(biwi_corpus, corpus)
    info = json.loads((corpus / "synth_info.json").read_text())
    info.pop("landmark_vertex_ids")
    (corpus / "synth_info.json").write_text(json.dumps(info))
    maps = []
    for name in ("a.h5", "b.h5"):
        prepare_biwi(corpus, tmp_path / name, progress=False)
        with Cache(tmp_path / name) as cache:
            maps.append(cache.landmark_map()[0])
            assert cache.landmark_map_info()["kind"] == "selected"
            lip_or_upper = np.union1d(cache.regions()["lip"], cache.regions()["upper_face"])
    np.testing.assert_array_equal(maps[0], maps[1])
    assert np.isin(maps[0][:, 0], lip_or_upper).all()


def test_second_run_does_no_work(vocaset_corpus, tmp_path):
    out = tmp_path / "c.h5"
    first = prepare_vocaset(vocaset_corpus, out, features="mel", progress=False)
    mtime = os.stat(out).st_mtime_ns
    second = prepare_vocaset(vocaset_corpus, out, features="mel", progress=False)
    assert first.written > 0 and second.up_to_date and os.stat(out).st_mtime_ns == mtime
    third = prepare_vocaset(vocaset_corpus, out, features="mel", aligner="oracle", progress=False)
    assert third.written == first.written  # alignment added: sequences extended, not re-read from raw
    with Cache(out) as cache:
        ref = cache.sequences()[0]
        assert cache.tier(ref.subject, ref.sentence, "phones") and cache.feature_names(ref.subject, ref.sentence) == ["mel"]


# ---------------------------------------------------------------------------------------------
# bad input: one-line error naming the file, exit code 2, no traceback, no cache left


@pytest.fixture
def corpus_copy(vocaset_corpus, tmp_path):
    target = tmp_path / "corpus"
    shutil.copytree(vocaset_corpus, target)
    return target


def _prepare_cli(root, out, *extra):
    return subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "prepare", "vocaset", "--root", str(root),
                           "--out", str(out), "--features", "none", "--quiet", *extra], capture_output=True, text=True)


def _assert_clean_failure(result, out, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert not out.exists() and not out.with_name(out.name + ".parts").exists()


def _rewrite_pickle(path, change):
    with open(path, "rb") as handle:
        value = pickle.load(handle)
    change(value)
    with open(path, "wb") as handle:
        pickle.dump(value, handle, protocol=2)


def test_missing_file(corpus_copy, tmp_path):
    (corpus_copy / "raw_audio_fixed.pkl").unlink()
    out = tmp_path / "c.h5"
    _assert_clean_failure(_prepare_cli(corpus_copy, out), out, "raw_audio_fixed.pkl", "not found")


def test_wrong_vertex_count(corpus_copy, tmp_path):
    data = np.load(corpus_copy / "data_verts.npy")
    np.save(corpus_copy / "data_verts.npy", data[:, :-1])
    out = tmp_path / "c.h5"
    _assert_clean_failure(_prepare_cli(corpus_copy, out), out, "data_verts.npy", "wrong vertex count")


def test_nan_vertices(corpus_copy, tmp_path):
    data = np.load(corpus_copy / "data_verts.npy", mmap_mode="r+")
    data[4, 5, 0] = np.nan  # an even row: kept by [::2]
    data.flush()
    out = tmp_path / "c.h5"
    _assert_clean_failure(_prepare_cli(corpus_copy, out), out, "data_verts.npy", "NaN")
    result = _prepare_cli(corpus_copy, out, "--skip-bad")
    assert result.returncode == 0 and "1 bad sequences skipped" in result.stdout
    with Cache(out) as cache:
        assert len(cache.sequences()) == sum(len(s) for s in _index(corpus_copy).values()) - 1


def test_frame_rows_disagree_with_index(corpus_copy, tmp_path):
    def stretch(index):
        subject = sorted(index)[0]
        sentence = sorted(index[subject])[0]
        index[subject][sentence][10**6] = 10**6

    _rewrite_pickle(corpus_copy / "subj_seq_to_idx.pkl", stretch)
    out = tmp_path / "c.h5"
    _assert_clean_failure(_prepare_cli(corpus_copy, out), out, "subj_seq_to_idx.pkl", "disagree")


def test_empty_audio(corpus_copy, tmp_path):
    def empty(audio):
        subject = sorted(audio)[0]
        audio[subject][sorted(audio[subject])[0]]["audio"] = np.zeros(0, np.int16)

    _rewrite_pickle(corpus_copy / "raw_audio_fixed.pkl", empty)
    out = tmp_path / "c.h5"
    _assert_clean_failure(_prepare_cli(corpus_copy, out), out, "raw_audio_fixed.pkl", "audio is empty")


def test_unknown_subject_and_sentence(corpus_copy, tmp_path):
    def rename(index):
        subject = sorted(index)[0]
        index[subject]["sentenceXX"] = index[subject].pop(sorted(index[subject])[0])

    _rewrite_pickle(corpus_copy / "subj_seq_to_idx.pkl", rename)
    out = tmp_path / "c.h5"
    _assert_clean_failure(_prepare_cli(corpus_copy, out), out, "unknown sentence name 'sentenceXX'")

    def stranger(index):
        index["Someone_Else"] = index.pop(sorted(index)[0])

    _rewrite_pickle(corpus_copy / "subj_seq_to_idx.pkl", stranger)
    _assert_clean_failure(_prepare_cli(corpus_copy, out), out, "unknown subject 'Someone_Else'")


def test_region_ids_out_of_range(corpus_copy, tmp_path):
    (corpus_copy / "regions" / "lve.txt").write_text("1, 2, 999999")
    out = tmp_path / "c.h5"
    _assert_clean_failure(_prepare_cli(corpus_copy, out), out, "lve.txt", "out of range")


def test_region_preset_detects_a_wrong_file(corpus_copy, tmp_path):
    out = tmp_path / "c.h5"
    result = _prepare_cli(corpus_copy, out, "--regions", str(corpus_copy / "regions"), "--regions-preset", "facediffuser-vocaset")
    _assert_clean_failure(result, out, "lve.txt", "does not match preset")


def test_malicious_pickle_is_refused_and_not_executed(corpus_copy, tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(corpus_copy / "templates.pkl", "wb") as handle:
        pickle.dump({"x": Exploit()}, handle)
    out = tmp_path / "c.h5"
    _assert_clean_failure(_prepare_cli(corpus_copy, out), out, "templates.pkl", "refused to unpickle", "system")
    assert not marker.exists()


def test_kill_9_during_prepare_then_resume(vocaset_corpus, tmp_path):
    """A prepare killed mid-run leaves no cache; the re-run completes it identically."""
    import signal
    import time

    out = tmp_path / "c.h5"
    process = subprocess.Popen([sys.executable, "-m", "histalk_bench.cli.main", "prepare", "vocaset", "--root",
                                str(vocaset_corpus), "--out", str(out), "--features", "mel", "--quiet"])
    parts = out.with_name(out.name + ".parts")
    deadline = time.time() + 60
    while time.time() < deadline and not (parts.exists() and len(list(parts.glob("*.h5"))) >= 2):
        if process.poll() is not None:
            break
        time.sleep(0.005)
    killed = process.poll() is None
    if killed:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not out.exists() or process.returncode == 0
    finished_shards = len(list(parts.glob("*.h5"))) if killed else 0
    resumed = prepare_vocaset(vocaset_corpus, out, features="mel", progress=False)
    if killed:  # the shards finished before the kill are reused, not recomputed
        assert finished_shards >= 2 and resumed.reused >= finished_shards
        assert resumed.reused + resumed.written == 16
    clean = tmp_path / "clean.h5"
    prepare_vocaset(vocaset_corpus, clean, features="mel", progress=False)
    with Cache(out) as a, Cache(clean) as b:
        assert [r.key for r in a.sequences()] == [r.key for r in b.sequences()]
        for ref in b.sequences():
            np.testing.assert_array_equal(a.vertices(ref.subject, ref.sentence), b.vertices(ref.subject, ref.sentence))
            np.testing.assert_array_equal(a.feature(ref.subject, ref.sentence, "mel")[0], b.feature(ref.subject, ref.sentence, "mel")[0])


# ---------------------------------------------------------------------------------------------
# bad input in the processed layout (BIWI): same guarantees


@pytest.fixture
def biwi_copy(biwi_corpus, tmp_path):
    target = tmp_path / "biwi"
    shutil.copytree(biwi_corpus, target)
    return target


def _first_npy(corpus):
    return sorted((corpus / "vertices_npy").glob("*.npy"))[0]


def _assert_biwi_fails(corpus, tmp_path, *fragments):
    from histalk_bench.common.errors import UserError

    out = tmp_path / "b.h5"
    with pytest.raises(UserError) as caught:
        prepare_biwi(corpus, out, progress=False)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert not out.exists() and not out.with_name(out.name + ".parts").exists()


def test_biwi_wrong_vertex_count(biwi_copy, tmp_path):
    path = _first_npy(biwi_copy)
    np.save(path, np.load(path)[:, :-3])
    _assert_biwi_fails(biwi_copy, tmp_path, path.name, "wrong vertex count")


def test_biwi_unreadable_and_missing_audio(biwi_copy, tmp_path):
    wav = biwi_copy / "wav" / (_first_npy(biwi_copy).stem + ".wav")
    wav.write_bytes(b"RIFF\x00\x00not audio")
    _assert_biwi_fails(biwi_copy, tmp_path, wav.name, "unreadable audio")
    wav.unlink()
    _assert_biwi_fails(biwi_copy, tmp_path, wav.name, "not found")


@pytest.mark.parametrize("name, fragment", [("F9_e01.npy", "unknown subject 'F9'"), ("F2_e41.npy", "unknown sentence name 'e41'"),
                                            ("F2-e01.npy", "unknown file name")])
def test_biwi_unknown_names(biwi_copy, tmp_path, name, fragment):
    shutil.copy(_first_npy(biwi_copy), biwi_copy / "vertices_npy" / name)
    _assert_biwi_fails(biwi_copy, tmp_path, name, fragment)


def test_biwi_bad_input_through_the_cli(biwi_copy, tmp_path):
    path = _first_npy(biwi_copy)
    data = np.load(path)
    data[0, 0] = np.inf
    np.save(path, data)
    out = tmp_path / "b.h5"
    result = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "prepare", "biwi", "--root", str(biwi_copy),
                             "--out", str(out), "--features", "none", "--quiet"], capture_output=True, text=True)
    _assert_clean_failure(result, out, path.name, "NaN or infinite")


def test_mesh_of_another_topology_or_garbage_is_refused(biwi_copy, tmp_path):
    from histalk_bench.common.errors import UserError

    out = tmp_path / "b.h5"
    wrong = tmp_path / "wrong_faces.npy"
    np.save(wrong, np.array([[0, 1, 10**6]]))
    with pytest.raises(UserError, match="wrong_faces.npy.*another topology"):
        prepare_biwi(biwi_copy, out, mesh=str(wrong), progress=False)
    garbage = tmp_path / "garbage.ply"
    garbage.write_bytes(b"ply\nformat nonsense\n")
    with pytest.raises(UserError, match="garbage.ply.*not a readable mesh"):
        prepare_biwi(biwi_copy, out, mesh=str(garbage), progress=False)
    assert not out.exists()


def test_partial_parallel_run_with_textgrids_and_landmark_file(vocaset_corpus, vocaset_cache, tmp_path):
    """--subjects, --limit, --jobs 2, --textgrids and a vertex-id landmark file together."""
    from histalk_bench.align.textgrid_io import read_textgrid

    subject = sorted(_index(vocaset_corpus))[1]
    landmark_file = tmp_path / "lmk.txt"
    landmark_file.write_text("3, 1, 2\n")
    out, grids = tmp_path / "part.h5", tmp_path / "grids"
    summary = prepare_vocaset(vocaset_corpus, out, subjects=[subject], limit=3, jobs=2, aligner="oracle",
                              textgrids=str(grids), landmarks=str(landmark_file), progress=False)
    assert summary.written == 3
    with Cache(out) as part, Cache(vocaset_cache) as full:
        refs = part.sequences()
        assert {r.subject for r in refs} == {subject} and len(refs) == 3
        assert part.landmark_map_info()["kind"] == "vertex_ids"
        for ref in refs:
            vertices = part.vertices(ref.subject, ref.sentence)
            np.testing.assert_array_equal(vertices, full.vertices(ref.subject, ref.sentence))
            np.testing.assert_array_equal(part.landmarks(ref.subject, ref.sentence), vertices[:, [3, 1, 2]])
            grid = read_textgrid(grids / ref.subject / f"{ref.sentence}.TextGrid")
            assert [w[2] for w in grid.words] == [w[2] for w in part.tier(ref.subject, ref.sentence, "words")] != []


def test_unknown_subject_in_subjects_option(vocaset_corpus, tmp_path):
    from histalk_bench.common.errors import UserError

    out = tmp_path / "c.h5"
    with pytest.raises(UserError, match="--subjects: no sequences for Nobody"):
        prepare_vocaset(vocaset_corpus, out, subjects=["Nobody"], progress=False)
    assert not out.exists()
