"""``mfa``: the Montreal Forced Aligner as an external executable (conda-forge; see
``alignments/README.md``).

The whole request list goes to one ``mfa align`` call: a temporary corpus folder with one
speaker folder per subject holding ``<subject>_<sentence>.wav`` (16 kHz PCM) and ``.lab``
(transcript), then ``mfa align CORPUS DICTIONARY ACOUSTIC_MODEL OUT --output_format
long_textgrid --clean``; the TextGrids in ``OUT`` are read back.  A failed run, or a missing
TextGrid, becomes an :class:`AlignmentFailure` per item with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile

from ..common.constants import SAMPLE_RATE
from ..common.errors import UserError
from .base import Alignment, AlignmentFailure, AlignRequest, BatchAlignerBase
from .textgrid_io import read_textgrid

DEFAULT_DICTIONARY = "english_us_arpa"
DEFAULT_ACOUSTIC_MODEL = "english_us_arpa"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def find_mfa(mfa_bin: str | None = None) -> str | None:
    """Full path of the ``mfa`` executable (``mfa_bin`` or PATH), or None."""
    return shutil.which(mfa_bin or "mfa")


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name)


def _last_lines(text: str, n: int = 3) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-n:])[-400:]


class MFAAligner(BatchAlignerBase):
    """Runs ``mfa align`` once per :meth:`align_many` call."""

    name = "mfa"

    def __init__(self, mfa_bin: str | None = None, mfa_dictionary: str | None = None,
                 mfa_acoustic_model: str | None = None, mfa_config: str | None = None,
                 mfa_jobs: int | None = None, mfa_timeout_s: float | None = None, **_options):
        self.executable = find_mfa(mfa_bin)
        if self.executable is None:
            raise UserError(f"no '{mfa_bin or 'mfa'}' executable found; install Montreal Forced Aligner with conda "
                            "(see alignments/README.md), pass --mfa-bin PATH, or use --aligner pocketsphinx")
        self.dictionary = mfa_dictionary or DEFAULT_DICTIONARY
        self.acoustic_model = mfa_acoustic_model or DEFAULT_ACOUSTIC_MODEL
        self.config = mfa_config
        self.jobs = mfa_jobs
        self.timeout_s = mfa_timeout_s

    def command(self, corpus: Path, out: Path) -> list[str]:
        command = [self.executable, "align", str(corpus), self.dictionary, self.acoustic_model, str(out),
                   "--output_format", "long_textgrid", "--clean"]
        if self.config:
            command += ["--config_path", str(self.config)]
        if self.jobs:
            command += ["-j", str(int(self.jobs))]
        return command

    def align_many(self, requests: Sequence[AlignRequest]) -> list[Alignment | AlignmentFailure]:
        results: list[Alignment | AlignmentFailure | None] = [None] * len(requests)
        with tempfile.TemporaryDirectory(prefix="histalk_mfa_") as work:
            corpus, out = Path(work) / "corpus", Path(work) / "aligned"
            expected: dict[int, Path] = {}
            for index, request in enumerate(requests):
                transcript = " ".join((request.transcript or "").split())
                if not transcript:
                    results[index] = AlignmentFailure("mfa needs a transcript (none given)")
                    continue
                speaker = _safe(request.subject)
                stem = f"{speaker}_{_safe(request.sentence)}"
                folder = corpus / speaker
                folder.mkdir(parents=True, exist_ok=True)
                audio = np.clip(np.asarray(request.audio_16k, np.float32).reshape(-1), -1.0, 1.0)
                soundfile.write(folder / f"{stem}.wav", audio, SAMPLE_RATE, subtype="PCM_16")
                (folder / f"{stem}.lab").write_text(transcript + "\n", encoding="utf-8")
                expected[index] = out / speaker / f"{stem}.TextGrid"
            if expected:
                failure = self._run(corpus, out)
                for index, path in expected.items():
                    results[index] = failure or self._read(path)
        return results  # type: ignore[return-value]

    def _run(self, corpus: Path, out: Path) -> AlignmentFailure | None:
        try:
            completed = subprocess.run(self.command(corpus, out), capture_output=True, text=True,
                                       timeout=self.timeout_s, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        except subprocess.TimeoutExpired:
            return AlignmentFailure(f"mfa align timed out after {self.timeout_s} s")
        except OSError as exc:
            return AlignmentFailure(f"mfa could not be started: {exc}")
        if completed.returncode != 0:
            detail = _last_lines(completed.stderr) or _last_lines(completed.stdout) or "no output"
            return AlignmentFailure(f"mfa align exited with code {completed.returncode}: {detail}")
        return None

    def _read(self, path: Path) -> Alignment | AlignmentFailure:
        if not path.exists():
            return AlignmentFailure("mfa wrote no TextGrid for this utterance (words missing from the "
                                    "dictionary, or the audio could not be aligned; see MFA's log)")
        try:
            alignment = read_textgrid(path)
        except UserError as exc:
            return AlignmentFailure(str(exc))
        alignment.source = self.name
        return alignment
