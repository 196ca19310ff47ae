"""Leaderboard plots (matplotlib, Agg): metric bars, the primary metric per subject, breakdowns of a
metric (e.g. LVE per viseme class), per-sequence values of signed metrics, and lip opening over
time.  Titles, units, direction, signedness and scale come from the metric specs.

matplotlib is imported on first plot (about 0.3 s), not with this module."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..common.atomic import atomic_path
from ..metrics import all_specs, primary_spec
from ..metrics.mouth import mouth_points
from .table import better, display_factor, leaderboard_rows, metric_order, scale_notation, spec


def _pyplot():
    import matplotlib  # noqa: PLC0415 (lazy: matplotlib: 0.1-0.4 s)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 (lazy: matplotlib: 0.1-0.4 s)

    return plt


def _save(fig, out: Path, rect=None) -> Path:
    """Lay out, write at 110 dpi and free the figure."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 (lazy: matplotlib: 0.1-0.4 s)

    if rect is None:
        fig.tight_layout()
    else:
        fig.tight_layout(rect=rect)
    with atomic_path(out) as temporary:
        fig.savefig(temporary, dpi=110, format=Path(out).suffix.lstrip(".") or "png")
    plt.close(fig)
    return out


def _absolute(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """|value| and its CI for a signed metric: a CI that spans 0 starts at 0."""
    spans = (low < 0) & (high > 0)
    a, b = np.abs(low), np.abs(high)
    return np.abs(values), np.where(spans, 0.0, np.minimum(a, b)), np.maximum(a, b)


def model_colours(names: list[str]) -> dict[str, tuple]:
    """One fixed colour per model (in the given order), shared by every plot."""
    plt = _pyplot()
    return {name: plt.cm.tab10(i % 10) for i, name in enumerate(names)}


def _ranked_names(scores: list[dict]) -> list[str]:
    return [r["model"] for r in leaderboard_rows(scores)]


def plot_metric_bars(scores: list[dict], out: Path) -> Path:
    """One panel per core metric: display-scaled value per model (best first) with its 95% CI; a signed
    metric is drawn as its distance to 0, each bar marked with its sign."""
    plt = _pyplot()
    rows = leaderboard_rows(scores)
    colours = model_colours(_ranked_names(scores))
    metrics = [spec(name) for name in metric_order()]
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.0 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        scale = display_factor(scores, metric)
        values = np.asarray([r[metric.name] for r in rows]) * scale
        ci_low = np.asarray([r[f"{metric.name}_ci_low"] for r in rows]) * scale
        ci_high = np.asarray([r[f"{metric.name}_ci_high"] for r in rows]) * scale
        signs = np.sign(values)
        if metric.signed:  # the best model is the one closest to 0, so plot the distance
            values, ci_low, ci_high = _absolute(values, ci_low, ci_high)
        ax.bar(range(len(rows)), values, yerr=[np.maximum(values - ci_low, 0), np.maximum(ci_high - values, 0)],
               color=[colours[r["model"]] for r in rows], capsize=4, width=0.7)
        if metric.signed:
            for x, (top, sign) in enumerate(zip(np.maximum(values, ci_high), signs)):
                ax.annotate("+" if sign > 0 else "\u2212" if sign < 0 else "0", (x, top), ha="center",
                            va="bottom", fontsize=9, xytext=(0, 2), textcoords="offset points")
            ax.set_xlabel(metric.sign, fontsize=7)
        ax.set_xticks(range(len(rows)), [r["model"] for r in rows], rotation=30 if len(rows) > 2 else 0,
                      ha="right" if len(rows) > 2 else "center")
        title = f"|{metric.title}|" if metric.signed else metric.title
        ax.set_title(f"{title}{scale_notation(scale)}\n{better(metric)} is better", fontsize=9)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{scores[0]['dataset']} / {scores[0]['split']}: {scores[0]['n_sequences']} sequences, "
                 "95% bootstrap CI", fontsize=10)
    return _save(fig, out)


def plot_per_subject(scores: list[dict], out: Path) -> Path:
    """Grouped bars: the display-scaled primary metric per test subject and model."""
    plt = _pyplot()
    primary = primary_spec()
    subjects = sorted({s for sc in scores for s in sc["per_subject"]})
    scale = display_factor(scores, primary)
    names = _ranked_names(scores)
    colours = model_colours(names)
    by_name = {sc["model"]: sc for sc in scores}
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(subjects) + 2), 3.8))
    ticks = _grouped_bars(ax, names, colours, lambda name: [by_name[name]["per_subject"].get(s, {}).get(primary.name)
                                                            for s in subjects], scale)
    ax.set_xticks(ticks, subjects, rotation=20 if len(subjects) > 3 else 0, ha="right" if len(subjects) > 3 else "center",
                  fontsize=8)
    _style_axes(ax, primary, scale, f"{primary.title} per subject ({scores[0]['dataset']} / {scores[0]['split']}, "
                                    f"{better(primary)} is better)")
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, out)


def _grouped_bars(ax, names: list[str], colours: dict, values_of, scale: float) -> np.ndarray:
    """One bar per model (``values_of(name)``: a value per group, None = no bar) in each group;
    returns the groups' tick positions."""
    width = 0.8 / max(1, len(names))
    n_groups = 0
    for i, name in enumerate(names):
        values = [np.nan if v is None else v * scale for v in values_of(name)]
        n_groups = len(values)
        ax.bar(np.arange(n_groups) + i * width, values, width, label=name, color=colours[name])
    return np.arange(n_groups) + width * (len(names) - 1) / 2


def _style_axes(ax, metric, scale: float, title: str) -> None:
    ax.set_ylabel(f"{metric.title}{scale_notation(scale)}")
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)


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
    """Per-frame mouth opening (the metrics' definition, :mod:`histalk_bench.metrics.mouth`) of ground
    truth vs each model for a few sequences of ``split`` (one per subject first); for conditioned
    predictions the first condition."""
    plt = _pyplot()
    refs = _example_refs(cache, split, n_sequences)
    mouth = mouth_points(cache)
    names = order or list(predictions)
    colours = model_colours(names)
    to_mm = 1e3 if cache.dataset == "vocaset" else 1.0
    unit = "mm" if cache.dataset == "vocaset" else "data units"
    fig, axes = plt.subplots(len(refs), 1, figsize=(8, 2.3 * len(refs) + 0.6), squeeze=False)
    for ax, ref in zip(axes[:, 0], refs):
        time = np.arange(ref.n_frames) / cache.fps
        gt = mouth.opening(cache.vertices(ref.subject, ref.sentence)) * to_mm
        ax.plot(time, gt, color="black", lw=2.2, label="ground truth")
        for name in names:
            reader = predictions[name]
            if not reader.has(ref.subject, ref.sentence):
                continue
            condition = reader.conditions(ref.subject, ref.sentence)[0]
            pred = reader.vertices(ref.subject, ref.sentence, condition)
            ax.plot(np.arange(len(pred)) / cache.fps, mouth.opening(pred) * to_mm, lw=1.4,
                    color=colours[name], label=name)
        ax.set_title(f"{ref.subject}/{ref.sentence}", fontsize=9)
        ax.set_ylabel(f"opening ({unit})", fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time (s)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    height = 2.3 * len(refs) + 0.6
    rows = -(-len(labels) // 6)  # legend rows below the axes, title above: they cannot overlap
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=min(6, len(labels)),
               fontsize=8, frameon=False)
    fig.text(0.01, 1 - 0.12 / height, f"Mouth opening: mean distance of matched inner-lip points ({mouth.source})",
             fontsize=10, va="top")
    return _save(fig, out, rect=(0, 0.3 * rows / height, 1, 1 - 0.4 / height))


def breakdowns(table: str = "phonetic") -> dict[str, list]:
    """metric name -> the specs of ``table`` that break it down (their ``scale_like``), e.g. LVE per
    viseme class; only metrics broken down into at least two parts."""
    groups: dict[str, list] = {}
    for metric in all_specs(table):
        if metric.scale_like:
            groups.setdefault(metric.scale_like, []).append(metric)
    return {name: parts for name, parts in groups.items() if len(parts) > 1}


def plot_breakdown(scores: list[dict], base: str, parts: list, out: Path) -> Path:
    """Grouped bars: the display-scaled parts of metric ``base`` (x, by title) per model (bars);
    absent parts are empty."""
    plt = _pyplot()
    names = _ranked_names(scores)
    colours = model_colours(names)
    by_name = {sc["model"]: sc for sc in scores}
    whole = spec(base)
    scale = display_factor(scores, parts[0])
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(parts) + 2), 3.8))
    ticks = _grouped_bars(ax, names, colours, lambda name: [by_name[name]["metrics"].get(p.name) for p in parts], scale)
    ax.set_xticks(ticks, [p.title for p in parts], fontsize=9)
    _style_axes(ax, whole, scale, f"{whole.title} by part ({scores[0]['dataset']} / {scores[0]['split']}, "
                                  f"{better(whole)} is better)")
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, out)


def plot_per_sequence(scores: list[dict], metric, out: Path) -> Path:
    """Per model: ``metric``'s per-sequence values (dots) and its pooled value (bar), raw units (a
    signed metric: the y range is symmetric about 0)."""
    plt = _pyplot()
    names = _ranked_names(scores)
    colours = model_colours(names)
    by_name = {sc["model"]: sc for sc in scores}
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(names) + 2), 3.6))
    rng = np.random.default_rng(0)  # fixed horizontal jitter
    extent = 0.0
    for i, name in enumerate(names):
        values = np.asarray([r.get(metric.name) for r in by_name[name].get("per_sequence", [])
                             if r.get(metric.name) is not None], dtype=np.float64)
        if values.size:
            ax.scatter(i + rng.uniform(-0.15, 0.15, values.size), values, s=12, color=colours[name], alpha=0.7)
            extent = max(extent, 1.1 * float(np.abs(values).max()))
        pooled = by_name[name]["metrics"].get(metric.name)
        if pooled is not None:
            ax.hlines(pooled, i - 0.3, i + 0.3, color="black", linewidth=2)
            extent = max(extent, 1.1 * abs(pooled))
        else:
            ax.text(i, 0, "absent", ha="center", va="center", fontsize=7, color="grey")
    if metric.signed:
        extent = extent or 1.0
        ax.set_ylim(-extent, extent)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 2 else 0, ha="right" if len(names) > 2 else "center")
    ax.set_ylabel(metric.units, fontsize=9)
    ax.set_title(f"{metric.title}: per sequence (dots), pooled (bar)\n{better(metric)} is better", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, out)


def plot_phonetic(scores: list[dict], folder: Path) -> list[Path]:
    """The phonetic plots into ``folder``: ``<metric>_by_part.png`` for each metric the phonetic table
    breaks down (e.g. lve_by_part.png, LVE per viseme class) and ``<metric>_per_sequence.png`` for
    each signed phonetic metric (e.g. the lip-sync offset)."""
    written = [plot_breakdown(scores, base, parts, folder / f"{base}_by_part.png")
               for base, parts in breakdowns("phonetic").items()]
    written += [plot_per_sequence(scores, metric, folder / f"{metric.name}_per_sequence.png")
                for metric in all_specs("phonetic") if metric.signed]
    return written


def write_score_plots(scores: list[dict], folder: Path, phonetic: bool = False) -> list[Path]:
    """The plots that need only scores: metrics.png, ``<primary>_per_subject.png`` and, with
    ``phonetic``, :func:`plot_phonetic`'s."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [plot_metric_bars(scores, folder / "metrics.png"),
               plot_per_subject(scores, folder / f"{primary_spec().name}_per_subject.png")]
    return written + (plot_phonetic(scores, folder) if phonetic else [])
