"""``textgrid:DIR``: import existing TextGrids (e.g. produced by MFA elsewhere)."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .base import AlignerBase, Alignment, AlignRequest
from .textgrid_io import read_textgrid


class TextGridAligner(AlignerBase):
    """Reads ``DIR/<subject>/<sentence>.TextGrid`` or ``DIR/<subject>_<sentence>.TextGrid``."""

    name = "textgrid"

    def __init__(self, directory: str | None = None, **_options):
        if not directory:
            raise UserError("the textgrid aligner needs a folder: --aligner textgrid:DIR")
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise UserError("TextGrid folder not found", self.directory)

    def path_for(self, subject: str, sentence: str) -> Path:
        nested = self.directory / subject / f"{sentence}.TextGrid"
        return nested if nested.exists() else self.directory / f"{subject}_{sentence}.TextGrid"

    def align(self, request: AlignRequest) -> Alignment:
        alignment = read_textgrid(self.path_for(request.subject, request.sentence))
        alignment.source = self.name
        return alignment
