"""The aligner contract (see docs/architecture.md for a worked example).

An aligner has a ``name`` and ``align_many(requests) -> [Alignment | AlignmentFailure]``, one
result per :class:`AlignRequest`, in order.  Subclass :class:`AlignerBase` and override
``align(request) -> Alignment`` (one utterance at a time; the base class supplies
``align_many``), or :class:`BatchAlignerBase` and override ``align_many`` (a whole batch at once,
as MFA does).

Data problems are per item: ``align`` raises :class:`AlignmentError` (or a ValueError,
RuntimeError, OSError or UserError) and the item becomes an :class:`AlignmentFailure`, so one
bad sequence never stops a run.  Anything else (TypeError, AttributeError, NameError, KeyError,
NotImplementedError ...) is a bug in the aligner and propagates.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from ..common.constants import Interval
from ..common.errors import UserError


@dataclass
class AlignRequest:
    """One utterance to align: audio (N,) float32 at 16 kHz, its transcript, its identity."""

    subject: str
    sentence: str
    audio_16k: np.ndarray
    transcript: str = ""


@dataclass
class Alignment:
    """Phones and words tiers, each a list of (start s, end s, label); ``source`` names the aligner."""

    phones: list[Interval] = field(default_factory=list)
    words: list[Interval] = field(default_factory=list)
    source: str = ""


@dataclass
class AlignmentFailure:
    reason: str


class AlignmentError(ValueError):
    """Raised by ``align`` for a data problem of one utterance (silence, no transcript, ...)."""


# What ``align`` may raise for a data problem; NotImplementedError and RecursionError are
# RuntimeErrors but always bugs.
DATA_ERRORS = (AlignmentError, UserError, ValueError, RuntimeError, OSError)
_BUGS = (NotImplementedError, RecursionError)


@runtime_checkable
class Aligner(Protocol):
    name: str

    def align_many(self, requests: Sequence[AlignRequest]) -> list[Alignment | AlignmentFailure]: ...


class AlignerBase:
    """Per-utterance backends: override :meth:`align`; ``align_many`` loops and captures data failures."""

    name = "base"

    def __init__(self, **options):
        """Every aligner is built with keyword options (corpus_root, mfa_bin, ...); keep the ones you use."""
        self.options = options

    def align(self, request: AlignRequest) -> Alignment:
        raise NotImplementedError(f"{type(self).__name__} aligns nothing: a backend overrides align() or align_many()")

    def align_many(self, requests: Sequence[AlignRequest]) -> list[Alignment | AlignmentFailure]:
        results: list[Alignment | AlignmentFailure] = []
        for request in requests:
            try:
                result = self.align(request)
            except _BUGS:
                raise
            except DATA_ERRORS as exc:  # one sequence failing never stops the run
                result = AlignmentFailure(f"{exc.__class__.__name__}: {exc}")
            results.append(result)
        return check_results(self, requests, results)


class BatchAlignerBase(AlignerBase):
    """For backends that work on a whole request list at once (MFA): ``align`` is one-item ``align_many``."""

    def align(self, request: AlignRequest) -> Alignment:
        result = self.align_many([request])[0]
        if isinstance(result, AlignmentFailure):
            raise AlignmentError(result.reason)
        return result

    def align_many(self, requests: Sequence[AlignRequest]) -> list[Alignment | AlignmentFailure]:
        raise NotImplementedError(f"{type(self).__name__} overrides neither align_many() nor align()")


class NoAligner(AlignerBase):
    """``--aligner none``: the pipeline stores no tiers and never calls it; used directly, empty tiers."""

    name = "none"

    def align(self, request: AlignRequest) -> Alignment:
        return Alignment(source=self.name)


def check_results(aligner, requests: Sequence[AlignRequest], results) -> list[Alignment | AlignmentFailure]:
    """``results`` as a list, or a TypeError (a bug in the aligner) when it does not keep the contract."""
    results = list(results)
    name = getattr(aligner, "name", type(aligner).__name__)
    if len(results) != len(requests):
        raise TypeError(f"aligner '{name}' returned {len(results)} results for {len(requests)} requests")
    for result in results:
        if not isinstance(result, (Alignment, AlignmentFailure)):
            raise TypeError(f"aligner '{name}' returned a {type(result).__name__}, expected an Alignment "
                            "(phones, words tiers) or an AlignmentFailure (see docs/architecture.md)")
    return results


def _takes_one_argument(method) -> bool:
    """True when ``method(self, x)`` is a valid call: one required positional parameter after self
    (others optional), or a ``*args``."""
    parameters = list(inspect.signature(method).parameters.values())[1:]
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in parameters if p.kind in positional and p.default is inspect.Parameter.empty]
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return len(required) <= 1
    return len(required) == 1 or (not required and any(p.kind in positional for p in parameters))


def check_aligner(target, name: str):
    """The registry's contract check for an aligner class (or instance): a ``name``, and ``align(request)``
    or ``align_many(requests)`` actually implemented.  Returns ``target``; a one-line UserError otherwise."""
    cls = target if isinstance(target, type) else type(target)
    problems = []
    if not isinstance(getattr(cls, "name", None), str) or not cls.name:
        problems.append("a 'name' attribute")
    if not callable(getattr(cls, "align_many", None)):
        problems.append("align_many(requests) (subclass histalk_bench.align.base.AlignerBase)")
    elif issubclass(cls, AlignerBase) and cls.align is AlignerBase.align and cls.align_many in (
            AlignerBase.align_many, BatchAlignerBase.align_many):
        problems.append("align(request) or align_many(requests)")
    elif issubclass(cls, AlignerBase) and cls.align not in (AlignerBase.align, BatchAlignerBase.align):
        if not _takes_one_argument(cls.align):
            names = list(inspect.signature(cls.align).parameters)[1:]
            problems.append(f"align(request) with one AlignRequest argument (it takes {', '.join(names) or 'none'})")
    if problems:
        raise UserError(f"aligner '{name}' ({cls.__name__}) does not implement {'; '.join(problems)} "
                        "(see docs/architecture.md)")
    return target
