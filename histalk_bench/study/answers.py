"""Answer files: what a completed study page produces, and the checks every file must pass.

An answer file is JSON::

    {"format": "talking-face-study-answers", "version": 1, "study": STUDY_ID,
     "participant": "p-...", "started": ISO time, "finished": ISO time,
     "responses": [{"trial": "t01", "lipsync": "left"|"right"|"none",
                    "realism": "left"|"right"|"none", "played": true|false}, ...]}

with exactly one response per trial of the study's key.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ANSWERS_FORMAT = "talking-face-study-answers"
QUESTIONS = ("lipsync", "realism")
CHOICES = ("left", "right", "none")
MAX_BYTES = 1 << 20


class BadAnswers(ValueError):
    """An answer file that cannot be counted; the message is one line."""


def check_answers(data, key: dict) -> dict:
    """The answers ``data`` (parsed JSON) checked against the study's ``key``; BadAnswers otherwise."""
    if not isinstance(data, dict) or data.get("format") != ANSWERS_FORMAT:
        raise BadAnswers("not a study answer file (no format 'talking-face-study-answers')")
    if data.get("study") != key["study_id"]:
        raise BadAnswers(f"answers to another study ('{data.get('study')}', this study is '{key['study_id']}')")
    participant = data.get("participant")
    if not isinstance(participant, str) or not participant.strip() or len(participant) > 200:
        raise BadAnswers("no participant id")
    responses = data.get("responses")
    if not isinstance(responses, list):
        raise BadAnswers("no list of responses")
    expected = [t["id"] for t in key["trials"]]
    seen = set()
    for response in responses:
        if not isinstance(response, dict) or response.get("trial") not in expected:
            raise BadAnswers(f"a response to an unknown trial ({response.get('trial') if isinstance(response, dict) else response!r})")
        if response["trial"] in seen:
            raise BadAnswers(f"trial {response['trial']} answered twice")
        seen.add(response["trial"])
        for question in QUESTIONS:
            if response.get(question) not in CHOICES:
                raise BadAnswers(f"trial {response['trial']}: {question} is {response.get(question)!r}, "
                                 f"expected one of {', '.join(CHOICES)}")
    if len(seen) != len(expected):
        raise BadAnswers(f"incomplete: {len(seen)} of {len(expected)} trials answered")
    return data


def read_answers(path: Path, key: dict) -> dict:
    """One answer file read and checked; BadAnswers (one line) when it cannot be counted."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise BadAnswers(f"larger than {MAX_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadAnswers(f"unreadable ({exc.__class__.__name__})") from None
    except json.JSONDecodeError as exc:
        raise BadAnswers(f"not JSON ({exc.msg} at line {exc.lineno})") from None
    return check_answers(data, key)


def safe_name(participant: str) -> str:
    """A file-name-safe form of a participant id (letters, digits, '-', '_'; at most 40)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", participant.strip())[:40] or "participant"
