"""BIWI recipe: the processed layout everyone uses.

``vertices_npy/<subject>_eNN.npy`` (T, 70110) at 25 fps, ``wav/<subject>_eNN.wav`` (44.1 kHz),
``templates.pkl`` (dict[subject] -> (23370, 3)), transcripts in ``sentences.txt`` ("N. text").
Splits: train/val/test_a for F2 F3 F4 M3 M4 M5 (e01-32 / e33-36 / e37-40), test_b for the
other eight subjects (e37-40).  BIWI has no published landmark set: unless ``--landmarks`` is
given, landmarks are selected reproducibly by motion energy inside the lip and upper-face regions.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..common.audio import read_audio_16k
from ..common.errors import UserError
from .base import DatasetEntry, DatasetHeader, ReaderOptions, Release, SourceSequence
from .common import faces_for, numbered_lines, read_synth_info, read_templates, resolve_landmarks, resolve_regions
from .splits import BIWI_TEST_B, BIWI_TRAIN, biwi_split
from .vocaset import _npy_vertex_loader

BIWI_VERTICES = 23370
FPS = 25.0
KNOWN_SUBJECTS = set(BIWI_TRAIN + BIWI_TEST_B)
_NAME = re.compile(r"^([FM]\d)_(e\d{2})$")


def read_biwi(root: Path, options: ReaderOptions) -> Release:
    """Read and validate a BIWI release (processed layout) at ``root``."""
    if not (root / "vertices_npy").is_dir():
        raise UserError("no BIWI release found: expected vertices_npy/ with <subject>_eNN.npy files", root)
    info = read_synth_info(root)
    n_vertices = int(info["n_vertices"]) if info else BIWI_VERTICES
    templates = read_templates(root / "templates.pkl")
    faces = faces_for(root, info, options.mesh, n_vertices)
    region_map = resolve_regions(root, info, options.regions, options.regions_preset)
    header = DatasetHeader("biwi", FPS, n_vertices, templates, faces, region_map,
                           resolve_landmarks(root, info, options.landmarks, faces))
    if region_map:
        header.landmark_candidates = np.union1d(region_map["lip"].ids, region_map["upper_face"].ids)
    texts_path = Path(options.transcripts) if options.transcripts else root / "sentences.txt"
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
    return Release(header, sources, {"root": str(root.resolve()), "layout": "processed", "synthetic": bool(info)})




BIWI = DatasetEntry(
    "biwi",
    read=read_biwi,
    train_speakers=tuple(BIWI_TRAIN),
    # papers print LVE x1e-4, FDD x1e-5 (squared data units), MVE in data units
    display_scale={"lve": 1e4, "fdd": 1e5, "mve": 1.0, "lrp": 1.0},
    # a BIWI template is ~0.83 units across a ~15 cm face, so 3 mm of lip error ~ 1.7e-2 units
    lrp_threshold=1.7e-2,
    region_help="get CodeTalker's BIWI/regions/lve.txt and fdd.txt and re-run 'histalk-bench prepare biwi ... "
                "--regions DIR --regions-preset codetalker-biwi'",
)
