"""``textgrid:DIR``: import existing TextGrids (e.g. produced by MFA elsewhere)."""

from __future__ import annotations

from pathlib import Path

from ..common.errors import UserError
from .base import AlignerBase, Alignment, AlignRequest
from .textgrid_io import read_textgrid


class TextGridAligner(AlignerBase):
    """Reads ``DIR/<subject>/<sentence>.TextGrid``, ``DIR/<subject>/<subject>_<sentence>.TextGrid`` (as MFA
    writes them) or ``DIR/<subject>_<sentence>.TextGrid``."""

    name = "textgrid"

    def __init__(self, directory: str | None = None, **_options):
        if not directory:
            raise UserError("the textgrid aligner needs a folder: --aligner textgrid:DIR")
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise UserError("TextGrid folder not found", self.directory)

    def path_for(self, subject: str, sentence: str) -> Path:
        """The first existing of DIR/<subject>/<sentence>, DIR/<subject>/<subject>_<sentence> (MFA's
        output layout) and DIR/<subject>_<sentence> (.TextGrid); the last when none exists."""
        candidates = [self.directory / subject / f"{sentence}.TextGrid",
                      self.directory / subject / f"{subject}_{sentence}.TextGrid",
                      self.directory / f"{subject}_{sentence}.TextGrid"]
        return next((path for path in candidates if path.exists()), candidates[-1])

    def align(self, request: AlignRequest) -> Alignment:
        alignment = read_textgrid(self.path_for(request.subject, request.sentence))
        alignment.source = self.name
        return alignment
