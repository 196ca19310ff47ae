"""HiSTalk ablations: train each variant per seed (reusing finished runs), score it on the test
split and compare it with the default by a paired bootstrap over test sequences.

Layout of ``out``: runs/<variant>/seed<k>/ (run folder, test_pred.h5, scores.json),
ablation.csv, ablation.md and ablation.png.  A run whose scores.json exists is reused; a run
with a last.pt but no scores resumes training (the loop's --resume) and is then scored.
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
from ..metrics.accumulate import pooled

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
            except UserError as exc:
                raise UserError(f"variant '{variant.label}': {exc}") from None
            feature_source(cache, refs[0], feature, wav2vec2_model)


def run_variant(data: str, variant: Variant, seed: int, run_dir: Path, base: dict) -> dict:
    """Train (or reuse / resume) one run, predict and score the test split; returns the scores."""
    from ..cache import Cache
    from ..models.histalk.api import train
    from ..models.provenance import training_run
    from ..predict.split import predict_split
    from .scores import evaluate

    scores_path = run_dir / "scores.json"
    if scores_path.exists():
        log.info("reusing %s", run_dir)
        return json.loads(scores_path.read_text())
    resume = (run_dir / "last.pt").exists()
    with training_run(run_dir, data, resume):  # the run folder's lock and provenance.json, as `train` writes
        train(data, run_dir, **{**base, **variant.options, "seed": seed, "resume": resume})
    with Cache(data) as cache:
        pred, _ = predict_split("histalk", cache, "test", run_dir / "test_pred.h5", run_dir=run_dir,
                                device=base.get("device", "auto"), progress=False)
    return evaluate(pred, data, "test", out=scores_path, model=f"histalk[{variant.label}] seed {seed}")


def paired_difference(runs: list[dict], defaults: list[dict], metric: str, seed: int = 0) -> dict:
    """metric(variant) - metric(default), averaged over seeds paired by index, with a 95 %
    percentile interval from resampling test sequences (the same resample for every run)."""
    stats = [_statistics(s) for s in runs]
    base = [_statistics(s) for s in defaults]
    n = len(stats[0]["frames"])
    index = np.random.default_rng(seed).integers(0, n, size=(N_RESAMPLES, n))
    diffs = [pooled({k: v[index] for k, v in a.items()})[metric] - pooled({k: v[index] for k, v in b.items()})[metric]
             for a, b in zip(stats, base)]
    observed = float(np.mean([pooled(a)[metric] - pooled(b)[metric] for a, b in zip(stats, base)]))
    mean_diff = np.mean(diffs, axis=0)
    return {"difference": observed, "low": float(np.percentile(mean_diff, 2.5)), "high": float(np.percentile(mean_diff, 97.5))}


def _statistics(scores: dict) -> dict[str, np.ndarray]:
    """Per-sequence statistics of a scores.json as float arrays (None -> NaN)."""
    return {k: np.asarray(v, dtype=np.float64) for k, v in scores["statistics"].items()}


def summarise(variants: list[Variant], scores: dict[str, list[dict]]) -> list[dict]:
    """One row per variant: mean/std over seeds of LVE and FDD, the paired difference to default,
    the units used and the seed-mean fusion / SE weights from each run's summary.json."""
    rows = []
    for variant in variants:
        runs = scores[variant.label]
        row = {"variant": variant.label, "seeds": len(runs)}
        for metric in ("lve", "fdd"):
            values = np.array([s["metrics"][metric] for s in runs])
            row[f"{metric}_mean"], row[f"{metric}_std"] = float(values.mean()), float(values.std())
            if variant.label != "default":
                diff = paired_difference(runs, scores["default"], metric)
                row.update({f"d_{metric}": diff["difference"], f"d_{metric}_low": diff["low"], f"d_{metric}_high": diff["high"]})
        summaries = [s.get("run_summary") or {} for s in runs]
        row["units"] = summaries[0].get("units", "")
        row["parameters"] = summaries[0].get("parameters", "")
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
    """ablation.csv (raw data units) and ablation.md (display units, e.g. LVE x1e-5 on VOCASET)."""
    keys = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_path(out / "ablation.csv") as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    lve_s, fdd_s = scale.get("lve", 1.0), scale.get("fdd", 1.0)
    lines = [f"# HiSTalk ablation ({rows[0]['seeds']} seeds, test split)", "",
             f"Base options: `{json.dumps(base, sort_keys=True)}`.  Values are shown x{lve_s:g} (LVE) and x{fdd_s:g} (FDD);",
             "the difference to `default` is averaged over seeds paired by seed, with a 95 % paired bootstrap interval",
             "over test sequences (lower LVE is better; FDD is signed, closer to 0 is better).", "",
             "| variant | units | parameters | LVE mean ± std | ΔLVE vs default [95 % CI] | FDD mean ± std | ΔFDD vs default [95 % CI] |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        def delta(metric, s):
            if f"d_{metric}" not in row:
                return "—"
            return f"{row[f'd_{metric}'] * s:+.4f} [{row[f'd_{metric}_low'] * s:+.4f}, {row[f'd_{metric}_high'] * s:+.4f}]"

        lines.append(f"| {row['variant']} | {row['units']} | {row.get('parameters', '')} | {row['lve_mean'] * lve_s:.4f} ± {row['lve_std'] * lve_s:.4f} | "
                     f"{delta('lve', lve_s)} | {row['fdd_mean'] * fdd_s:.4f} ± {row['fdd_std'] * fdd_s:.4f} | {delta('fdd', fdd_s)} |")
    write_text_atomic(out / "ablation.md", "\n".join(lines) + "\n")


def plot_ablation(rows: list[dict], scores: dict[str, list[dict]], path: Path) -> Path:
    """LVE per variant: bar = mean over seeds, dots = seeds."""
    from .plots import _pyplot, _save

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.4 * len(rows) + 2, 3.6))
    for i, row in enumerate(rows):
        ax.bar(i, row["lve_mean"], color="#8fb3d9" if row["variant"] != "default" else "#3a6ea5")
        seeds = [s["metrics"]["lve"] for s in scores[row["variant"]]]
        ax.scatter([i] * len(seeds), seeds, color="black", s=12, zorder=3)
    ax.set_xticks(range(len(rows)), [row["variant"] for row in rows], rotation=20, ha="right")
    ax.set_ylabel("LVE (data units²)")
    ax.set_title("HiSTalk ablation: test LVE per variant (dots: seeds)")
    return _save(fig, path)
