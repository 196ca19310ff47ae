"""scores.json files -> leaderboard.csv and leaderboard.md (plots: :mod:`.plots`); every column,
title, direction and note comes from the metric specs (:mod:`.table`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..common import lock
from ..common.atomic import atomic_path, write_text_atomic
from ..common.errors import UserError
from ..metrics import all_specs, primary_spec
from ..metrics.bootstrap import paired_test
from .plots import write_score_plots
from .table import (MIN_SEQUENCES, UNRELIABLE, column_title, display_factor, interval_reliable, leaderboard_rows,
                    metric_notes, scale_notation)

__all__ = ["MIN_SEQUENCES", "check_comparable", "find_scores", "interval_reliable", "leaderboard_rows", "load_scores",
           "rebuild_leaderboard", "scale_notation", "write_leaderboard"]

COMPARED_OPTIONS_IGNORED = ("pred", "data")  # paths: differ by design between models


def load_scores(paths: list[Path]) -> list[dict]:
    scores = []
    for path in paths:
        try:
            score = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"unreadable scores file ({exc.__class__.__name__})", path) from None
        missing = [k for k in ("model", "dataset", "split", "metrics", "ci95", "display_scale") if k not in score]
        if missing:
            raise UserError(f"not a histalk-bench scores file (no {', '.join(missing)})", path)
        score["source"] = str(path)
        scores.append(score)
    return unique_model_names(scores)


def unique_model_names(scores: list[dict]) -> list[dict]:
    """Models with the same name (e.g. from two compare folders) get their folder appended."""
    names = [s["model"] for s in scores]
    out = []
    for s in scores:
        if names.count(s["model"]) > 1 and s.get("source"):
            folder = Path(s["source"]).parent
            label = folder.parent.name if folder.name == s["model"] else folder.name
            s = dict(s, model=f"{s['model']} ({label})")
        out.append(s)
    return out


def find_scores(folders: list[str | Path]) -> list[Path]:
    """Every ``scores.json`` directly in or one level below each folder."""
    found = []
    for folder in folders:
        folder = Path(folder)
        if folder.is_file():
            found.append(folder)
            continue
        if not folder.is_dir():
            raise UserError("not a folder", folder)
        found += sorted(folder.glob("scores.json")) + sorted(folder.glob("*/scores.json"))
    if not found:
        raise UserError("no scores.json found", ", ".join(map(str, folders)))
    return found


def check_comparable(scores: list[dict]) -> list[str]:
    """UserError when scores mix datasets or splits; notes when region files, evaluation options
    (e.g. the LRP threshold) or metric versions differ."""
    kinds = sorted({(s["dataset"], s["split"]) for s in scores})
    if len(kinds) > 1:
        raise UserError("scores mix datasets/splits (" + ", ".join(f"{d}/{p}" for d, p in kinds)
                        + "): build one leaderboard per dataset and split", ", ".join(s["model"] for s in scores))
    notes = []
    shared_regions = set.intersection(*(set(s.get("regions", {})) for s in scores))  # older files lack lip_pairs
    regions = {json.dumps({k: v.get("sha256") for k, v in s.get("regions", {}).items() if k in shared_regions},
                          sort_keys=True) for s in scores}
    if len(regions) > 1:
        notes.append("WARNING: the models were scored with different region files (sha256 differ); metrics computed "
                     "on those regions are not comparable.")
    options = [{k: v for k, v in s.get("options", {}).items() if k not in COMPARED_OPTIONS_IGNORED} for s in scores]
    for key in sorted(set().union(*options)):
        values = {json.dumps(o.get(key), sort_keys=True) for o in options}
        if len(values) > 1:
            notes.append(f"WARNING: the evaluation option {key} differs between models ({', '.join(sorted(values))}).")
    shared = set.intersection(*(set(s.get("metric_versions", {})) for s in scores))  # older files lack newer metrics
    versions = {json.dumps({k: v for k, v in s.get("metric_versions", {}).items() if k in shared}, sort_keys=True)
                for s in scores}
    if len(versions) > 1:
        notes.append("WARNING: metric versions differ between models.")
    return notes


def _paired_line(scores: list[dict]) -> str:
    """The paired bootstrap test of the primary metric between the two best models."""
    primary = primary_spec()
    if len(scores) < 2:
        return ""
    by_name = {s["model"]: s for s in scores}
    first, second = (by_name[row["model"]] for row in leaderboard_rows(scores)[:2])
    keys_a = [(r["subject"], r["sentence"]) for r in first["per_sequence"]]
    keys_b = [(r["subject"], r["sentence"]) for r in second["per_sequence"]]
    common = [k for k in keys_a if k in set(keys_b)]
    if not common:
        return ""
    if not interval_reliable(len(common)):
        return (f"No paired bootstrap test: only {len(common)} common sequences (at least {MIN_SEQUENCES} needed "
                "for a meaningful p-value).")

    def stats(s):
        position = {(r["subject"], r["sentence"]): i for i, r in enumerate(s["per_sequence"])}
        index = np.asarray([position[k] for k in common])
        return {k: np.asarray(v, dtype=np.float64)[index] for k, v in s["statistics"].items()}

    test = paired_test(stats(first), stats(second), primary.name)
    scale = display_factor(scores, primary)
    return (f"Paired bootstrap ({test['n_resamples']} resamples of {len(common)} sequences): {primary.title} of "
            f"**{first['model']}** minus **{second['model']}** = {test['difference'] * scale:.4f}{scale_notation(scale)}, "
            f"two-sided p {_p_text(test['p_value'], test['n_resamples'])}.")


def _p_text(p: float, n_resamples: int) -> str:
    """'= 0.0312', or '< 0.001' when no resample crossed zero (the test's resolution)."""
    return f"< {1 / n_resamples:.3g}" if p == 0 else f"= {p:.4f}"


def _cell(row: dict, metric: str, scale: float) -> str:
    """'value ± half CI' (display-scaled), 'absent' for a missing/absent value."""
    value = row.get(metric, float("nan"))
    if value is None or np.isnan(value):
        return "absent"
    half = (row[f"{metric}_ci_high"] - row[f"{metric}_ci_low"]) / 2 * scale
    mark = "" if row.get("ci_reliable", True) else UNRELIABLE
    return f"{value * scale:.4f}" + ("" if np.isnan(half) else f" ± {half:.4f}{mark}")


def phonetic_lines(scores: list[dict]) -> list[str]:
    """The phonetic table (the specs of the 'phonetic' table: their titles, units and descriptions) as Markdown."""
    rows = leaderboard_rows(scores)
    specs = all_specs("phonetic")
    header = ["model"] + [column_title(metric, display_factor(scores, metric)) for metric in specs]
    lines = ["## Phonetic metrics", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join([row["model"]] + [_cell(row, metric.name, display_factor(scores, metric))
                                                        for metric in specs]) + " |")
    info = scores[0].get("phonetic") or {}
    mouth = info.get("mouth_opening") or {}
    lines += [""] + [f"- {metric.title} ({metric.units}): {metric.description}." for metric in specs]
    lines += [""] + metric_notes(specs)
    lines += [f"Mouth opening: {mouth.get('source', 'n/a')} ({mouth.get('n_pairs', '?')} pairs, sha256 "
              f"{str(mouth.get('sha256', ''))[:12]}…); 'absent' = not computable (no phone tiers or no mouth points)."]
    return lines


def write_leaderboard(scores: list[dict], out_dir: str | Path, phonetic: bool = False) -> tuple[Path, Path]:
    """Write ``leaderboard.csv`` (raw values) and ``leaderboard.md`` (display scaling, arrows, +- CI);
    ``phonetic`` adds the phonetic table to the Markdown."""
    notes = check_comparable(scores)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = leaderboard_rows(scores)
    csv_path = out_dir / "leaderboard.csv"
    with atomic_path(csv_path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(dict.fromkeys(k for row in rows for k in row)))
        writer.writeheader()
        writer.writerows({k: "" if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()} for row in rows)

    specs = all_specs("core")
    header = ["model"] + [column_title(metric, display_factor(scores, metric)) for metric in specs] + ["sequences"]
    lines = [f"# Leaderboard: {scores[0]['dataset']} / {scores[0]['split']}", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["model"]]
        cells += [_cell(row, metric.name, display_factor(scores, metric)) for metric in specs]
        cells.append(str(row["n_sequences"]))
        lines.append("| " + " | ".join(cells) + " |")
    options = scores[0].get("options", {})
    lines += ["", "± is half the 95% bootstrap interval (sequences resampled). Units of the raw values: "
              + "; ".join(f"{metric.title}: {metric.units}" for metric in specs) + "."] + metric_notes(specs)
    lines += ["Evaluation options: " + ", ".join(f"{k} {v}" for k, v in sorted(options.items())
                                                 if k not in COMPARED_OPTIONS_IGNORED) + ".",
              "Regions: " + ", ".join(f"{k} sha256 {v['sha256'][:12]}… ({v['source']}, {v['n']} ids)"
                                      for k, v in scores[0].get("regions", {}).items())]
    if not all(row["ci_reliable"] for row in rows):
        lines.append(f"{UNRELIABLE} fewer than {MIN_SEQUENCES} sequences: the bootstrap interval is unreliable "
                     "(too few sequences to resample).")
    paired = _paired_line(scores)
    if paired:
        lines += ["", paired]
    if phonetic:
        lines += [""] + phonetic_lines(scores)
    if notes:
        lines += [""] + notes
    md_path = out_dir / "leaderboard.md"
    write_text_atomic(md_path, "\n".join(lines) + "\n")
    return csv_path, md_path


def rebuild_leaderboard(folders: list[str | Path], out: str | Path | None = None,
                        phonetic: bool = False) -> tuple[Path, Path, list[Path]]:
    """Tables and score plots (:func:`.plots.write_score_plots`; with ``phonetic`` also the phonetic
    table and plots) from stored scores.json files; the lip-opening plot needs predictions and is
    left to ``compare``."""
    scores = load_scores(find_scores(folders))
    out_dir = Path(out or folders[0])
    if out_dir.is_file():
        out_dir = out_dir.parent
    with lock.exclusive(out_dir, folder=True, what="leaderboard folder"):
        csv_path, md_path = write_leaderboard(scores, out_dir, phonetic=phonetic)
        written = write_score_plots(scores, out_dir / "plots", phonetic=phonetic)
    return csv_path, md_path, written
