"""Build an aligner from a ``--aligner`` spec: none | auto | oracle | pocketsphinx | mfa | textgrid:DIR."""

from __future__ import annotations

import shutil

from . import ALIGNERS


def mfa_available(mfa_bin: str | None = None) -> bool:
    return shutil.which(mfa_bin or "mfa") is not None


def make_aligner(spec: str, corpus_root: str | None = None, mfa_bin: str | None = None, has_transcripts: bool = True, **options):
    """An aligner object with ``name`` and ``align_many``; ``auto`` picks mfa when an ``mfa``
    executable exists and transcripts are available, else pocketsphinx."""
    name, _, argument = spec.partition(":")
    if name == "auto":
        name = "mfa" if mfa_available(mfa_bin) and has_transcripts else "pocketsphinx"
    cls = ALIGNERS.get(name)
    if name == "textgrid":
        return cls(directory=argument, **options)
    return cls(corpus_root=corpus_root, mfa_bin=mfa_bin, **options)
