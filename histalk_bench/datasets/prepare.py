"""The one preparation pipeline: :func:`prepare` (any registered dataset) and :func:`run_prepare`.

A dataset's reader returns a :class:`Release`: the header (templates, faces, regions, landmark
map) and its sequences as :class:`SourceSequence` loaders, not arrays.  :func:`run_prepare`
validates, aligns, extracts features and writes each sequence as an atomic shard, in batches,
then finalizes the cache.  Memory holds one batch of sequences at a time.
"""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from ..align.base import AlignmentFailure, AlignRequest, check_results
from ..align.factory import make_aligner
from ..align.textgrid_io import write_textgrid
from ..cache import Cache, CacheWriter, SequenceData
from ..common.constants import SAMPLE_RATE
from ..common.errors import UserError
from ..common.progress import progress_bar
from ..features.base import check_outputs
from ..features.factory import make_extractors
from ..metrics.mouth import PAIR_RULE, flame_landmark_offset, mean_template, pairs_digest, select_lip_pairs
from .base import DatasetHeader, ReaderOptions, SourceSequence, dataset_entry
from .common import select_sources
from .landmarks import LandmarkMap, check_map, select_by_motion
from .regions import check_in_range

logger = logging.getLogger(__name__)

BATCH = 16


@dataclass
class PrepareOptions:
    aligner: str = "none"
    features: str = "none"
    force: bool = False
    skip_bad: bool = False
    jobs: int = 1
    textgrids: str | None = None
    corpus_root: str | None = None
    aligner_options: dict = field(default_factory=dict)
    feature_options: dict = field(default_factory=dict)
    progress: bool = True


@dataclass
class PrepareSummary:
    path: Path
    written: int = 0
    reused: int = 0
    skipped_bad: list[str] = field(default_factory=list)
    alignment_failed: list[str] = field(default_factory=list)
    up_to_date: bool = False

    def line(self) -> str:
        if self.up_to_date:
            return f"{self.path}: up to date, nothing to do"
        parts = [f"{self.written} sequences written", f"{self.reused} reused"]
        if self.skipped_bad:
            parts.append(f"{len(self.skipped_bad)} bad sequences skipped ({', '.join(self.skipped_bad[:5])})")
        if self.alignment_failed:
            parts.append(f"{len(self.alignment_failed)} alignments failed and stored as missing")
        return f"{self.path}: " + ", ".join(parts)


def validate_vertices(vertices: np.ndarray, n_vertices: int, source: str) -> np.ndarray:
    """(T, V, 3) float32 with the expected V and finite values, else a one-line UserError."""
    if vertices.ndim != 3 or vertices.shape[1:] != (n_vertices, 3):
        raise UserError(f"wrong vertex count: got shape {tuple(vertices.shape)}, expected (T, {n_vertices}, 3)", source)
    if vertices.shape[0] == 0:
        raise UserError("sequence has no frames", source)
    vertices = np.ascontiguousarray(vertices, dtype=np.float32)
    if not np.all(np.isfinite(vertices)):
        raise UserError("vertices contain NaN or infinite values", source)
    return vertices


def _validate_header(header: DatasetHeader) -> None:
    for subject, template in header.templates.items():
        if np.asarray(template).reshape(-1, 3).shape[0] != header.n_vertices:
            raise UserError(f"template of '{subject}' has {np.asarray(template).reshape(-1, 3).shape[0]} vertices, "
                            f"expected {header.n_vertices}", "templates.pkl")
    check_in_range(header.regions, header.n_vertices)
    if header.landmarks is not None:
        check_map(header.landmarks, header.n_vertices)


def _select_landmarks(header: DatasetHeader, sources: list[SourceSequence]) -> LandmarkMap:
    """Motion-energy FPS over up to 12 training sequences (deterministic)."""
    train = [s for s in sources if s.split == "train"][:12] or sources[:12]
    energy = np.zeros(header.n_vertices)
    for source in train:
        vertices = source.load_vertices()
        energy += vertices.astype(np.float64).var(axis=0).sum(axis=-1)
    template = next(iter(header.templates.values()))
    candidates = header.landmark_candidates if header.landmark_candidates is not None else np.arange(header.n_vertices)
    return select_by_motion(energy, np.asarray(template).reshape(-1, 3), candidates)


def _lip_pairs(header: DatasetHeader) -> tuple[np.ndarray, str, str] | None:
    """(pairs (P, 2), rule, sha256) of the mouth-opening points for meshes without the FLAME
    landmark embedding (rule in histalk_bench/metrics/mouth.py); None without a lip region."""
    landmarks = header.landmarks
    flame = landmarks is not None and flame_landmark_offset((landmarks.vertex_ids,), landmarks.kind) is not None
    if flame or "lip" not in header.regions:
        return None
    pairs = select_lip_pairs(mean_template(list(header.templates.values())), header.regions["lip"].ids, header.faces)
    return pairs, PAIR_RULE, pairs_digest(pairs)


def _store_lip_pairs(writer: CacheWriter, header: DatasetHeader) -> None:
    """``/regions/lip_pairs`` (rule, sha256) when the mesh needs them (see :func:`_lip_pairs`)."""
    lip_pairs = _lip_pairs(header)
    if lip_pairs is not None:
        writer.set_region("lip_pairs", lip_pairs[0], source=lip_pairs[1], sha256=lip_pairs[2])


def _run_config(header: DatasetHeader, options: PrepareOptions, extractors, root_config: dict) -> dict:
    return {**root_config, "aligner": options.aligner,
            "features": {e.cache_name: e.config() for e in extractors},
            "regions": {name: r.sha256 for name, r in header.regions.items()},
            "landmarks": header.landmarks.source if header.landmarks else None}


def _needs_work(seq: SequenceData | None, options: PrepareOptions, extractors) -> bool:
    if seq is None:
        return True
    if options.aligner != "none" and seq.attrs.get("aligner") != options.aligner:
        return True
    configs = json.loads(seq.attrs.get("feature_configs", "{}"))
    return any(configs.get(e.cache_name) != e.config() for e in extractors)


def _make_aligner(options: PrepareOptions):
    if options.aligner == "none":
        return None
    return make_aligner(options.aligner, corpus_root=options.corpus_root, **options.aligner_options)


def _make_extractors(options: PrepareOptions):
    if options.features in ("", "none", None):
        return []
    return make_extractors(options.features, **options.feature_options)



def prepare(dataset: str, root: str | os.PathLike, out: str | os.PathLike, *, aligner: str = "none",
            features: str = "none", regions: str | None = None, regions_preset: str | None = None,
            landmarks: str | None = None, mesh: str | None = None, transcripts: str | None = None,
            subjects: list[str] | None = None, limit: int | None = None, **options) -> PrepareSummary:
    """Read the release of registered ``dataset`` at ``root`` and write the cache ``out``.

    ``subjects``/``limit`` select sequences (the cache keeps the templates of the selected subjects);
    ``options`` are :class:`PrepareOptions` fields (force, skip_bad, jobs, textgrids, progress,
    aligner_options, feature_options).
    """
    root = Path(root)
    entry = dataset_entry(dataset)
    release = entry.read(root, ReaderOptions(regions, regions_preset, landmarks, mesh, transcripts))
    sources = select_sources(release.sources, subjects, limit, root)
    header = release.header
    selected = {source.subject for source in sources}
    header.templates = {s: t for s, t in header.templates.items() if s in selected} or header.templates
    prepare_options = PrepareOptions(aligner=aligner, features=features, corpus_root=str(root), **options)
    return run_prepare(out, header, sources, prepare_options, release.config)


def run_prepare(out: str | os.PathLike, header: DatasetHeader, sources: list[SourceSequence],
                options: PrepareOptions, root_config: dict) -> PrepareSummary:
    """Write the cache at ``out``; returns a summary. Raises UserError on bad input
    (then nothing is left behind) unless ``options.skip_bad``."""
    out = Path(out)
    _validate_header(header)
    extractors = _make_extractors(options)
    aligner = _make_aligner(options)
    config = _run_config(header, options, extractors, root_config)
    summary = PrepareSummary(out)
    if not options.force and _up_to_date(out, config, sources):
        summary.up_to_date = True
        return summary
    if header.landmarks is None:
        header.landmarks = _select_landmarks(header, sources)
    writer = _open_writer(out, header, config, options)
    kept: list[tuple[str, str]] = []
    try:
        pending = _pending(writer, sources, options, extractors, summary, kept)
        _process(pending, writer, header, options, aligner, extractors, summary, kept)
    except UserError:
        writer.abandon()
        raise
    writer.finalize(keep=kept)
    return summary


def _up_to_date(out: Path, config: dict, sources: list[SourceSequence]) -> bool:
    """True when the cache at ``out`` was made with ``config`` and holds every wanted sequence."""
    if not out.exists():
        return False
    try:
        with Cache(out) as existing:
            present = {(r.subject, r.sentence) for r in existing.sequences()}
            wanted = {(s.subject, s.sentence) for s in sources}
            return existing.config == json.loads(json.dumps(config, sort_keys=True, default=str)) and wanted <= present
    except UserError:
        return False


def _open_writer(out: Path, header: DatasetHeader, config: dict, options: PrepareOptions) -> CacheWriter:
    """A writer with the header stored: templates, faces, regions, landmark map."""
    writer = CacheWriter(out, dataset=header.dataset, fps=header.fps, n_vertices=header.n_vertices,
                         config=config, force=options.force)
    writer.set_templates(header.templates)
    if header.faces is not None:
        writer.set_faces(header.faces)
    for name, region in header.regions.items():
        writer.set_region(name, region.ids, source=region.source, sha256=region.sha256)
    _store_lip_pairs(writer, header)
    writer.set_landmark_map(header.landmarks.vertex_ids, header.landmarks.weights,
                            source=header.landmarks.source, kind=header.landmarks.kind)
    return writer


def _pending(writer: CacheWriter, sources: list[SourceSequence], options: PrepareOptions, extractors,
             summary: PrepareSummary, kept: list) -> list[tuple[SourceSequence, SequenceData | None]]:
    """The sequences that need work (with their finished shard, if any); finished ones go to ``kept``."""
    pending = []
    for source in sources:
        done = writer.is_done(source.subject, source.sentence)
        existing = writer.load_done(source.subject, source.sentence) if done else None
        if not _needs_work(existing, options, extractors):
            summary.reused += 1
            kept.append((source.subject, source.sentence))
        else:
            pending.append((source, existing))
    return pending


def _process(pending: list, writer: CacheWriter, header: DatasetHeader, options: PrepareOptions, aligner,
             extractors, summary: PrepareSummary, kept: list) -> None:
    """Load, align, extract and write ``pending`` in batches of :data:`BATCH` (readers in parallel)."""
    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        bar = iter(progress_bar(range(len(pending)), desc=f"prepare {header.dataset}", enabled=options.progress))
        for start in range(0, len(pending), BATCH):
            batch = pending[start : start + BATCH]
            loaded = [seq for seq in pool.map(lambda item: _load(item, header, options, summary), batch) if seq is not None]
            if aligner is not None:
                _align(aligner, loaded, options, summary)
            _extract(extractors, loaded)
            for seq in loaded:
                seq.landmarks = header.landmarks.apply(seq.vertices)
                writer.write_sequence(seq)
                kept.append((seq.subject, seq.sentence))
                summary.written += 1
            for _ in batch:
                next(bar, None)


def _extract(extractors, sequences: list[SequenceData]) -> None:
    """Every extractor's features into ``seq.features`` and its config into the ``feature_configs`` attribute."""
    audios = [seq.audio for seq in sequences]
    for extractor in extractors:
        outputs = check_outputs(extractor, audios, extractor.extract_batch(audios))
        for seq, array in zip(sequences, outputs):
            seq.features[extractor.cache_name] = (array, extractor.rate)
    for seq in sequences:
        configs = json.loads(seq.attrs.get("feature_configs", "{}"))
        configs.update({e.cache_name: e.config() for e in extractors})
        seq.attrs["feature_configs"] = json.dumps(configs, sort_keys=True)


def _load(item, header: DatasetHeader, options: PrepareOptions, summary: PrepareSummary) -> SequenceData | None:
    source, existing = item
    try:
        if existing is not None:
            existing.split, existing.transcript = source.split, source.transcript or existing.transcript
            return existing
        vertices = validate_vertices(source.load_vertices(), header.n_vertices, source.vertex_source)
        audio = source.load_audio()
        return SequenceData(source.subject, source.sentence, vertices, audio, split=source.split,
                            transcript=source.transcript)
    except UserError as exc:
        if not options.skip_bad:
            raise
        summary.skipped_bad.append(f"{source.subject}/{source.sentence}")
        logger.warning("skipped: %s", exc)
        return None


def _align(aligner, sequences: list[SequenceData], options: PrepareOptions, summary: PrepareSummary) -> None:
    """Tiers into each sequence; a per-item failure is stored as missing, a bug in the aligner propagates."""
    requests = [AlignRequest(s.subject, s.sentence, s.audio, s.transcript) for s in sequences]
    for seq, result in zip(sequences, check_results(aligner, requests, aligner.align_many(requests))):
        seq.attrs["aligner"] = options.aligner
        if isinstance(result, AlignmentFailure):
            seq.phones = seq.words = None
            seq.attrs["alignment_error"] = result.reason
            summary.alignment_failed.append(f"{seq.subject}/{seq.sentence}")
            logger.warning("alignment failed for %s/%s: %s", seq.subject, seq.sentence, result.reason)
            continue
        seq.attrs.pop("alignment_error", None)
        seq.phones, seq.words = result.phones, result.words
        if options.textgrids:
            write_textgrid(Path(options.textgrids) / seq.subject / f"{seq.sentence}.TextGrid", result,
                           len(seq.audio) / SAMPLE_RATE)


prepare_vocaset = partial(prepare, "vocaset")  # prepare_vocaset(root, out, **options)
prepare_biwi = partial(prepare, "biwi")  # prepare_biwi(root, out, **options)
