"""Word- and utterance-level effects of the synthetic corpus: knobs, recorded truth, and the motion."""

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
from praatio import textgrid

from histalk_bench.common.errors import UserError
from histalk_bench.synth import write_synthetic_corpus
from histalk_bench.synth.face import build_face, viseme_target
from histalk_bench.synth.levels import resolve_knobs

RIG = build_face(shape_seed=0)  # the motion fields depend on the grid only, not on the subject's shape
CHIN = int(np.argmin(RIG.template[:, 1]))
BROW = int(np.argmax(np.linalg.norm(RIG.fields["brow"], axis=1)))


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """The same seed written with the phone, word and full presets (4 subjects x 6 sentences)."""
    base = tmp_path_factory.mktemp("levels")
    return {h: write_synthetic_corpus(base / h, "vocaset", 4, 6, seed=3, hierarchy=h) for h in ("phone", "word", "full")}


def _motion(root):
    """{'subject/sentence': (T, V, 3) motion}, the truth per sequence, and synth_info."""
    data = np.load(root / "data_verts.npy", mmap_mode="r")
    with open(root / "subj_seq_to_idx.pkl", "rb") as handle:
        index = pickle.load(handle)
    with open(root / "templates.pkl", "rb") as handle:
        templates = pickle.load(handle)
    motion = {f"{s}/{q}": np.asarray(data[[fr[k] for k in sorted(fr)]]) - templates[s][None]
              for s, seqs in index.items() for q, fr in seqs.items()}
    truth = json.loads((root / "synth_truth.json").read_text())["sequences"]
    return motion, truth, json.loads((root / "synth_info.json").read_text())


def _phones(root, key):
    subject, sentence = key.split("/")
    grid = textgrid.openTextgrid(str(root / "textgrids" / subject / f"{sentence}.TextGrid"), False)
    return grid.getTier("phones").entries


def _region_std(motion, ids):
    """Mean over the vertices ``ids`` of the total standard deviation over time (metres)."""
    part = motion[:, ids]
    return float(np.sqrt(((part - part.mean(0)) ** 2).sum(-1).mean(0)).mean())


def test_presets_and_overrides_resolve_and_bad_values_fail():
    assert resolve_knobs() == resolve_knobs("full")
    assert (resolve_knobs("phone").word, resolve_knobs("phone").utterance) == (0.0, 0.0)
    assert resolve_knobs("full", word=0.0, utterance=0.0).preset == "phone"
    custom = resolve_knobs("phone", word=0.5)
    assert (custom.word, custom.utterance, custom.preset) == (0.5, 0.0, "custom")
    for bad in ({"word": 1.5}, {"utterance": -0.1}, {"word": float("nan")}):
        with pytest.raises(UserError):
            resolve_knobs(**bad)
    with pytest.raises(UserError):
        resolve_knobs("sentence")


def test_cli_rejects_a_knob_out_of_range(tmp_path):
    done = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "synth", "--out", str(tmp_path / "x"),
                           "--word-effects", "2"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("error:") and "Traceback" not in done.stderr
    assert not (tmp_path / "x").exists()


def test_knobs_change_the_motion_not_the_audio_and_are_recorded(corpora):
    for name in ("raw_audio_fixed.pkl", "subj_seq_to_idx.pkl", "templates.pkl"):
        assert (corpora["phone"] / name).read_bytes() == (corpora["full"] / name).read_bytes()
    assert (corpora["phone"] / "data_verts.npy").read_bytes() != (corpora["word"] / "data_verts.npy").read_bytes()
    for preset, (w, u) in {"phone": (0, 0), "word": (1, 0), "full": (1, 1)}.items():
        levels = json.loads((corpora[preset] / "synth_info.json").read_text())["levels"]
        assert (levels["hierarchy"], levels["word_effects"], levels["utterance_effects"]) == (preset, w, u)
        truth = json.loads((corpora[preset] / "synth_truth.json").read_text())["sequences"]
        assert len(truth) == 24 and all(seq["words"] for seq in truth.values())


def _jaw_by_stress(root):
    """Chin drop at the middle of long open vowels, divided by its viseme target and the recorded
    mouth scales: (stressed, unstressed) lists."""
    motion, truth, _ = _motion(root)
    stressed, unstressed = [], []
    for key, m in motion.items():
        seq = truth[key]
        stress_ids = {w["stress_phone"] for w in seq["words"] if w["stress_phone"] is not None}
        for i, (start, end, label) in enumerate(_phones(root, key)):
            jaw = viseme_target(label)[0]
            if jaw < 0.5 or end - start < 0.06:
                continue
            drop = -m[min(int((start + end) / 2 * 60), len(m) - 1), CHIN, 1]
            (stressed if i in stress_ids else unstressed).append(drop / (jaw * seq["subject_amplitude"] * seq["mouth_scale"]))
    return stressed, unstressed


def test_recorded_stress_opens_the_jaw_only_with_word_effects(corpora):
    stressed, unstressed = _jaw_by_stress(corpora["phone"])
    assert len(stressed) >= 10 and len(unstressed) >= 10
    assert 0.9 < np.mean(stressed) / np.mean(unstressed) < 1.2  # off: stress does not change the jaw
    stressed, unstressed = _jaw_by_stress(corpora["word"])
    assert np.mean(stressed) / np.mean(unstressed) > 1.3  # on: stressed syllables open more


def test_content_words_raise_the_brows(corpora):
    """The brow difference word - phone at each word's accent time follows the recorded accent."""
    phone, _, _ = _motion(corpora["phone"])
    word, truth, _ = _motion(corpora["word"])
    content, function = [], []
    for key, seq in truth.items():
        gain = seq["subject_brow_gain"] * seq["brow_scale"]
        for w in seq["words"]:
            frame = min(int(w["accent_time"] * 60), len(word[key]) - 1)
            lift = (word[key][frame, BROW, 1] - phone[key][frame, BROW, 1]) / (RIG.fields["brow"][BROW, 1] * gain)
            (content if w["content"] else function).append((lift, w["brow_accent"]))
    assert content and function
    assert all(accent > 0 for _, accent in content) and all(accent == 0 for _, accent in function)
    assert all(lift >= 0.9 * accent for lift, accent in content)  # at least its own accent (neighbours add)
    assert np.mean([lift for lift, _ in content]) > 1.5 * np.mean([lift for lift, _ in function])


def test_utterance_style_scales_the_mouth_and_final_brows_follow_the_question(corpora):
    word, _, _ = _motion(corpora["word"])
    full, truth, _ = _motion(corpora["full"])
    for key, seq in truth.items():  # the chin moves with the jaw only (closure leaves it, whatever the style)
        ratio = _region_std(full[key], [CHIN]) / _region_std(word[key], [CHIN])
        assert abs(ratio - seq["mouth_scale"]) < 0.02 * seq["mouth_scale"]
        assert seq["mouth_scale"] == pytest.approx(seq["style"]["energy"])
    end_lift = {key: (full[key][-1, BROW, 1] - word[key][-1, BROW, 1]) for key in truth}
    questions = [key for key, seq in truth.items() if seq["style"]["question"]]
    statements = [key for key in truth if key not in questions]
    assert questions and statements
    assert all(end_lift[k] > 0 for k in questions) and all(end_lift[k] < 0 for k in statements)


def test_upper_face_motion_is_in_the_documented_range(corpora):
    """docs/commands/synth.md: upper-face / lip motion std about 0.2 (0.12-0.35) with the full preset,
    under 0.08 with the phone preset."""
    for preset, (low, high) in {"full": (0.12, 0.35), "phone": (0.0, 0.08)}.items():
        motion, _, _ = _motion(corpora[preset])
        ratios = [_region_std(m, RIG.upper_face_ids) / _region_std(m, RIG.lip_ids) for m in motion.values()]
        assert low < np.mean(ratios) < high, (preset, np.mean(ratios))


def test_biwi_layout_records_the_truth_of_every_sequence(biwi_corpus):
    truth = json.loads((biwi_corpus / "synth_truth.json").read_text())["sequences"]
    files = sorted(p.stem for p in (biwi_corpus / "vertices_npy").glob("*.npy"))
    assert sorted(key.replace("/", "_") for key in truth) == files
    for key, seq in truth.items():
        grid = textgrid.openTextgrid(str(biwi_corpus / "textgrids" / f"{key}.TextGrid"), False)
        assert [(w["start"], w["end"], w["word"]) for w in seq["words"]] == [
            (round(e.start, 6), round(e.end, 6), e.label) for e in grid.getTier("words").entries]
        assert seq["style"]["question"] == seq["text"].endswith("?")
