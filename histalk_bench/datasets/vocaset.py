"""VOCASET recipe: the raw release or the processed layout, auto-detected.

Raw release: ``data_verts.npy`` (frames, 5023, 3) at 60 fps read memory-mapped (the real file is
7.4 GB and is never loaded whole), ``subj_seq_to_idx.pkl``, ``raw_audio_fixed.pkl``,
``templates.pkl`` (Python-2 pickles, read with the restricted unpickler).
Processed layout: ``vertices_npy/<subject>_<sentenceNN>.npy`` (T, 15069) at 60 fps,
``wav/<subject>_<sentenceNN>.wav``, ``templates.pkl``.
Both are stored at 30 fps as every method trains and evaluates: exactly ``[::2]`` of the 60 fps frames.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..common.audio import check_audio, read_audio_16k, resample_to_16k
from ..common.errors import UserError
from ..common.safe_pickle import load_pickle
from .base import DatasetEntry, DatasetHeader, ReaderOptions, Release, SourceSequence
from .common import (faces_for, numbered_lines, read_synth_info, read_templates, require, resolve_landmarks,
                     resolve_regions)
from .splits import VOCASET_TEST, VOCASET_TRAIN, VOCASET_VAL, vocaset_split

FLAME_VERTICES = 5023
SOURCE_FPS = 60.0
FPS = 30.0
KNOWN_SUBJECTS = set(VOCASET_TRAIN + VOCASET_VAL + VOCASET_TEST)
_SENTENCE = re.compile(r"^sentence(\d{2})$")


def detect_layout(root: Path) -> str:
    """'raw' when data_verts.npy is present, 'processed' when vertices_npy/ is, else an error."""
    if (root / "data_verts.npy").exists():
        return "raw"
    if (root / "vertices_npy").is_dir():
        return "processed"
    raise UserError("no VOCASET release found: expected data_verts.npy (raw release) or vertices_npy/ (processed layout)", root)


def _check_names(subject: str, sentence: str, source: str, known: set[str]) -> None:
    if subject not in known:
        raise UserError(f"unknown subject '{subject}' (not a VOCASET subject)", source)
    match = _SENTENCE.match(sentence)
    if not match or not 1 <= int(match.group(1)) <= 40:
        raise UserError(f"unknown sentence name '{sentence}' (expected sentence01..sentence40)", source)


def _transcripts(root: Path, spec: str | None, subjects) -> dict[tuple[str, str], str]:
    """Per-subject text files (line N = sentenceNN) from --transcripts or root/sentences_text."""
    folders = [Path(spec)] if spec else [root / "sentences_text", root / "sentencestext", root]
    out = {}
    for subject in subjects:
        for folder in folders:
            path = folder / f"{subject}.txt"
            if path.exists():
                for number, text in numbered_lines(path).items():
                    out[(subject, f"sentence{number:02d}")] = text
                break
    return out


def _raw_sources(root: Path, n_vertices: int, known: set[str], templates: dict) -> list[SourceSequence]:
    verts_path = root / "data_verts.npy"
    index_path = require(root / "subj_seq_to_idx.pkl", "VOCASET index")
    audio_path = require(root / "raw_audio_fixed.pkl", "VOCASET audio")
    try:
        data = np.load(verts_path, mmap_mode="r")
    except Exception as exc:
        raise UserError(f"not a readable .npy array ({exc.__class__.__name__})", verts_path) from None
    if data.ndim != 3 or data.shape[1:] != (n_vertices, 3):
        raise UserError(f"wrong vertex count: array shape {tuple(data.shape)}, expected (frames, {n_vertices}, 3)", verts_path)
    index = load_pickle(index_path)
    audio = load_pickle(audio_path)
    if not isinstance(index, dict):
        raise UserError("expected dict[subject][sentence][frame] -> row", index_path)
    sources = []
    for subject in sorted(index):
        for sentence in sorted(index[subject]):
            _check_names(subject, sentence, str(index_path), known)
            if subject not in templates:
                raise UserError(f"no template for subject '{subject}'", root / "templates.pkl")
            frames = index[subject][sentence]
            rows = np.asarray([frames[k] for k in sorted(frames)], dtype=np.int64)
            if rows.size == 0 or rows.max() >= data.shape[0] or rows.min() < 0:
                raise UserError(f"{subject}/{sentence}: frame rows disagree with data_verts.npy "
                                f"({data.shape[0]} frames)", index_path)
            entry = audio.get(subject, {}).get(sentence) if isinstance(audio, dict) else None
            sources.append(SourceSequence(
                subject, sentence, vocaset_split(subject, sentence), "",
                load_vertices=_raw_vertex_loader(verts_path, rows),
                load_audio=_raw_audio_loader(entry, f"{audio_path} [{subject}/{sentence}]"),
                vertex_source=f"{verts_path} [{subject}/{sentence}]"))
    return sources


def _raw_vertex_loader(verts_path: Path, rows: np.ndarray):
    """Reads one sequence through its own short-lived memory map, so mapped pages are released
    after each sequence and peak memory does not grow with the size of data_verts.npy."""
    def load() -> np.ndarray:
        data = np.load(verts_path, mmap_mode="r")
        picked = rows[::2]  # 60 -> 30 fps: exactly every second frame
        if np.all(np.diff(picked) == 2):
            out = np.array(data[picked[0] : picked[-1] + 1 : 2])
        else:
            out = np.array(data[np.sort(picked)])[np.argsort(np.argsort(picked))]
        del data
        return out
    return load


def _raw_audio_loader(entry, source: str):
    def load() -> np.ndarray:
        if not isinstance(entry, dict) or "audio" not in entry or "sample_rate" not in entry:
            raise UserError("no audio for this sequence (expected {'audio', 'sample_rate'})", source)
        return check_audio(resample_to_16k(np.asarray(entry["audio"]), int(entry["sample_rate"])), source)
    return load


def _processed_sources(root: Path, n_vertices: int, known: set[str], templates: dict) -> list[SourceSequence]:
    sources = []
    for path in sorted((root / "vertices_npy").glob("*.npy")):
        match = re.match(r"^(.+)_(sentence\d+)$", path.stem)
        if not match:
            raise UserError("file name is not <subject>_<sentenceNN>.npy", path)
        subject, sentence = match.groups()
        _check_names(subject, sentence, str(path), known)
        if subject not in templates:
            raise UserError(f"no template for subject '{subject}'", root / "templates.pkl")
        wav = root / "wav" / f"{path.stem}.wav"
        sources.append(SourceSequence(
            subject, sentence, vocaset_split(subject, sentence), "",
            load_vertices=_npy_vertex_loader(path, n_vertices, step=2),
            load_audio=lambda wav=wav: read_audio_16k(wav), vertex_source=str(path)))
    return sources


def _npy_vertex_loader(path: Path, n_vertices: int, step: int):
    def load() -> np.ndarray:
        try:
            array = np.load(path, mmap_mode="r")
        except Exception as exc:
            raise UserError(f"not a readable .npy array ({exc.__class__.__name__})", path) from None
        if array.ndim != 2 or array.shape[1] != n_vertices * 3:
            raise UserError(f"wrong vertex count: shape {tuple(array.shape)}, expected (T, {n_vertices * 3})", path)
        return np.asarray(array[::step], dtype=np.float32).reshape(-1, n_vertices, 3)
    return load


def read_vocaset(root: Path, options: ReaderOptions) -> Release:
    """Read and validate a VOCASET release (raw or processed layout) at ``root``."""
    if not root.is_dir():
        raise UserError("dataset root is not a directory", root)
    layout = detect_layout(root)
    info = read_synth_info(root)
    n_vertices = int(info["n_vertices"]) if info else FLAME_VERTICES
    templates = read_templates(root / "templates.pkl")
    known = set(templates) if info else KNOWN_SUBJECTS
    faces = faces_for(root, info, options.mesh, n_vertices)
    header = DatasetHeader("vocaset", FPS, n_vertices, templates, faces,
                           resolve_regions(root, info, options.regions, options.regions_preset),
                           resolve_landmarks(root, info, options.landmarks, faces))
    sources = (_raw_sources if layout == "raw" else _processed_sources)(root, n_vertices, known, templates)
    texts = _transcripts(root, options.transcripts, {s.subject for s in sources})
    for source in sources:
        source.transcript = texts.get((source.subject, source.sentence), "")
    return Release(header, sources, {"root": str(root.resolve()), "layout": layout, "synthetic": bool(info)})




VOCASET = DatasetEntry(
    "vocaset",
    read=read_vocaset,
    train_speakers=tuple(VOCASET_TRAIN),
    # papers print LVE x1e-5 m^2, FDD x1e-7 m^2, MVE in mm
    display_scale={"lve": 1e5, "fdd": 1e7, "mve": 1e3, "lrp": 1.0},
    # about 3 mm of lip error (VOCASET is in metres)
    lrp_threshold=3e-3,
    region_help="get FLAME_masks.pkl (FLAME website) or FaceDiffuser's data/vocaset/regions/lve.txt and fdd.txt and "
                "re-run 'histalk-bench prepare vocaset ... --regions PATH' (presets: flame-masks, facediffuser-vocaset)",
)
