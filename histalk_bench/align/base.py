"""The aligner contract.

``Aligner.align(request) -> Alignment`` where the alignment holds ``phones`` and ``words`` as
lists of (start s, end s, label).  ``align_many`` exists so that backends that work on a whole
corpus at once (MFA) can do so; the default calls ``align`` per item.  A failure for one item
is returned as an :class:`AlignmentFailure`, never raised, so one bad sequence never stops a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

Interval = tuple[float, float, str]


@dataclass
class AlignRequest:
    """One utterance to align: audio (N,) float32 at 16 kHz, its transcript, its identity."""

    subject: str
    sentence: str
    audio_16k: np.ndarray
    transcript: str = ""


@dataclass
class Alignment:
    phones: list[Interval] = field(default_factory=list)
    words: list[Interval] = field(default_factory=list)
    source: str = ""


@dataclass
class AlignmentFailure:
    reason: str


class Aligner(Protocol):
    name: str

    def align(self, request: AlignRequest) -> Alignment: ...

    def align_many(self, requests: Sequence[AlignRequest]) -> list[Alignment | AlignmentFailure]: ...


class AlignerBase:
    """Default ``align_many``: per item, failures captured."""

    name = "base"

    def align(self, request: AlignRequest) -> Alignment:
        raise TypeError(f"{type(self).__name__} aligns nothing: a backend overrides align() or align_many()")

    def align_many(self, requests: Sequence[AlignRequest]) -> list[Alignment | AlignmentFailure]:
        results: list[Alignment | AlignmentFailure] = []
        for request in requests:
            try:
                results.append(self.align(request))
            except Exception as exc:  # one sequence failing never stops the run
                results.append(AlignmentFailure(f"{exc.__class__.__name__}: {exc}"))
        return results


class BatchAlignerBase(AlignerBase):
    """For backends that work on a whole request list at once (MFA): ``align`` is one-item ``align_many``."""

    def align(self, request: AlignRequest) -> Alignment:
        result = self.align_many([request])[0]
        if isinstance(result, AlignmentFailure):
            raise RuntimeError(result.reason)
        return result


class NoAligner(AlignerBase):
    """``--aligner none``: stores no tiers."""

    name = "none"

    def __init__(self, **_options):
        pass
