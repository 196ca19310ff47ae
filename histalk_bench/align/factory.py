"""Build an aligner from a ``--aligner`` spec: none | auto | oracle | pocketsphinx | mfa | textgrid:DIR."""

from __future__ import annotations

from typing import Sequence

from ..errors import UserError
from . import ALIGNERS
from .base import AlignerBase, Alignment, AlignmentFailure, AlignRequest
from .mfa import find_mfa


def mfa_available(mfa_bin: str | None = None) -> bool:
    return find_mfa(mfa_bin) is not None


class AutoAligner(AlignerBase):
    """``auto``: MFA for utterances with a transcript when an ``mfa`` executable exists,
    pocketsphinx for the rest (and for everything when there is no ``mfa``)."""

    name = "auto"

    def __init__(self, mfa_bin: str | None = None, **options):
        from .pocketsphinx import PocketSphinxAligner

        self.mfa = ALIGNERS.get("mfa")(mfa_bin=mfa_bin, **options) if mfa_available(mfa_bin) else None
        self.fallback = PocketSphinxAligner(**options)

    def align(self, request: AlignRequest) -> Alignment:
        result = self.align_many([request])[0]
        if isinstance(result, AlignmentFailure):
            raise RuntimeError(result.reason)
        return result

    def align_many(self, requests: Sequence[AlignRequest]) -> list[Alignment | AlignmentFailure]:
        use_mfa = [self.mfa is not None and bool((r.transcript or "").strip()) for r in requests]
        results: list[Alignment | AlignmentFailure | None] = [None] * len(requests)
        for flag, aligner in ((True, self.mfa), (False, self.fallback)):
            chosen = [i for i, u in enumerate(use_mfa) if u == flag]
            if chosen:
                for i, result in zip(chosen, aligner.align_many([requests[i] for i in chosen])):
                    results[i] = result
        return results  # type: ignore[return-value]


def make_aligner(spec: str, corpus_root: str | None = None, mfa_bin: str | None = None,
                 mfa_dictionary: str | None = None, mfa_acoustic_model: str | None = None, **options):
    """An aligner (``name``, ``align_many``) for ``spec``; unknown names -> UserError with did-you-mean."""
    spec = (spec or "none").strip()
    name, _, argument = spec.partition(":")
    cls = ALIGNERS.get(name)
    if name == "textgrid":
        if not argument:
            raise UserError("the textgrid aligner needs a folder: --aligner textgrid:DIR")
        return cls(directory=argument)
    if argument:
        raise UserError(f"aligner '{name}' takes no ':' argument (got '{spec}')")
    return cls(corpus_root=corpus_root, mfa_bin=mfa_bin, mfa_dictionary=mfa_dictionary,
               mfa_acoustic_model=mfa_acoustic_model, **options)
