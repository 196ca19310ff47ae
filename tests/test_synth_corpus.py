"""The synthetic corpus: deterministic, real layouts, learnable motion."""

import hashlib
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from histalk_bench.common.errors import UserError
from histalk_bench.datasets.splits import biwi_split, vocaset_split
from histalk_bench.synth import write_synthetic_corpus
from histalk_bench.synth.face import build_face, viseme_target
from histalk_bench.synth.speech import Voice, synthesise


def _digest(folder):
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a = write_synthetic_corpus(tmp_path / "a", "vocaset", 3, 3, seed=5)
    b = write_synthetic_corpus(tmp_path / "b", "vocaset", 3, 3, seed=5)
    c = write_synthetic_corpus(tmp_path / "c", "vocaset", 3, 3, seed=6)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


def test_vocaset_raw_layout(vocaset_corpus):
    data = np.load(vocaset_corpus / "data_verts.npy", mmap_mode="r")
    with open(vocaset_corpus / "subj_seq_to_idx.pkl", "rb") as handle:
        index = pickle.load(handle)
    with open(vocaset_corpus / "raw_audio_fixed.pkl", "rb") as handle:
        audio = pickle.load(handle)
    info = json.loads((vocaset_corpus / "synth_info.json").read_text())
    assert data.ndim == 3 and data.shape[1:] == (info["n_vertices"], 3) and data.dtype == np.float32
    rows = sorted(r for s in index.values() for seq in s.values() for r in seq.values())
    assert rows == list(range(data.shape[0]))  # contiguous, every row used once
    splits = set()
    for subject, sentences in index.items():
        for sentence, frames in sentences.items():
            entry = audio[subject][sentence]
            assert entry["audio"].dtype == np.int16 and entry["sample_rate"] == 22050
            duration = len(entry["audio"]) / entry["sample_rate"]
            assert len(frames) == round(duration * 60)  # 60 fps
            assert sorted(frames) == list(range(len(frames)))
            splits.add(vocaset_split(subject, sentence))
            lines = (vocaset_corpus / "sentences_text" / f"{subject}.txt").read_text().splitlines()
            assert len(lines) == 40
            assert (vocaset_corpus / "textgrids" / subject / f"{sentence}.TextGrid").exists()
    assert {"train", "val", "test"} <= splits


def test_biwi_processed_layout(biwi_corpus):
    import soundfile

    splits = set()
    for path in sorted((biwi_corpus / "vertices_npy").glob("*.npy")):
        vertices = np.load(path)
        subject, sentence = path.stem.split("_")
        wav, rate = soundfile.read(biwi_corpus / "wav" / f"{path.stem}.wav")
        assert rate == 44100 and vertices.ndim == 2 and vertices.shape[1] % 3 == 0
        assert vertices.shape[0] == round(len(wav) / rate * 25)
        splits.add(biwi_split(subject, sentence))
    assert {"train", "val", "test_a", "test_b"} <= splits
    assert (biwi_corpus / "sentences.txt").read_text().startswith("1. ")


def test_espeak_events_are_ordered_and_inside_the_audio():
    utterance = synthesise("Bob opened a map.", Voice())
    duration = len(utterance.audio) / utterance.sample_rate
    assert [w[2] for w in utterance.words] == ["bob", "opened", "a", "map"]
    starts = [s for s, _, _ in utterance.phones]
    assert starts == sorted(starts)
    assert all(0 <= s < e <= duration + 1e-6 for s, e, _ in utterance.phones + utterance.words)
    assert utterance.phones[0][2] == "b"


def test_motion_follows_the_phones(vocaset_corpus):
    """Jaw opening is larger during open vowels than during bilabial closures; brows move."""
    from praatio import textgrid

    info = json.loads((vocaset_corpus / "synth_info.json").read_text())
    rig = build_face(shape_seed=0)
    data = np.load(vocaset_corpus / "data_verts.npy", mmap_mode="r")
    with open(vocaset_corpus / "subj_seq_to_idx.pkl", "rb") as handle:
        index = pickle.load(handle)
    with open(vocaset_corpus / "templates.pkl", "rb") as handle:
        templates = pickle.load(handle)
    chin = int(np.argmin(rig.template[:, 1]))  # lowest vertex: moves with the jaw
    open_drop, closed_drop, brow = [], [], []
    upper = np.asarray([int(t) for t in (vocaset_corpus / "regions" / "fdd.txt").read_text().split(",")])
    for subject, sentences in index.items():
        for sentence, frames in sentences.items():
            motion = data[[frames[k] for k in sorted(frames)]] - templates[subject][None]
            brow.append(np.abs(motion[:, upper]).max())
            grid = textgrid.openTextgrid(str(vocaset_corpus / "textgrids" / subject / f"{sentence}.TextGrid"), False)
            for start, end, label in grid.getTier("phones").entries:
                frame = min(int((start + end) / 2 * 60), len(motion) - 1)
                jaw, closure, _, _ = viseme_target(label)
                (open_drop if jaw >= 1.0 else closed_drop if closure >= 1.0 else []).append(-motion[frame, chin, 1])
    assert info["n_vertices"] == rig.template.shape[0]
    assert np.mean(open_drop) > 2 * np.mean(closed_drop)
    assert min(brow) > 0


def test_cli_rejects_unknown_layout(tmp_path):
    result = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "synth", "--layout", "nope", "--out", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    result = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "synth", "--out", str(tmp_path / "x"), "--subjects", "0"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_biwi_same_seed_same_bytes(tmp_path):
    a = write_synthetic_corpus(tmp_path / "a", "biwi", 3, 3, seed=3)
    b = write_synthetic_corpus(tmp_path / "b", "biwi", 3, 3, seed=3)
    assert _digest(a) == _digest(b)


def test_synth_writes_whole_corpora_only(tmp_path):
    """A corpus appears in one rename: a folder holding other files is refused, an earlier corpus
    is replaced whole, and no staging folder is left beside it."""
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not an empty folder"):
        write_synthetic_corpus(busy, "vocaset", 2, 2, seed=0)
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
    first = write_synthetic_corpus(tmp_path / "c", "vocaset", 2, 2, seed=0)
    again = write_synthetic_corpus(tmp_path / "c", "biwi", 2, 2, seed=0)
    assert first == again and not (again / "data_verts.npy").exists() and (again / "vertices_npy").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "c"]
