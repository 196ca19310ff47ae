"""Write the synthetic corpus in the real on-disk layout of VOCASET (raw release) or BIWI
(processed layout), plus exact TextGrids, region files and ``synth_info.json``.

Subject and sentence names are the real ones, chosen so that for 3+ subjects and 3+
sentences every split of the standard protocol is non-empty.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile
import soxr
from praatio import textgrid

from ..common.atomic import discard, ensure_free_space, track, untrack
from ..common.errors import UserError
from .face import FaceRig, activations, animate, build_face
from .levels import Knobs, Style, draw_style, knobs_record, level_curves, plan_effects, resolve_knobs
from .sentences import SENTENCES
from .speech import Utterance, Voice, synthesise_many

VOCASET_SUBJECT_ORDER = [
    "FaceTalk_170725_00137_TA", "FaceTalk_170811_03275_TA", "FaceTalk_170809_00138_TA",
    "FaceTalk_170728_03272_TA", "FaceTalk_170731_00024_TA", "FaceTalk_170904_00128_TA",
    "FaceTalk_170908_03277_TA", "FaceTalk_170915_00223_TA", "FaceTalk_170811_03274_TA",
    "FaceTalk_170913_03279_TA", "FaceTalk_170904_03276_TA", "FaceTalk_170912_03278_TA",
]
BIWI_SUBJECT_ORDER = ["F2", "F1", "M3", "F5", "F3", "M1", "F4", "M4", "M5", "F6", "F7", "F8", "M2", "M6"]
LAYOUTS = {"vocaset": 60.0, "biwi": 25.0}  # frame rate of each layout's files


@dataclass
class _Take:
    subject: str
    sentence: str
    text: str
    utterance: Utterance
    vertices: np.ndarray  # (T, V, 3) at the layout's fps
    truth: dict  # the level effects applied (levels.plan_effects)


def vocaset_sentences(n: int) -> list[int]:
    """Sentence numbers: half from 01-20 (train only), half from 21-40 (all splits)."""
    first = (n + 1) // 2
    return list(range(1, first + 1)) + list(range(21, 21 + n - first))


def biwi_sentences(n: int) -> list[int]:
    """Sentence numbers spread over train e01-32, val e33-36 and test e37-40."""
    n_test = min(4, max(1, round(n * 0.2)))
    n_val = min(4, max(1, round(n * 0.15)))
    n_train = max(1, n - n_test - n_val)
    return list(range(1, n_train + 1)) + list(range(33, 33 + n_val)) + list(range(37, 37 + n_test))


def _voice(index: int, rng: np.random.Generator) -> Voice:
    return Voice(name=("en-us", "en")[index % 2], rate=int(rng.integers(140, 186)),
                 pitch=int(rng.integers(30, 71)), pitch_range=int(rng.integers(35, 70)))


def _text(subject_index: int, sentence_number: int) -> str:
    return SENTENCES[(sentence_number - 1 + 7 * subject_index) % len(SENTENCES)]


def _styled_voice(voice: Voice, style: Style) -> Voice:
    """The subject's voice speaking in a sentence's style: louder with energy, wider pitch with expressivity."""
    return replace(voice, volume=int(round(100 * style.energy)),
                   pitch_range=int(np.clip(round(voice.pitch_range * style.expressivity), 0, 100)))


def _takes(layout: str, subjects: list[str], numbers: list[int], seed: int, knobs: Knobs):
    fps = LAYOUTS[layout]
    plan = []
    for s_index, subject in enumerate(subjects):
        rng = np.random.default_rng([seed, s_index])
        voice = _voice(s_index, rng)
        subject_style = (float(rng.uniform(0.75, 1.25)), float(rng.uniform(0.6, 1.4)))
        for number in numbers:
            sentence = f"sentence{number:02d}" if layout == "vocaset" else f"e{number:02d}"
            # VOCASET subjects read different sentences; BIWI subjects all read the same 40
            text = _text(s_index if layout == "vocaset" else 0, number)
            style = draw_style(rng, text)
            plan.append((subject, sentence, text, _styled_voice(voice, style), subject_style, style, rng))
    utterances = synthesise_many([(text, voice) for _, _, text, voice, _, _, _ in plan])
    rigs = {subject: build_face(shape_seed=seed * 1000 + s_index) for s_index, subject in enumerate(subjects)}
    takes: list[_Take] = []
    for (subject, sentence, text, _, (amplitude, brow_gain), style, rng), utterance in zip(plan, utterances):
        duration = len(utterance.audio) / utterance.sample_rate
        blink_times = np.sort(rng.uniform(0, duration, size=int(rng.integers(0, 3))))
        truth = plan_effects(utterance, style, knobs)
        acts = activations(utterance.phones, utterance.stressed, duration, fps, amplitude=amplitude,
                           brow_gain=brow_gain * truth["brow_scale"], blink_times=blink_times,
                           levels=lambda times, t=truth: level_curves(t, times))
        truth.update(subject_amplitude=amplitude, subject_brow_gain=brow_gain,
                     blink_times=[round(float(t), 6) for t in blink_times])
        takes.append(_Take(subject, sentence, text, utterance, animate(rigs[subject], acts), truth))
    return rigs, takes


def _write_textgrid(path: Path, utterance: Utterance) -> None:
    duration = len(utterance.audio) / utterance.sample_rate
    grid = textgrid.Textgrid()
    for name, intervals in (("words", utterance.words), ("phones", utterance.phones)):
        entries = [(round(s, 6), round(min(e, duration), 6), label) for s, e, label in intervals if e > s]
        grid.addTier(textgrid.IntervalTier(name, entries, 0.0, duration))
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(str(path), format="long_textgrid", includeBlankSpaces=True)


def _write_common(out: Path, layout: str, rig: FaceRig, takes: list[_Take], seed: int, knobs: Knobs) -> None:
    for take in takes:
        _write_textgrid(out / "textgrids" / take.subject / f"{take.sentence}.TextGrid", take.utterance)
    (out / "regions").mkdir(exist_ok=True)
    (out / "regions" / "lve.txt").write_text(", ".join(map(str, rig.lip_ids.tolist())))
    (out / "regions" / "fdd.txt").write_text(", ".join(map(str, rig.upper_face_ids.tolist())))
    np.save(out / "faces.npy", rig.faces)
    info = {"synthetic": True, "layout": layout, "n_vertices": int(rig.template.shape[0]), "fps": LAYOUTS[layout],
            "seed": seed, "units": "metres", "faces_file": "faces.npy",
            "landmark_vertex_ids": rig.landmark_ids.tolist(),
            "regions": {"lip": "regions/lve.txt", "upper_face": "regions/fdd.txt"},
            "levels": knobs_record(knobs)}
    truth = {"units": "activations of the motion fields (brow 1 = 4 mm at the brow centre); times in seconds",
             "sequences": {f"{t.subject}/{t.sentence}": {"text": t.text, **t.truth} for t in takes}}
    (out / "synth_truth.json").write_text(json.dumps(truth, indent=1))
    (out / "synth_info.json").write_text(json.dumps(info, indent=1))


def _write_vocaset(out: Path, rigs: dict[str, FaceRig], takes: list[_Take], subjects: list[str]) -> None:
    total = sum(t.vertices.shape[0] for t in takes)
    n_vertices = next(iter(rigs.values())).template.shape[0]
    ensure_free_space(out, total * n_vertices * 3 * 4, "data_verts.npy")
    data = np.lib.format.open_memmap(out / "data_verts.npy", mode="w+", dtype=np.float32, shape=(total, n_vertices, 3))
    index: dict = {s: {} for s in subjects}
    audio: dict = {s: {} for s in subjects}
    row = 0
    for take in takes:
        n = take.vertices.shape[0]
        data[row : row + n] = take.vertices
        index[take.subject][take.sentence] = {frame: row + frame for frame in range(n)}
        pcm = np.clip(np.round(take.utterance.audio * 32767), -32768, 32767).astype(np.int16)
        audio[take.subject][take.sentence] = {"audio": pcm, "sample_rate": take.utterance.sample_rate}
        row += n
    data.flush()
    del data
    with open(out / "subj_seq_to_idx.pkl", "wb") as handle:
        pickle.dump(index, handle, protocol=2)
    with open(out / "raw_audio_fixed.pkl", "wb") as handle:
        pickle.dump(audio, handle, protocol=2)
    with open(out / "templates.pkl", "wb") as handle:
        pickle.dump({s: rigs[s].template for s in subjects}, handle, protocol=2)
    text_dir = out / "sentences_text"
    text_dir.mkdir(exist_ok=True)
    for s_index, subject in enumerate(subjects):
        lines = [_text(s_index, n) for n in range(1, 41)]
        (text_dir / f"{subject}.txt").write_text("\n".join(lines) + "\n")


def _write_biwi(out: Path, rigs: dict[str, FaceRig], takes: list[_Take], subjects: list[str]) -> None:
    (out / "vertices_npy").mkdir(exist_ok=True)
    (out / "wav").mkdir(exist_ok=True)
    for take in takes:
        name = f"{take.subject}_{take.sentence}"
        np.save(out / "vertices_npy" / f"{name}.npy", take.vertices.reshape(take.vertices.shape[0], -1))
        audio = soxr.resample(take.utterance.audio, take.utterance.sample_rate, 44100)
        soundfile.write(out / "wav" / f"{name}.wav", audio, 44100, subtype="PCM_16")
    with open(out / "templates.pkl", "wb") as handle:
        pickle.dump({s: rigs[s].template for s in subjects}, handle, protocol=2)
    lines = [f"{n}. {_text(0, n)}" for n in range(1, 41)]
    (out / "sentences.txt").write_text("\n".join(lines) + "\n")


def write_synthetic_corpus(out: str | Path, layout: str = "vocaset", n_subjects: int = 4,
                           n_sentences: int = 6, seed: int = 0, hierarchy: str | None = None,
                           word_effects: float | None = None, utterance_effects: float | None = None) -> Path:
    """Write the corpus into ``out`` (created); deterministic for a given seed. Returns ``out``.

    ``hierarchy`` (phone, word, full; default full) presets the word and utterance effect
    strengths; ``word_effects`` / ``utterance_effects`` in [0, 1] override it (see ``levels``)."""
    knobs = resolve_knobs(hierarchy, word_effects, utterance_effects)
    if layout not in LAYOUTS:
        raise UserError(f"unknown layout '{layout}' (choose vocaset or biwi)")
    order = VOCASET_SUBJECT_ORDER if layout == "vocaset" else BIWI_SUBJECT_ORDER
    if not 1 <= n_subjects <= len(order):
        raise UserError(f"--subjects must be between 1 and {len(order)} for {layout}")
    if not 1 <= n_sentences <= 40:
        raise UserError("--sentences must be between 1 and 40")
    out = Path(out)
    _check_target(out)
    final, out = out, _staging(out)
    subjects = order[:n_subjects]
    numbers = vocaset_sentences(n_sentences) if layout == "vocaset" else biwi_sentences(n_sentences)
    rigs, takes = _takes(layout, subjects, numbers, seed, knobs)
    if layout == "vocaset":
        _write_vocaset(out, rigs, takes, subjects)
    else:
        _write_biwi(out, rigs, takes, subjects)
    _write_common(out, layout, rigs[subjects[0]], takes, seed, knobs)
    return _publish(out, final)


def _check_target(out: Path) -> None:
    """``out`` may be missing, empty, or an earlier synthetic corpus (replaced whole); nothing else."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "synth_info.json").exists())):
        raise UserError("exists and is not an empty folder or an earlier synthetic corpus; choose another --out", out)


def _staging(out: Path) -> Path:
    """A fresh sibling folder the corpus is written into, removed if the command fails."""
    staging = out.parent / f".{out.name}.partial"
    discard(staging)
    staging.mkdir(parents=True)
    return track(staging)


def _publish(staging: Path, out: Path) -> Path:
    """Swap the finished corpus into place, so ``out`` never holds half a corpus."""
    previous = out.parent / f".{out.name}.previous"
    if out.exists():
        discard(previous)
        os.replace(out, previous)
    os.replace(staging, out)
    untrack(staging)
    discard(previous)
    return out
