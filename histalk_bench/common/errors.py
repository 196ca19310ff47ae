"""Errors that reach the user as one line, with exit code 2 and no traceback."""

from __future__ import annotations

import os


class UserError(Exception):
    """Bad input or environment: the message names the file and the problem.

    The CLI prints ``error: <message>`` on one line and exits with code 2.
    """

    exit_code = 2

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.path = None if path is None else os.fspath(path)
        text = " ".join(str(message).split())  # always one line
        if self.path is not None:
            text = f"{self.path}: {text}"
        super().__init__(text)
