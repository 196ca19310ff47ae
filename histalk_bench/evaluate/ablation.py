"""HiSTalk ablations: train each variant per seed (reusing finished runs), score it on the test
split and compare it with the default by a paired bootstrap over test sequences.

Layout of ``out``: runs/<variant>/seed<k>/ (run folder, test_pred.h5, scores.json),
ablation.csv, ablation.md and ablation.png.  A run whose provenance matches (data fingerprint,
every option, seed, code version) is reused when scored, resumed (the loop's --resume) when it
has a last.pt but no scores; a run whose provenance differs is trained again.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..common.atomic import atomic_path, write_text_atomic
from ..common.errors import UserError
from ..metrics import all_specs, primary_spec
from ..metrics.accumulate import pooled
from ..metrics.spec import FRAMES
from .plots import _pyplot, _save
from .table import column_title, metric_notes

log = logging.getLogger(__name__)
LIST_OPTIONS = ("levels", "stage_layers")
N_RESAMPLES = 1000


@dataclass
class Variant:
    label: str
    options: dict = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.label)


def parse_variants(spec: str) -> list[Variant]:
    """``default,levels=frame+word,use_cmg=false`` -> variants (the default always first).
    A value is JSON when it parses (false, 3, [1,2]); list options take '+'-separated names."""
    variants = [Variant("default")]
    if not any(p.strip() for p in spec.split(",")):
        raise UserError("--variants names no variant (e.g. --variants default,use_cmg=false)")
    for part in (p.strip() for p in spec.split(",")):
        if not part or part == "default":
            continue
        options = {}
        for assignment in part.split(";"):
            key, sep, text = assignment.partition("=")
            if not sep or not key.strip():
                raise UserError(f"ablation variant '{part}' is not KEY=VALUE (or 'default')")
            options[key.strip()] = _value(key.strip(), text.strip())
        variants.append(Variant(part, options))
    if len({v.slug for v in variants}) != len(variants):
        raise UserError(f"ablation variants repeat: {spec}")
    return variants


def _value(key: str, text: str):
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if key in LIST_OPTIONS and isinstance(value, str):
        value = [v for v in value.split("+") if v]
    return value


def check_variants(data: str, variants: list[Variant], base: dict) -> None:
    """Before any training: every variant's options known and valid, and the features it trains on
    in the cache (or computable), so a bad variant fails at once with nothing written."""
    from ..cache import Cache
    from ..models.base import model_entry
    from ..models.histalk.train import _split_options, feature_source

    with Cache(data) as cache:
        refs = cache.sequences("train")
        if not refs:
            raise UserError("no training sequences (split 'train')", data)
        for variant in variants:
            options = {**base, **variant.options, "seed": 0, "resume": False}
            wav2vec2_model = options.pop("wav2vec2_model", None)
            feature = options.pop("features", None) or options.get("feature") or "wav2vec2"
            try:
                _split_options(options)
                model_entry("histalk").refuse_options("train", {**base, **variant.options})
            except UserError as exc:
                raise UserError(f"variant '{variant.label}': {exc}") from None
            feature_source(cache, refs[0], feature, wav2vec2_model)


def run_variant(data: str, variant: Variant, seed: int, run_dir: Path, base: dict) -> dict:
    """Train (or reuse / resume) one run, predict and score the test split; returns the scores.
    A finished run is reused, and an unfinished one resumed, only when its provenance (data
    fingerprint, every option, seed, code version) matches; otherwise it is trained again and
    the log says why."""
    from ..cache import Cache
    from ..models.provenance import retrain_reason, training_record
    from ..models.runs import train_run
    from ..predict.split import predict_split
    from .scores import evaluate

    options = {**base, **variant.options, "seed": seed}
    scores_path = run_dir / "scores.json"
    if run_dir.exists():
        with Cache(data) as cache:
            reason = retrain_reason(run_dir, cache, training_record("histalk", options))
        if reason is None and scores_path.exists():
            log.info("reusing %s (same data, options, seed and code version)", run_dir)
            return json.loads(scores_path.read_text())
        if reason is not None:
            log.info("retraining %s: %s", run_dir, reason)
            shutil.rmtree(run_dir)
    resume = (run_dir / "last.pt").exists()
    train_run("histalk", data, run_dir, {**options, "resume": resume})
    with Cache(data) as cache:
        pred, _ = predict_split("histalk", cache, "test", run_dir / "test_pred.h5", run_dir=run_dir,
                                device=base.get("device", "auto"), progress=False)
    return evaluate(pred, data, "test", out=scores_path, model=f"histalk[{variant.label}] seed {seed}")


def paired_difference(runs: list[dict], defaults: list[dict], metric: str, seed: int = 0) -> dict:
    """metric(variant) - metric(default), averaged over seeds paired by index, with a 95 %
    percentile interval from resampling test sequences (the same resample for every run)."""
    return paired_differences(runs, defaults, seed)[metric]


def paired_differences(runs: list[dict], defaults: list[dict], seed: int = 0) -> dict[str, dict]:
    """:func:`paired_difference` of every metric the scores' statistics pool to, from one set of resamples."""
    stats = [_statistics(s) for s in runs]
    base = [_statistics(s) for s in defaults]
    n = len(stats[0][FRAMES])
    index = np.random.default_rng(seed).integers(0, n, size=(N_RESAMPLES, n))
    resampled = [(pooled({k: v[index] for k, v in a.items()}), pooled({k: v[index] for k, v in b.items()}))
                 for a, b in zip(stats, base)]
    observed = [(pooled(a), pooled(b)) for a, b in zip(stats, base)]
    out = {}
    for metric in resampled[0][0]:
        mean_diff = np.mean([a[metric] - b[metric] for a, b in resampled], axis=0)
        defined = mean_diff[~np.isnan(mean_diff)]
        out[metric] = {"difference": float(np.mean([a[metric] - b[metric] for a, b in observed])),
                       "low": float(np.percentile(defined, 2.5)) if defined.size else float("nan"),
                       "high": float(np.percentile(defined, 97.5)) if defined.size else float("nan")}
    return out


def _statistics(scores: dict) -> dict[str, np.ndarray]:
    """Per-sequence statistics of a scores.json as float arrays (None -> NaN)."""
    return {k: np.asarray(v, dtype=np.float64) for k, v in scores["statistics"].items()}


def summarise(variants: list[Variant], scores: dict[str, list[dict]]) -> list[dict]:
    """One row per variant: mean/std over seeds of every registered metric (NaN where absent), the
    paired difference to default, the units used and the seed-mean fusion / SE weights from each
    run's summary.json."""
    rows = []
    for variant in variants:
        runs = scores[variant.label]
        row = {"variant": variant.label, "seeds": len(runs)}
        diffs = paired_differences(runs, scores["default"]) if variant.label != "default" else {}
        for metric in (spec.name for spec in all_specs()):
            values = np.array([np.nan if s["metrics"].get(metric) is None else s["metrics"][metric] for s in runs])
            row[f"{metric}_mean"], row[f"{metric}_std"] = float(values.mean()), float(values.std())
            if metric in diffs:
                diff = diffs[metric]
                row.update({f"d_{metric}": diff["difference"], f"d_{metric}_low": diff["low"], f"d_{metric}_high": diff["high"]})
        summaries = [s.get("run_summary") or {} for s in runs]
        row["units"] = summaries[0].get("units", "")
        weights = [s.get("mean_weights", {}) for s in summaries]
        for key in sorted(weights[0]):  # mean fusion weight per S2D branch, mean SE weight per level
            row[key] = float(np.mean([w.get(key, np.nan) for w in weights]))
        rows.append(row)
    return rows


def run_ablation(data: str, out: str | Path, variants: list[Variant], seeds: int, base: dict) -> list[dict]:
    """Every variant x seed, then ablation.csv/.md/.png in ``out``; returns the table rows."""
    out = Path(out)
    existed = out.exists()
    try:
        scores = _run_all(data, out, variants, seeds, base)
    except BaseException:
        if not existed and not any(out.rglob("last.pt")):  # nothing finished: leave nothing behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    rows = summarise(variants, scores)
    write_tables(rows, out, scores["default"][0].get("display_scale", {}), base)
    plot_ablation(rows, scores, out / "ablation.png")
    return rows


def _run_all(data: str, out: Path, variants: list[Variant], seeds: int, base: dict) -> dict[str, list[dict]]:
    """Scores of every variant x seed, by variant label."""
    scores: dict[str, list[dict]] = {}
    for variant in variants:
        for seed in range(seeds):
            run_dir = out / "runs" / variant.slug / f"seed{seed}"
            result = run_variant(data, variant, seed, run_dir, base)
            summary_path = run_dir / "summary.json"
            result["run_summary"] = json.loads(summary_path.read_text()) if summary_path.exists() else {}
            scores.setdefault(variant.label, []).append(result)
    return scores


def write_tables(rows: list[dict], out: Path, scale: dict, base: dict) -> None:
    """ablation.csv (raw data units) and ablation.md (display units, e.g. LVE x1e-5 on VOCASET): one
    row per registered metric (its spec's title, scale and direction), one column per variant."""
    keys = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_path(out / "ablation.csv") as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    specs = all_specs()
    lines = [f"# HiSTalk ablation ({rows[0]['seeds']} seeds, test split)", "",
             f"Base options: `{json.dumps(base, sort_keys=True)}`.  Each cell: mean ± std over seeds; for a variant",
             "also its difference to `default`, averaged over seeds paired by seed, with a 95 % paired bootstrap",
             "interval over test sequences.  Units per variant: "
             + ", ".join(f"{row['variant']} {row['units'] or '-'}" for row in rows) + ".", "",
             "| metric | " + " | ".join(row["variant"] for row in rows) + " |", "|---|" + "---|" * len(rows)]

    def cell(row, metric, factor):
        mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
        if np.isnan(mean):
            return "absent"
        text = f"{mean * factor:.4f} ± {std * factor:.4f}"
        if f"d_{metric}" in row and not np.isnan(row[f"d_{metric}"]):
            text += (f"; Δ {row[f'd_{metric}'] * factor:+.4f} [{row[f'd_{metric}_low'] * factor:+.4f}, "
                     f"{row[f'd_{metric}_high'] * factor:+.4f}]")
        return text

    for metric in specs:
        factor = float(scale.get(metric.name, 1.0))
        lines.append(f"| {column_title(metric, factor)} | "
                     + " | ".join(cell(row, metric.name, factor) for row in rows) + " |")
    lines += [""] + metric_notes(specs)
    write_text_atomic(out / "ablation.md", "\n".join(lines) + "\n")


def plot_ablation(rows: list[dict], scores: dict[str, list[dict]], path: Path) -> Path:
    """The primary metric per variant: bar = mean over seeds, dots = seeds (raw units)."""
    primary = primary_spec()
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.4 * len(rows) + 2, 3.6))
    for i, row in enumerate(rows):
        ax.bar(i, row[f"{primary.name}_mean"], color="#8fb3d9" if row["variant"] != "default" else "#3a6ea5")
        seeds = [s["metrics"].get(primary.name) for s in scores[row["variant"]]]
        ax.scatter([i] * len(seeds), [np.nan if v is None else v for v in seeds], color="black", s=12, zorder=3)
    ax.set_xticks(range(len(rows)), [row["variant"] for row in rows], rotation=20, ha="right")
    ax.set_ylabel(f"{primary.title} ({primary.units})")
    ax.set_title(f"HiSTalk ablation: test {primary.title} per variant (dots: seeds)")
    return _save(fig, path)
