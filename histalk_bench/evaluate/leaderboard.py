"""scores.json files -> leaderboard.csv, leaderboard.md and plots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..common.errors import UserError
from ..metrics.bootstrap import paired_test

METRIC_ORDER = ("lve", "fdd", "mve", "lrp")


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


def _exponent(scale: float) -> str:
    return "" if scale == 1 else f" (x1e{-int(round(math.log10(scale)))})"


def check_comparable(scores: list[dict]) -> list[str]:
    """UserError when scores mix datasets or splits; notes when region files or LRP thresholds differ."""
    kinds = sorted({(s["dataset"], s["split"]) for s in scores})
    if len(kinds) > 1:
        raise UserError("scores mix datasets/splits (" + ", ".join(f"{d}/{p}" for d, p in kinds)
                        + "): build one leaderboard per dataset and split", ", ".join(s["model"] for s in scores))
    notes = []
    regions = {json.dumps({k: v.get("sha256") for k, v in s.get("regions", {}).items()}, sort_keys=True) for s in scores}
    if len(regions) > 1:
        notes.append("WARNING: the models were scored with different region files (sha256 differ); LVE/FDD are not comparable.")
    thresholds = {s.get("lrp", {}).get("threshold") for s in scores}
    if len(thresholds) > 1:
        notes.append(f"WARNING: LRP thresholds differ between models ({sorted(map(str, thresholds))}).")
    versions = {json.dumps(s.get("metric_versions", {}), sort_keys=True) for s in scores}
    if len(versions) > 1:
        notes.append("WARNING: metric versions differ between models.")
    return notes


def leaderboard_rows(scores: list[dict]) -> list[dict]:
    """One row per model, raw (unscaled) values, sorted by LVE."""
    rows = []
    for s in scores:
        row = {"model": s["model"], "dataset": s["dataset"], "split": s["split"], "n_sequences": s["n_sequences"]}
        for metric in METRIC_ORDER:
            row[metric] = s["metrics"][metric]
            row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = s["ci95"][metric]
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

    def stats(s):
        position = {(r["subject"], r["sentence"]): i for i, r in enumerate(s["per_sequence"])}
        index = np.asarray([position[k] for k in common])
        return {k: np.asarray(v, dtype=np.float64)[index] for k, v in s["statistics"].items()}

    test = paired_test(stats(first), stats(second), "lve")
    scale = first["display_scale"]["lve"]
    return (f"Paired bootstrap ({test['n_resamples']} resamples of {len(common)} sequences): LVE of "
            f"**{first['model']}** minus **{second['model']}** = {test['difference'] * scale:.4f}{_exponent(scale)}, "
            f"two-sided p {_p_text(test['p_value'], test['n_resamples'])}.")


def _p_text(p: float, n_resamples: int) -> str:
    """'= 0.0312', or '< 0.001' when no resample crossed zero (the test's resolution)."""
    return f"< {1 / n_resamples:.3g}" if p == 0 else f"= {p:.4f}"


def write_leaderboard(scores: list[dict], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``leaderboard.csv`` (raw values) and ``leaderboard.md`` (display scaling, arrows, +- CI)."""
    import pandas as pd

    notes = check_comparable(scores)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = leaderboard_rows(scores)
    csv_path = out_dir / "leaderboard.csv"
    pd.DataFrame(rows).to_csv(csv_path, index=False)

    scale = scores[0]["display_scale"]
    better = scores[0]["higher_is_better"]
    unit = {"lrp": " (%)"}
    header = (["model"] + [f"{m.upper()}{_exponent(scale[m])}{unit.get(m, '')} {'↑' if better[m] else '↓'}" for m in METRIC_ORDER]
              + ["sequences"])
    lines = [f"# Leaderboard: {scores[0]['dataset']} / {scores[0]['split']}", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["model"]]
        for m in METRIC_ORDER:
            half = (row[f"{m}_ci_high"] - row[f"{m}_ci_low"]) / 2 * scale[m]
            cells.append(f"{row[m] * scale[m]:.4f} ± {half:.4f}")
        cells.append(str(row["n_sequences"]))
        lines.append("| " + " | ".join(cells) + " |")
    lrp = scores[0].get("lrp", {})
    lines += ["", "± is half the 95% bootstrap interval (sequences resampled). FDD is signed (GT minus prediction): "
              "closer to 0 is better in practice; the arrow follows the convention of the papers.",
              f"LRP here is this toolkit's geometric reading (threshold {lrp.get('threshold')} data units), "
              "not comparable with published LRP numbers.",
              "Regions: " + ", ".join(f"{k} sha256 {v['sha256'][:12]}… ({v['source']}, {v['n']} ids)"
                                      for k, v in scores[0].get("regions", {}).items())]
    paired = _paired_line(scores)
    if paired:
        lines += ["", paired]
    if notes:
        lines += [""] + notes
    md_path = out_dir / "leaderboard.md"
    md_path.write_text("\n".join(lines) + "\n")
    return csv_path, md_path


def rebuild_leaderboard(folders: list[str | Path], out: str | Path | None = None) -> tuple[Path, Path, list[Path]]:
    """Tables and score plots (metric bars, per-subject LVE) from stored scores.json files; the
    lip-opening plot needs predictions and is left to ``compare``."""
    scores = load_scores(find_scores(folders))
    out_dir = Path(out or folders[0])
    if out_dir.is_file():
        out_dir = out_dir.parent
    csv_path, md_path = write_leaderboard(scores, out_dir)
    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    return csv_path, md_path, [plot_metric_bars(scores, plots / "metrics.png"),
                               plot_per_subject_lve(scores, plots / "lve_per_subject.png")]


# --------------------------------------------------------------------------------------------
# plots


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: Path, rect=None) -> Path:
    """Lay out, write at 110 dpi and free the figure."""
    import matplotlib.pyplot as plt

    if rect is None:
        fig.tight_layout()
    else:
        fig.tight_layout(rect=rect)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


_TITLES = {"lve": "LVE", "fdd": "FDD (GT - pred, signed)", "mve": "MVE", "lrp": "LRP (%, geometric)"}


def model_colours(names: list[str]) -> dict[str, tuple]:
    """One fixed colour per model (in the given order), shared by every plot."""
    plt = _pyplot()
    return {name: plt.cm.tab10(i % 10) for i, name in enumerate(names)}


def _ranked_names(scores: list[dict]) -> list[str]:
    return [r["model"] for r in leaderboard_rows(scores)]


def plot_metric_bars(scores: list[dict], out: Path) -> Path:
    """One panel per metric: display-scaled value per model (best LVE first) with its 95% CI."""
    plt = _pyplot()
    rows = leaderboard_rows(scores)
    scale = scores[0]["display_scale"]
    colours = model_colours(_ranked_names(scores))
    fig, axes = plt.subplots(1, len(METRIC_ORDER), figsize=(3.0 * len(METRIC_ORDER), 3.4))
    for ax, metric in zip(axes, METRIC_ORDER):
        values = np.asarray([r[metric] for r in rows]) * scale[metric]
        low = values - np.asarray([r[f"{metric}_ci_low"] for r in rows]) * scale[metric]
        high = np.asarray([r[f"{metric}_ci_high"] for r in rows]) * scale[metric] - values
        ax.bar(range(len(rows)), values, yerr=[np.maximum(low, 0), np.maximum(high, 0)],
               color=[colours[r["model"]] for r in rows], capsize=4, width=0.7)
        ax.set_xticks(range(len(rows)), [r["model"] for r in rows], rotation=30 if len(rows) > 2 else 0,
                      ha="right" if len(rows) > 2 else "center")
        better = "higher" if scores[0]["higher_is_better"][metric] else "lower"
        ax.set_title(f"{_TITLES[metric]}{_exponent(scale[metric])}\n{better} is better", fontsize=9)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{scores[0]['dataset']} / {scores[0]['split']}: {scores[0]['n_sequences']} sequences, "
                 "95% bootstrap CI", fontsize=10)
    return _save(fig, out)


def plot_per_subject_lve(scores: list[dict], out: Path) -> Path:
    """Grouped bars: display-scaled LVE per test subject and model."""
    plt = _pyplot()
    subjects = sorted({s for sc in scores for s in sc["per_subject"]})
    scale = scores[0]["display_scale"]["lve"]
    names = _ranked_names(scores)
    colours = model_colours(names)
    by_name = {sc["model"]: sc for sc in scores}
    width = 0.8 / max(1, len(scores))
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(subjects) + 2), 3.8))
    for i, name in enumerate(names):
        values = [by_name[name]["per_subject"].get(s, {}).get("lve", np.nan) * scale for s in subjects]
        ax.bar(np.arange(len(subjects)) + i * width, values, width, label=name, color=colours[name])
    ax.set_xticks(np.arange(len(subjects)) + width * (len(scores) - 1) / 2, subjects,
                  rotation=20 if len(subjects) > 3 else 0, ha="right" if len(subjects) > 3 else "center", fontsize=8)
    ax.set_ylabel(f"LVE{_exponent(scale)}")
    ax.set_title(f"LVE per subject ({scores[0]['dataset']} / {scores[0]['split']}, lower is better)", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, out)


def lip_centre_ids(template: np.ndarray, lip_ids: np.ndarray, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower lip centre points: among lip vertices above (at or below) the lip region's
    median height (y, the templates' vertical axis), the ``k`` nearest the face's vertical centre
    line (median x of the lip region).  Their mean positions are the two centre points."""
    points = template[lip_ids]
    centre_x, mid_y = np.median(points[:, 0]), np.median(points[:, 1])
    upper = lip_ids[points[:, 1] > mid_y]
    lower = lip_ids[points[:, 1] <= mid_y]
    pick = lambda ids: ids[np.argsort(np.abs(template[ids, 0] - centre_x))[:k]]
    return pick(upper), pick(lower)


def lip_opening(vertices: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """(T,) distance between the mean upper-lip centre point and the mean lower-lip centre point."""
    return np.linalg.norm(vertices[:, upper].mean(axis=1) - vertices[:, lower].mean(axis=1), axis=-1)


def _example_refs(cache, split: str, n: int) -> list:
    """The first sequence of each subject of ``split`` (then the next ones), ``n`` in all."""
    refs = cache.sequences(split)
    by_subject: dict[str, list] = {}
    for ref in refs:
        by_subject.setdefault(ref.subject, []).append(ref)
    picked = []
    for round_ in range(max((len(v) for v in by_subject.values()), default=0)):
        for subject_refs in by_subject.values():
            if round_ < len(subject_refs) and len(picked) < n:
                picked.append(subject_refs[round_])
    return picked


def plot_lip_opening(cache, predictions: dict[str, object], out: Path, split: str, n_sequences: int = 3,
                     order: list[str] | None = None) -> Path:
    """Per-frame lip opening (see :func:`lip_centre_ids`) of ground truth vs each model for a few
    sequences of ``split`` (one per subject first); for conditioned predictions the first condition."""
    plt = _pyplot()
    refs = _example_refs(cache, split, n_sequences)
    lip = cache.regions()["lip"]
    names = order or list(predictions)
    colours = model_colours(names)
    to_mm = 1e3 if cache.dataset == "vocaset" else 1.0
    unit = "mm" if cache.dataset == "vocaset" else "data units"
    fig, axes = plt.subplots(len(refs), 1, figsize=(8, 2.3 * len(refs) + 0.6), squeeze=False)
    for ax, ref in zip(axes[:, 0], refs):
        template = cache.template(ref.subject)
        upper, lower = lip_centre_ids(template, lip)
        time = np.arange(ref.n_frames) / cache.fps
        gt = lip_opening(cache.vertices(ref.subject, ref.sentence), upper, lower) * to_mm
        ax.plot(time, gt, color="black", lw=2.2, label="ground truth")
        for name in names:
            reader = predictions[name]
            if not reader.has(ref.subject, ref.sentence):
                continue
            condition = reader.conditions(ref.subject, ref.sentence)[0]
            pred = reader.vertices(ref.subject, ref.sentence, condition)
            ax.plot(np.arange(len(pred)) / cache.fps, lip_opening(pred, upper, lower) * to_mm, lw=1.4,
                    color=colours[name], label=name)
        ax.set_title(f"{ref.subject}/{ref.sentence}", fontsize=9)
        ax.set_ylabel(f"opening ({unit})", fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time (s)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    height = 2.3 * len(refs) + 0.6
    fig.legend(handles, labels, loc="upper right", bbox_to_anchor=(0.99, 1.0), ncol=min(6, len(labels)),
               fontsize=8, frameon=False)
    fig.text(0.01, 1 - 0.12 / height, "Lip opening: distance between upper and lower lip centre points",
             fontsize=10, va="top")
    return _save(fig, out, rect=(0, 0, 1, 1 - 0.4 / height))
