"""``compare``'s HTML report: ``DIR/report.html`` plus its media and manifest in ``DIR/report/``.

The page (built by :mod:`.page`) holds the sortable leaderboard and phonetic tables, the
plots, the provenance, and a sequence browser: for a few test sequences the ground truth and every
model as bare videos (:mod:`.media`) played in sync with the sequence's audio, with the
mouth-opening curves.  ``DIR/report/report.json`` lists what was rendered; ``histalk-bench study``
builds its blinded trials from it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from ..common.atomic import write_text_atomic
from ..common.constants import SAMPLE_RATE
from ..common.errors import UserError
from ..metrics.mouth import mouth_points
from ..predict.store import PredictionReader
from ..rendering.geometry import frame_meshes
from .media import clip_backend, remove_unused, render_clip, write_audio
from .page import report_page

logger = logging.getLogger(__name__)

MEDIA_FOLDER = "report"           # beside report.html, inside the compare folder
MANIFEST = "report.json"
REPORT_PAGE = "report.html"
CLIP_SIZE = 256                   # pixels per side of every clip
MANIFEST_FORMAT = "histalk-bench-report"


@dataclass
class ReportResult:
    """The page, its size and its media's size (bytes), the seconds spent, clips rendered/reused."""

    path: Path
    page_bytes: int
    media_bytes: int
    seconds: float
    rendered: int
    reused: int

    def line(self) -> str:
        return (f"{self.path}: {self.page_bytes / 1024:.0f} KiB page + {self.media_bytes / 2**20:.2f} MiB of media "
                f"in {self.path.parent / MEDIA_FOLDER}/ ({self.rendered} clips rendered, {self.reused} reused), "
                f"{self.seconds:.1f} s added")


def pick_sequences(per_sequence: list[dict], n: int, available: set[tuple[str, str]]) -> list[dict]:
    """``n`` sequences spread evenly over the ranking by LVE (best first): with n >= 2 the best and
    the worst, then evenly spaced ranks between them (n = 3: best, median, worst).  Deterministic:
    ties are broken by subject and sentence.  Returns [{subject, sentence, lve, rank, of, label}]."""
    rows = sorted((r for r in per_sequence if (r["subject"], r["sentence"]) in available and r.get("lve") is not None),
                  key=lambda r: (r["lve"], r["subject"], r["sentence"]))
    if not rows or n < 1:
        return []
    count = min(n, len(rows))
    positions = [0] if count == 1 else sorted({round(i * (len(rows) - 1) / (count - 1)) for i in range(count)})
    picked = []
    for position in positions:
        row = rows[position]
        if position == 0:
            label = "best"
        elif position == len(rows) - 1:
            label = "worst"
        elif abs(position - (len(rows) - 1) / 2) < 1:
            label = "median"
        else:
            label = f"rank {position + 1}"
        picked.append({"subject": row["subject"], "sentence": row["sentence"], "lve": float(row["lve"]),
                       "rank": position + 1, "of": len(rows), "label": label})
    return picked


def _opening_unit(dataset: str) -> tuple[float, str]:
    return (1e3, "mm") if dataset == "vocaset" else (1.0, "data units")


def render_sequences(cache, readers: dict, picked: list[dict], media: Path, out_dir: Path) -> tuple[list[dict], int, int]:
    """Render the clips and audio of the picked sequences; returns (manifest entries, rendered, reused)."""
    mouth = mouth_points(cache)
    factor, unit = _opening_unit(cache.dataset)
    faces = cache.faces
    entries, rendered, reused = [], 0, 0

    def relative(path: Path) -> str:
        return path.relative_to(out_dir).as_posix()

    for pick in picked:
        subject, sentence = pick["subject"], pick["sentence"]
        gt = cache.vertices(subject, sentence)
        panels, conditions = {}, {}
        for name, reader in readers.items():
            condition = reader.conditions(subject, sentence)[0]
            panels[name] = reader.vertices(subject, sentence, condition)
            conditions[name] = condition
        n_frames = min([len(gt)] + [len(v) for v in panels.values()])
        gt = gt[:n_frames]
        framing = frame_meshes([gt], margin=1.12)
        clips = {}
        shown = [("ground truth", gt)] + [(name, v[:n_frames]) for name, v in panels.items()]
        shown.append(("static face", np.repeat(cache.template(subject)[None], n_frames, axis=0)))
        for name, vertices in shown:
            result = render_clip(vertices, faces, framing, CLIP_SIZE, cache.fps, media, frozen=name == "static face")
            rendered, reused = rendered + result.rendered, reused + (not result.rendered)
            clips[name] = relative(result.path)
        audio = write_audio(cache.audio(subject, sentence), round(n_frames / cache.fps * SAMPLE_RATE), SAMPLE_RATE, media)
        opening = None
        if mouth is not None:
            opening = {name: [round(float(x), 5) for x in mouth.opening(vertices) * factor]
                       for name, vertices in shown if name != "static face"}
        entries.append({**pick, "n_frames": int(n_frames), "duration_s": n_frames / cache.fps,
                        "audio": relative(audio), "ground_truth": clips.pop("ground truth"),
                        "static_face": clips.pop("static face"),
                        "models": {name: {"clip": clips[name], "condition": conditions[name]} for name in readers},
                        "opening": opening, "opening_unit": unit})
    return entries, rendered, reused


def build_report(out_dir: str | Path, cache, scores: list[dict], prediction_paths: dict[str, Path], split: str,
                 n_sequences: int = 4) -> ReportResult:
    """Write ``out_dir/report.html`` and ``out_dir/report/`` (clips, audio, report.json).

    scores: the models' scores.json contents, in the order the models were given (the first one
    picks the sequences); prediction_paths: model -> predictions.h5; n_sequences: how many test
    sequences the browser shows (0: none)."""
    if n_sequences < 0:
        raise UserError(f"--report-sequences must be 0 or more, got {n_sequences}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    media = out_dir / MEDIA_FOLDER
    media.mkdir(parents=True, exist_ok=True)
    readers = {name: PredictionReader(path) for name, path in prediction_paths.items()}
    try:
        in_all = set.intersection(*(set(r.keys()) for r in readers.values())) & {
            (r.subject, r.sentence) for r in cache.sequences(split)}
        first = scores[0]
        picked = pick_sequences(first.get("per_sequence", []), n_sequences, in_all)
        entries, rendered, reused = render_sequences(cache, readers, picked, media, out_dir)
    finally:
        for reader in readers.values():
            reader.close()
    manifest = {"format": MANIFEST_FORMAT, "version": 1, "dataset": cache.dataset, "split": split, "fps": cache.fps,
                "clip_size": CLIP_SIZE, "backend": clip_backend(cache.faces), "models": list(prediction_paths),
                "picked_by": f"LVE of {first['model']} (the first model given)", "sequences": entries,
                "cache_fingerprint": (first.get("provenance", {}).get("cache") or {}).get("fingerprint")}
    used = {Path(e[k]).name for e in entries for k in ("audio", "ground_truth", "static_face")}
    used |= {Path(m["clip"]).name for e in entries for m in e["models"].values()}
    remove_unused(media, used)
    page = out_dir / REPORT_PAGE
    write_text_atomic(page, report_page(scores, manifest, out_dir))
    media_bytes = sum(p.stat().st_size for p in media.iterdir() if p.name in used)
    manifest["build"] = {"seconds": round(time.perf_counter() - started, 3), "page_bytes": page.stat().st_size,
                         "media_bytes": media_bytes, "clips_rendered": rendered, "clips_reused": reused}
    write_text_atomic(media / MANIFEST, json.dumps(manifest, indent=1))
    result = ReportResult(page, page.stat().st_size, media_bytes, time.perf_counter() - started, rendered, reused)
    logger.info("[compare] report: %s", result.line())
    return result


def report_builder(n_sequences: int = 4) -> Callable:
    """``run_compare``'s ``finish`` step that writes the report with ``n_sequences`` sequences."""
    return partial(build_report, n_sequences=n_sequences)


def read_manifest(compare_dir: str | Path) -> dict:
    """``DIR/report/report.json`` checked; UserError when absent or not a report manifest."""
    path = Path(compare_dir) / MEDIA_FOLDER / MANIFEST
    if not Path(compare_dir).is_dir():
        raise UserError("not a folder (give the --out folder of a compare run)", compare_dir)
    if not path.exists():
        raise UserError(f"no rendered sequences ({MEDIA_FOLDER}/{MANIFEST} missing): run compare without --no-report "
                        "and with --report-sequences of at least 1", compare_dir)
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"unreadable report manifest ({exc.__class__.__name__})", path) from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise UserError("not a histalk-bench report manifest", path)
    return manifest
