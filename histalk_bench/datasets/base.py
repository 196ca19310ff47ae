"""The dataset contract (see docs/architecture.md for a worked example).

A dataset is a :class:`DatasetEntry` registered in ``histalk_bench.datasets.DATASETS``.  Its
``read(root, options) -> Release`` reads and validates a release and returns the header
(templates, faces, regions, landmark map) and the sequences as loaders; the generic
:func:`histalk_bench.datasets.prepare.prepare` does the rest (select, align, extract, write).
The entry also holds the dataset's facts: the protocol's training-speaker order (the one-hot
order of the published models), the display scale papers print metrics at, the default LRP
threshold, and the hint shown when the region files are missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..common.errors import UserError
from . import DATASETS
from .landmarks import LandmarkMap
from .regions import Region


@dataclass
class SourceSequence:
    """One sequence of a release. ``load_vertices() -> (T, V, 3)`` at the cache fps,
    ``load_audio() -> (N,)`` float32 16 kHz; both raise UserError naming their file."""

    subject: str
    sentence: str
    split: str
    transcript: str
    load_vertices: Callable[[], np.ndarray]
    load_audio: Callable[[], np.ndarray]
    vertex_source: str


@dataclass
class DatasetHeader:
    """What the cache stores once per dataset: fps (frames/s), vertex count, templates (V, 3) per subject,
    faces (F, 3), named regions and the landmark map (None: selected by motion energy while preparing)."""

    dataset: str
    fps: float
    n_vertices: int
    templates: dict[str, np.ndarray]
    faces: np.ndarray | None = None
    regions: dict[str, Region] = field(default_factory=dict)
    landmarks: LandmarkMap | None = None
    landmark_candidates: np.ndarray | None = None  # used when landmarks must be selected


@dataclass
class ReaderOptions:
    """The ``prepare`` options a reader uses (all optional paths or names, as given on the command line)."""

    regions: str | None = None
    regions_preset: str | None = None
    landmarks: str | None = None
    mesh: str | None = None
    transcripts: str | None = None


@dataclass
class Release:
    """A read and validated release: the header, every sequence (as loaders), and what identifies the
    source in the cache's config (root, layout, synthetic)."""

    header: DatasetHeader
    sources: list[SourceSequence]
    config: dict


UNIT_SCALE = {"lve": 1.0, "fdd": 1.0, "mve": 1.0, "lrp": 1.0}


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its reader and its facts (its one-line description is the registry line's help)."""

    name: str
    read: Callable[[Path, ReaderOptions], Release]
    train_speakers: tuple[str, ...] = ()
    display_scale: dict = field(default_factory=lambda: dict(UNIT_SCALE))
    lrp_threshold: float = 1e-3
    region_help: str = "re-run prepare with --regions PATH"


def _no_reader(root: Path, options: ReaderOptions) -> Release:
    raise UserError("this dataset has no registered reader", root)


DEFAULT_FACTS = DatasetEntry("unknown", read=_no_reader)


def check_dataset_entry(target, name: str) -> DatasetEntry:
    """The registry's contract check: a :class:`DatasetEntry` whose name is its registry name and whose
    ``read`` is callable; a one-line UserError otherwise."""
    if not isinstance(target, DatasetEntry):
        raise UserError(f"dataset '{name}' is registered as {type(target).__name__}, not a DatasetEntry "
                        "(see docs/architecture.md)")
    problems = []
    if target.name != name:
        problems.append(f"its entry is named '{target.name}'")
    if not callable(target.read):
        problems.append("read(root, options) is not callable")
    if problems:
        raise UserError(f"dataset '{name}': {'; '.join(problems)}")
    return target


def dataset_entry(name: str) -> DatasetEntry:
    """The registered entry of dataset ``name`` (did-you-mean UserError when unknown)."""
    return DATASETS.get(name)


def dataset_facts(name: str) -> DatasetEntry:
    """The entry of ``name``, or neutral facts (unit display scale, no protocol order) for a cache of a
    dataset with no registry entry."""
    return DATASETS.get(name) if name in DATASETS else DEFAULT_FACTS


def training_speaker_order(dataset: str, present) -> tuple[str, ...]:
    """The training speakers ``present`` in the protocol's one-hot order of ``dataset`` when they all
    belong to it, else sorted."""
    order = dataset_facts(dataset).train_speakers
    present = set(present)
    if present and present <= set(order):
        return tuple(s for s in order if s in present)
    return tuple(sorted(present))
