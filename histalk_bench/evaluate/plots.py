"""Leaderboard plots: metric bars, per-subject LVE and lip opening over time (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..common.atomic import atomic_path
from .leaderboard import _exponent, leaderboard_rows, metric_order


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
    with atomic_path(out) as temporary:
        fig.savefig(temporary, dpi=110, format=Path(out).suffix.lstrip(".") or "png")
    plt.close(fig)
    return out


def _title(metric: str) -> str:
    """The metric's display title, from its spec (histalk_bench.metrics)."""
    from ..metrics import METRICS

    return METRICS.get(metric).title if metric in METRICS else metric.upper()


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
    """One panel per metric: display-scaled value per model (best LVE first) with its 95% CI."""
    plt = _pyplot()
    rows = leaderboard_rows(scores)
    scale = scores[0]["display_scale"]
    colours = model_colours(_ranked_names(scores))
    metrics = metric_order()
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.0 * len(metrics), 3.4))
    for ax, metric in zip(axes, metrics):
        values = np.asarray([r[metric] for r in rows]) * scale[metric]
        ci_low = np.asarray([r[f"{metric}_ci_low"] for r in rows]) * scale[metric]
        ci_high = np.asarray([r[f"{metric}_ci_high"] for r in rows]) * scale[metric]
        signs = np.sign(values)
        if metric == "fdd":  # signed: the best model is the one closest to 0, so plot the distance
            values, ci_low, ci_high = _absolute(values, ci_low, ci_high)
        ax.bar(range(len(rows)), values, yerr=[np.maximum(values - ci_low, 0), np.maximum(ci_high - values, 0)],
               color=[colours[r["model"]] for r in rows], capsize=4, width=0.7)
        if metric == "fdd":
            for x, (top, sign) in enumerate(zip(np.maximum(values, ci_high), signs)):
                ax.annotate("+" if sign > 0 else "\u2212" if sign < 0 else "0", (x, top), ha="center",
                            va="bottom", fontsize=9, xytext=(0, 2), textcoords="offset points")
            ax.set_xlabel("+: upper face stiller than GT, \u2212: livelier", fontsize=7)
        ax.set_xticks(range(len(rows)), [r["model"] for r in rows], rotation=30 if len(rows) > 2 else 0,
                      ha="right" if len(rows) > 2 else "center")
        better = "higher" if scores[0]["higher_is_better"][metric] else "lower"
        title = "|FDD| (distance to 0)" if metric == "fdd" else _title(metric)
        ax.set_title(f"{title}{_exponent(scale[metric])}\n{better} is better", fontsize=9)
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
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(subjects) + 2), 3.8))
    ticks = _grouped_bars(ax, names, colours, lambda name: [by_name[name]["per_subject"].get(s, {}).get("lve")
                                                            for s in subjects], scale)
    ax.set_xticks(ticks, subjects, rotation=20 if len(subjects) > 3 else 0, ha="right" if len(subjects) > 3 else "center",
                  fontsize=8)
    _style_lve_axes(ax, scale, f"LVE per subject ({scores[0]['dataset']} / {scores[0]['split']}, lower is better)")
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


def _style_lve_axes(ax, scale: float, title: str) -> None:
    ax.set_ylabel(f"LVE{_exponent(scale)}")
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
    from ..metrics.mouth import mouth_points

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


def plot_viseme_lve(scores: list[dict], out: Path) -> Path:
    """Grouped bars: display-scaled LVE per viseme class (x) and model (bars); absent classes are empty."""
    from ..metrics.visemes import CLASSES

    plt = _pyplot()
    names = _ranked_names(scores)
    colours = model_colours(names)
    by_name = {sc["model"]: sc for sc in scores}
    scale = scores[0]["display_scale"].get("lve_bilabial", scores[0]["display_scale"]["lve"])
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(CLASSES) + 2), 3.8))
    ticks = _grouped_bars(ax, names, colours, lambda name: [by_name[name]["metrics"].get(f"lve_{c}") for c in CLASSES], scale)
    ax.set_xticks(ticks, CLASSES, fontsize=9)
    _style_lve_axes(ax, scale, f"LVE per viseme class ({scores[0]['dataset']} / {scores[0]['split']}, lower is better)")
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, out)


def plot_offsets(scores: list[dict], out: Path) -> Path:
    """Per model: the per-sequence lip-sync offsets (dots) and the pooled offset (bar), in ms."""
    plt = _pyplot()
    names = _ranked_names(scores)
    colours = model_colours(names)
    by_name = {sc["model"]: sc for sc in scores}
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(names) + 2), 3.6))
    rng = np.random.default_rng(0)  # fixed horizontal jitter
    extent = 100.0  # ms: the y range is at least +-100 ms so that small offsets look small
    for i, name in enumerate(names):
        offsets = np.asarray([r.get("lipsync_offset_ms") for r in by_name[name].get("per_sequence", [])
                              if r.get("lipsync_offset_ms") is not None], dtype=np.float64)
        if offsets.size:
            ax.scatter(i + rng.uniform(-0.15, 0.15, offsets.size), offsets, s=12, color=colours[name], alpha=0.7)
            extent = max(extent, 1.1 * float(np.abs(offsets).max()))
        pooled = by_name[name]["metrics"].get("lipsync_offset_ms")
        if pooled is not None:
            ax.hlines(pooled, i - 0.3, i + 0.3, color="black", linewidth=2)
        else:
            ax.text(i, 0, "no offset\n(no positive\ncorrelation)", ha="center", va="center", fontsize=7, color="grey")
    ax.set_ylim(-extent, extent)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 2 else 0, ha="right" if len(names) > 2 else "center")
    ax.set_ylabel("offset (ms, + = model late)")
    ax.set_title("Lip-sync offset per sequence (dots) and pooled (bar)", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, out)


def plot_phonetic(scores: list[dict], folder: Path) -> list[Path]:
    """The phonetic plots into ``folder``: lve_per_viseme.png and lipsync_offsets.png."""
    return [plot_viseme_lve(scores, folder / "lve_per_viseme.png"), plot_offsets(scores, folder / "lipsync_offsets.png")]
