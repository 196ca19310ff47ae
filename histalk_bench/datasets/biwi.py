"""BIWI recipe: the processed layout everyone uses.

``vertices_npy/<subject>_eNN.npy`` (T, 70110) at 25 fps, ``wav/<subject>_eNN.wav`` (44.1 kHz),
``templates.pkl`` (dict[subject] -> (23370, 3)), transcripts in ``sentences.txt`` ("N. text").
Splits: train/val/test_a for F2 F3 F4 M3 M4 M5 (e01-32 / e33-36 / e37-40), test_b for the
other eight subjects (e37-40).  BIWI has no published landmark set: unless ``--landmarks`` is
given, landmarks are selected reproducibly by motion energy inside the lip and upper-face regions.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..common.audio import read_audio_16k
from ..common.errors import UserError
from .common import faces_for, select_sources, numbered_lines, read_synth_info, read_templates, resolve_landmarks, resolve_regions
from .pipeline import DatasetHeader, PrepareOptions, PrepareSummary, SourceSequence, run_prepare
from .splits import BIWI_TEST_B, BIWI_TRAIN, biwi_split
from .vocaset import _npy_vertex_loader

BIWI_VERTICES = 23370
FPS = 25.0
KNOWN_SUBJECTS = set(BIWI_TRAIN + BIWI_TEST_B)
_NAME = re.compile(r"^([FM]\d)_(e\d{2})$")


def prepare_biwi(root: str | os.PathLike, out: str | os.PathLike, *, aligner: str = "none", features: str = "none",
                 regions: str | None = None, regions_preset: str | None = None, landmarks: str | None = None,
                 mesh: str | None = None, transcripts: str | None = None, subjects: list[str] | None = None,
                 limit: int | None = None, **options) -> PrepareSummary:
    """Prepare BIWI (processed layout) from ``root`` into the cache ``out``."""
    root = Path(root)
    if not (root / "vertices_npy").is_dir():
        raise UserError("no BIWI release found: expected vertices_npy/ with <subject>_eNN.npy files", root)
    info = read_synth_info(root)
    n_vertices = int(info["n_vertices"]) if info else BIWI_VERTICES
    templates = read_templates(root / "templates.pkl")
    faces = faces_for(root, info, mesh, n_vertices)
    region_map = resolve_regions(root, info, regions, regions_preset)
    header = DatasetHeader("biwi", FPS, n_vertices, templates, faces, region_map,
                           resolve_landmarks(root, info, landmarks, faces))
    if region_map:
        header.landmark_candidates = np.union1d(region_map["lip"].ids, region_map["upper_face"].ids)
    texts_path = Path(transcripts) if transcripts else root / "sentences.txt"
    texts = numbered_lines(texts_path) if texts_path.exists() else {}
    sources = []
    for path in sorted((root / "vertices_npy").glob("*.npy")):
        match = _NAME.match(path.stem)
        if not match:
            raise UserError("unknown file name: expected <subject>_eNN.npy (e.g. F2_e01.npy)", path)
        subject, sentence = match.groups()
        if not 1 <= int(sentence[1:]) <= 40:
            raise UserError(f"unknown sentence name '{sentence}' (BIWI sentences are e01-e40)", path)
        if subject not in KNOWN_SUBJECTS:
            raise UserError(f"unknown subject '{subject}' (BIWI subjects are F1-F8, M1-M6)", path)
        if subject not in templates:
            raise UserError(f"no template for subject '{subject}'", root / "templates.pkl")
        wav = root / "wav" / f"{path.stem}.wav"
        sources.append(SourceSequence(
            subject, sentence, biwi_split(subject, sentence), texts.get(int(sentence[1:]), ""),
            load_vertices=_npy_vertex_loader(path, n_vertices, step=1),
            load_audio=lambda wav=wav: read_audio_16k(wav), vertex_source=str(path)))
    sources = select_sources(sources, subjects, limit, root)
    prepare_options = PrepareOptions(aligner=aligner, features=features, corpus_root=str(root), **options)
    root_config = {"root": str(root.resolve()), "layout": "processed", "synthetic": bool(info)}
    return run_prepare(out, header, sources, prepare_options, root_config)
