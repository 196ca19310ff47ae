"""``histalk-bench study``: a folder of static, blinded A/B pages from a compare output.

STUDY/
  site/            what participants see (serve or copy this folder, nothing else)
    index.html     the whole test: instructions, trials, answers (inline CSS/JS, no network)
    media/         the clips and audio under random names (no model name, no labels in frames)
  key.json         which clip is which model, the design and its seed: never served
  answers/         answer files collected by ``histalk-bench study --serve`` (one per participant)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..common.atomic import write_text_atomic
from ..common.errors import UserError
from ..report.build import read_manifest
from ..report.page import asset, fill
from .design import GROUND_TRUTH, STATIC_FACE, design_trials, parse_pairs

KEY_FORMAT = "histalk-bench-study-key"
SITE = "site"
KEY = "key.json"
ANSWERS = "answers"


def _clip_of(entry: dict, name: str) -> str:
    if name == GROUND_TRUTH:
        return entry["ground_truth"]
    if name == STATIC_FACE:
        return entry["static_face"]
    return entry["models"][name]["clip"]


def _page(study_id: str, trials: list[dict]) -> str:
    data = json.dumps({"study": study_id, "trials": trials}).replace("</", "<\\/")
    return fill(asset("study.html", "histalk_bench.study", "assets"), {
        "css": asset("study.css", "histalk_bench.study", "assets"),
        "data": data,
        "sync_js": asset("sync.js"),
        "study_js": asset("study.js", "histalk_bench.study", "assets"),
    })


def build_study(compare_dir: str | Path, out: str | Path, *, pairs: str | None = None, trials: int | None = None,
                checks: int = 2, seed: int = 0, force: bool = False) -> dict:
    """Write the study folder ``out``; returns its key.  ``trials``: trials per pair (default: one per
    rendered sequence); ``checks``: attention checks; ``seed``: the design's random seed."""
    compare_dir, out = Path(compare_dir), Path(out)
    manifest = read_manifest(compare_dir)
    sequences = manifest["sequences"]
    chosen = parse_pairs(pairs, list(manifest["models"]))
    per_pair = len(sequences) if trials is None else trials
    design = design_trials(len(sequences), chosen, per_pair, checks, seed)
    if out.exists() and any(out.iterdir()):
        if (out / ANSWERS).exists() and any((out / ANSWERS).iterdir()):
            raise UserError("holds collected answers; choose another --out (answers are never overwritten)", out)
        if not force:
            raise UserError("exists and is not empty; choose another --out or pass --force to replace it", out)
    study_id = secrets.token_hex(8)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        media = staging / SITE / "media"
        media.mkdir(parents=True)
        names: dict[str, str] = {}  # source file (relative to compare_dir) -> served name

        def served(source: str) -> str:
            if source not in names:
                target = f"{secrets.token_hex(6)}{Path(source).suffix}"
                shutil.copyfile(compare_dir / source, media / target)
                names[source] = target
            return "media/" + names[source]

        page_trials, key_trials = [], []
        for trial in design:
            entry = sequences[trial["sequence"]]
            page_trials.append({"id": trial["id"], "left": served(_clip_of(entry, trial["left"])),
                                "right": served(_clip_of(entry, trial["right"])), "audio": served(entry["audio"]),
                                "duration": round(entry["duration_s"], 3)})
            key_trials.append({**trial, "sequence": f"{entry['subject']}/{entry['sentence']}",
                               "left_file": page_trials[-1]["left"], "right_file": page_trials[-1]["right"]})
        write_text_atomic(staging / SITE / "index.html", _page(study_id, page_trials))
        key = {"format": KEY_FORMAT, "version": 1, "study_id": study_id, "seed": seed,
               "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "compare": str(compare_dir.resolve()), "dataset": manifest.get("dataset"), "split": manifest.get("split"),
               "models": manifest["models"], "pairs": [list(p) for p in chosen], "trials_per_pair": per_pair,
               "attention_checks": checks, "questions": {"lipsync": "Which lips match the speech better?",
                                                         "realism": "Which face looks more realistic?"},
               "check_rule": "a participant passes an attention check by choosing the ground truth for lip sync",
               "trials": key_trials, "media": {v: k for k, v in names.items()}, "histalk_bench": __version__}
        write_text_atomic(staging / KEY, json.dumps(key, indent=1))
        (staging / ANSWERS).mkdir()
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return key


def read_key(study: str | Path) -> dict:
    """STUDY/key.json checked; UserError when absent or not a study key."""
    path = Path(study) / KEY
    if not path.exists():
        raise UserError(f"no {KEY}: not a study folder made by 'histalk-bench study --compare DIR --out STUDY'", study)
    try:
        key = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"unreadable study key ({exc.__class__.__name__})", path) from None
    if not isinstance(key, dict) or key.get("format") != KEY_FORMAT:
        raise UserError("not a histalk-bench study key", path)
    return key
