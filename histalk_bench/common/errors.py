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


def refuse_unused(reasons: dict[str, str], given, labels: dict[str, str] | None = None) -> None:
    """The one check for options that would change nothing: a UserError naming each option in
    ``given`` (names, underscores for dashes) that has a reason in ``reasons`` ({name: why}, a verb
    phrase: 'only acts with --audio', 'is not read: ...').  ``labels`` says how an option was
    given (default ``--name-with-dashes``; e.g. '--set batch_size' for a --set key)."""
    labels = labels or {}
    named = [f"{labels.get(name) or '--' + name.replace('_', '-')} {reasons[name]}" for name in given if name in reasons]
    if named:
        raise UserError("; ".join(named) + f"; drop {'them' if len(named) > 1 else 'it'}")
