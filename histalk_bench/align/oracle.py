"""``oracle``: the synthetic corpus's exact espeak-ng boundaries (``<root>/textgrids``)."""

from __future__ import annotations

from pathlib import Path

from ..common.errors import UserError
from .textgrid import TextGridAligner


class OracleAligner(TextGridAligner):
    name = "oracle"

    def __init__(self, corpus_root: str | None = None, **_options):
        if not corpus_root or not (Path(corpus_root) / "textgrids").is_dir():
            raise UserError("the oracle aligner needs a synthetic corpus with a textgrids/ folder "
                            "(made by 'histalk-bench synth')", corpus_root or ".")
        super().__init__(directory=str(Path(corpus_root) / "textgrids"))
