"""Build an aligner from a ``--aligner`` spec: none | auto | oracle | pocketsphinx | mfa | textgrid:DIR."""

from __future__ import annotations

from typing import Sequence

from ..common.errors import UserError
from . import ALIGNERS
from .base import Alignment, AlignmentFailure, AlignRequest, BatchAlignerBase
from .mfa import find_mfa
from .pocketsphinx import PocketSphinxAligner


def mfa_available(mfa_bin: str | None = None) -> bool:
    return find_mfa(mfa_bin) is not None


class AutoAligner(BatchAlignerBase):
    """``auto``: MFA for utterances with a transcript when an ``mfa`` executable exists,
    pocketsphinx for the rest, for what MFA failed on, and for everything when there is no ``mfa``."""

    name = "auto"

    def __init__(self, mfa_bin: str | None = None, **options):
        self.mfa = ALIGNERS.get("mfa")(mfa_bin=mfa_bin, **options) if mfa_available(mfa_bin) else None
        self.fallback = PocketSphinxAligner(**options)

    def align_many(self, requests: Sequence[AlignRequest]) -> list[Alignment | AlignmentFailure]:
        """MFA first where it applies; whatever MFA could not align goes to pocketsphinx."""
        results: list[Alignment | AlignmentFailure | None] = [None] * len(requests)
        mfa_reasons: dict[int, str] = {}
        to_mfa = [i for i, r in enumerate(requests) if self.mfa is not None and (r.transcript or "").strip()]
        if to_mfa:
            for i, result in zip(to_mfa, self.mfa.align_many([requests[i] for i in to_mfa])):
                if isinstance(result, AlignmentFailure):
                    mfa_reasons[i] = result.reason
                else:
                    results[i] = result
        rest = [i for i, result in enumerate(results) if result is None]
        if rest:
            for i, result in zip(rest, self.fallback.align_many([requests[i] for i in rest])):
                if isinstance(result, AlignmentFailure) and i in mfa_reasons:
                    result = AlignmentFailure(f"mfa: {mfa_reasons[i]}; pocketsphinx: {result.reason}")
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
