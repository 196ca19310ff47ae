"""scores.json files -> leaderboard.csv and leaderboard.md (plots: :mod:`.plots`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..common.atomic import atomic_path, write_text_atomic
from ..common.errors import UserError
from ..metrics import all_specs
from ..metrics.bootstrap import paired_test


MIN_SEQUENCES = 10  # below this, bootstrap intervals are marked unreliable and no p-value is printed
UNRELIABLE = "†"


def metric_order() -> tuple[str, ...]:
    """The main table's columns, read from the registry when needed (metrics registered later count)."""
    return tuple(spec.name for spec in all_specs("core"))


def phonetic_order() -> tuple[str, ...]:
    return tuple(spec.name for spec in all_specs("phonetic"))


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


def scale_notation(scale: float) -> str:
    """' (x1e-5)' when values are shown multiplied by 1e5 (as papers print them), '' for 1;
    the one notation of ``evaluate`` and the leaderboard."""
    return "" if scale == 1 else f" (x1e{-int(round(math.log10(scale)))})"


_exponent = scale_notation  # the older name (plots.py)


def interval_reliable(n_sequences: int) -> bool:
    return int(n_sequences) >= MIN_SEQUENCES


def check_comparable(scores: list[dict]) -> list[str]:
    """UserError when scores mix datasets or splits; notes when region files or LRP thresholds differ."""
    kinds = sorted({(s["dataset"], s["split"]) for s in scores})
    if len(kinds) > 1:
        raise UserError("scores mix datasets/splits (" + ", ".join(f"{d}/{p}" for d, p in kinds)
                        + "): build one leaderboard per dataset and split", ", ".join(s["model"] for s in scores))
    notes = []
    shared_regions = set.intersection(*(set(s.get("regions", {})) for s in scores))  # older files lack lip_pairs
    regions = {json.dumps({k: v.get("sha256") for k, v in s.get("regions", {}).items() if k in shared_regions},
                          sort_keys=True) for s in scores}
    if len(regions) > 1:
        notes.append("WARNING: the models were scored with different region files (sha256 differ); LVE/FDD are not comparable.")
    thresholds = {s.get("lrp", {}).get("threshold") for s in scores}
    if len(thresholds) > 1:
        notes.append(f"WARNING: LRP thresholds differ between models ({sorted(map(str, thresholds))}).")
    shared = set.intersection(*(set(s.get("metric_versions", {})) for s in scores))  # older files lack newer metrics
    versions = {json.dumps({k: v for k, v in s.get("metric_versions", {}).items() if k in shared}, sort_keys=True)
                for s in scores}
    if len(versions) > 1:
        notes.append("WARNING: metric versions differ between models.")
    return notes


def leaderboard_rows(scores: list[dict]) -> list[dict]:
    """One row per model, raw (unscaled) values, sorted by LVE."""
    rows = []
    for s in scores:
        row = {"model": s["model"], "dataset": s["dataset"], "split": s["split"], "n_sequences": s["n_sequences"],
               "ci_reliable": interval_reliable(s["n_sequences"])}
        phonetic = phonetic_order()
        for metric in metric_order() + phonetic:
            if metric not in s["metrics"] and metric in phonetic:
                continue  # scores written before the phonetic metrics existed
            value, ci = s["metrics"].get(metric), s["ci95"].get(metric)
            row[metric] = float("nan") if value is None else value
            row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = ci if ci else (float("nan"), float("nan"))
        rows.append(row)
    return sorted(rows, key=lambda r: r["lve"])


def _paired_line(scores: list[dict]) -> str:
    ranked = sorted(scores, key=lambda s: s["metrics"]["lve"])
    if len(ranked) < 2:
        return ""
    first, second = ranked[:2]
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

    test = paired_test(stats(first), stats(second), "lve")
    scale = first["display_scale"]["lve"]
    return (f"Paired bootstrap ({test['n_resamples']} resamples of {len(common)} sequences): LVE of "
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
    """The phonetic table (per-viseme LVE, closure rate, lip-sync offset and correlations) as Markdown."""
    from ..metrics import METRICS

    rows = leaderboard_rows(scores)
    specs = [METRICS.get(name) for name in phonetic_order()]
    dataset = scores[0]["dataset"]
    header = ["model"] + [f"{spec.title}{scale_notation(spec.scale_for(dataset))} {'↑' if spec.higher_is_better else '↓'}"
                          for spec in specs]
    lines = ["## Phonetic metrics", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join([row["model"]] + [_cell(row, spec.name, spec.scale_for(dataset)) for spec in specs]) + " |")
    info = scores[0].get("phonetic") or {}
    mouth = info.get("mouth_opening") or {}
    lines += ["", "LVE per viseme class pools the frames inside phones of the class (bilabial p b m, labiodental f v, "
              "rounded uw ow w oy, open aa ae ah ao aw ay, other). Closure: share of p/b/m phones whose predicted "
              f"mouth opening comes within {info.get('closure_tolerance', '?')} x the GT opening range of the GT minimum. "
              "Offset: lag maximising the opening cross-correlation (positive = model late; closer to 0 is better; "
              "absent when no lag correlates positively, e.g. a mouth that does not move).",
              f"Mouth opening: {mouth.get('source', 'n/a')} ({mouth.get('n_pairs', '?')} pairs, sha256 "
              f"{str(mouth.get('sha256', ''))[:12]}…); 'absent' = not computable (no phone tiers or no mouth points)."]
    return lines


def write_leaderboard(scores: list[dict], out_dir: str | Path, phonetic: bool = False) -> tuple[Path, Path]:
    """Write ``leaderboard.csv`` (raw values) and ``leaderboard.md`` (display scaling, arrows, +- CI);
    ``phonetic`` adds the phonetic table to the Markdown."""
    import pandas as pd

    notes = check_comparable(scores)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = leaderboard_rows(scores)
    csv_path = out_dir / "leaderboard.csv"
    with atomic_path(csv_path) as temporary:
        pd.DataFrame(rows).to_csv(temporary, index=False)

    scale = scores[0]["display_scale"]
    better = scores[0]["higher_is_better"]
    unit = {"lrp": " (%)"}
    header = (["model"] + [f"{m.upper()}{scale_notation(scale[m])}{unit.get(m, '')} {'↑' if better[m] else '↓'}" for m in metric_order()]
              + ["sequences"])
    lines = [f"# Leaderboard: {scores[0]['dataset']} / {scores[0]['split']}", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["model"]]
        cells += [_cell(row, m, scale[m]) for m in metric_order()]
        cells.append(str(row["n_sequences"]))
        lines.append("| " + " | ".join(cells) + " |")
    lrp = scores[0].get("lrp", {})
    lines += ["", "± is half the 95% bootstrap interval (sequences resampled). FDD is signed (GT minus prediction): "
              "closer to 0 is better in practice; the arrow follows the convention of the papers.",
              f"LRP here is this toolkit's geometric reading (threshold {lrp.get('threshold')} data units), "
              "not comparable with published LRP numbers.",
              "Regions: " + ", ".join(f"{k} sha256 {v['sha256'][:12]}… ({v['source']}, {v['n']} ids)"
                                      for k, v in scores[0].get("regions", {}).items())]
    if not all(row["ci_reliable"] for row in rows):
        lines.append(f"{UNRELIABLE} fewer than {MIN_SEQUENCES} sequences: the bootstrap interval is unreliable "
                     "(too few sequences to resample).")
    paired = _paired_line(scores)
    if paired:
        lines += ["", paired]
    from .seeds import seed_lines

    seeded = seed_lines(scores, metric_order())
    if seeded:
        lines += [""] + seeded
    if phonetic:
        lines += [""] + phonetic_lines(scores)
    if notes:
        lines += [""] + notes
    md_path = out_dir / "leaderboard.md"
    write_text_atomic(md_path, "\n".join(lines) + "\n")
    return csv_path, md_path


def rebuild_leaderboard(folders: list[str | Path], out: str | Path | None = None,
                        phonetic: bool = False) -> tuple[Path, Path, list[Path]]:
    """Tables and score plots (metric bars, per-subject LVE; with ``phonetic`` also the phonetic
    table, LVE per viseme class and the offset distribution) from stored scores.json files; the
    lip-opening plot needs predictions and is left to ``compare``."""
    scores = load_scores(find_scores(folders))
    out_dir = Path(out or folders[0])
    if out_dir.is_file():
        out_dir = out_dir.parent
    from .plots import plot_metric_bars, plot_per_subject_lve

    from ..common import lock

    with lock.exclusive(out_dir, folder=True, what="leaderboard folder"):
        csv_path, md_path = write_leaderboard(scores, out_dir, phonetic=phonetic)
        plots = out_dir / "plots"
        plots.mkdir(parents=True, exist_ok=True)
        written = [plot_metric_bars(scores, plots / "metrics.png"),
                   plot_per_subject_lve(scores, plots / "lve_per_subject.png")]
        if phonetic:
            from .plots import plot_phonetic

            written += plot_phonetic(scores, plots)
    return csv_path, md_path, written
