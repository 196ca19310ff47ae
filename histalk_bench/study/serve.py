"""``histalk-bench study --serve STUDY``: the study's pages on a local server (standard library only)
that stores each participant's answers as STUDY/answers/<participant>-<random>.json (atomically).

Only STUDY/site is served (key.json and the answers stay outside it); POST /answers takes one
answer file, checks it against the key and stores it."""

from __future__ import annotations

import json
import logging
import secrets
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..common.atomic import write_text_atomic
from ..common.errors import UserError
from .answers import MAX_BYTES, BadAnswers, check_answers, safe_name
from .build import ANSWERS, SITE, read_key

logger = logging.getLogger(__name__)


class StudyHandler(SimpleHTTPRequestHandler):
    """Static files of STUDY/site; POST /answers stores a checked answer file."""

    study: Path
    key: dict

    def do_POST(self):  # noqa: N802 (the http.server naming)
        if self.path.split("?")[0].rstrip("/") not in ("/answers",):
            self._reply(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BYTES:
            self._reply(413, {"error": f"answers must be 1 to {MAX_BYTES} bytes"})
            return
        try:
            data = check_answers(json.loads(self.rfile.read(length).decode("utf-8")), self.key)
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._reply(400, {"error": "not JSON"})
            return
        except BadAnswers as exc:
            self._reply(400, {"error": str(exc)})
            return
        name = f"{safe_name(data['participant'])}-{secrets.token_hex(4)}.json"
        write_text_atomic(self.study / ANSWERS / name, json.dumps(data, indent=1))
        logger.info("[study] saved the answers of %s as %s", data["participant"], self.study / ANSWERS / name)
        self._reply(200, {"saved": name})

    def _reply(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):  # noqa: A002 (the http.server signature)
        logger.debug("[study] %s %s", self.address_string(), format % args)


def make_server(study: str | Path, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A server (not yet running: call ``serve_forever``) for the study folder ``study``."""
    study = Path(study)
    key = read_key(study)
    if not (study / SITE / "index.html").exists():
        raise UserError(f"no {SITE}/index.html: not a complete study folder", study)
    (study / ANSWERS).mkdir(exist_ok=True)
    handler = type("BoundStudyHandler", (StudyHandler,), {"study": study, "key": key})
    try:
        return ThreadingHTTPServer((host, port), partial(handler, directory=str(study / SITE)))
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port") from None
