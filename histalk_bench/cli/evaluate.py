"""`histalk-bench evaluate`: score predictions against a prepared cache."""

import click

from .options import OUTPUT_FILE, POSITIVE_FLOAT


@click.command("evaluate")
@click.option("--pred", required=True, type=click.Path(), help="Predictions .h5, or a folder of <subject>_<sentence>[_condition_<spk>].npy files.")
@click.option("--data", required=True, type=click.Path(), help="Prepared cache (.h5).")
@click.option("--split", default="test", show_default=True, help="Split to score (test, test_a, test_b, val, ...).")
@click.option("--out", default=None, type=OUTPUT_FILE, help="Write scores.json here.")
@click.option("--allow-missing", is_flag=True, help="Score the sequences that have predictions and list the others.")
@click.option("--lrp-threshold", type=POSITIVE_FLOAT, default=None, help="LRP threshold in data units (default per dataset).")
@click.option("--seed", default=0, show_default=True, help="Bootstrap seed.")
def evaluate(pred, data, split, out, allow_missing, lrp_threshold, seed):
    """LVE, FDD, MVE and LRP with 95% bootstrap intervals (raw values; display scaling beside)."""
    from ..evaluate.leaderboard import MIN_SEQUENCES, interval_reliable, scale_notation
    from ..evaluate.scores import evaluate as run

    scores = run(pred, data, split, allow_missing=allow_missing, lrp_threshold=lrp_threshold, seed=seed, out=out)
    scale = scores["display_scale"]
    if scores["missing_sequences"]:
        click.echo(f"warning: {len(scores['missing_sequences'])} sequences had no prediction and were not scored", err=True)
    click.echo(f"{scores['model']} on {scores['dataset']}/{split}: {scores['n_sequences']} sequences")
    titles = {metric: info["title"] for metric, info in scores["metric_info"].items()}  # the specs' titles
    width = max(map(len, titles.values()))
    for metric, value in scores["metrics"].items():
        if value is None:
            click.echo(f"  {titles[metric]:{width}s}     absent")
            continue
        low, high = scores["ci95"][metric] or (float("nan"), float("nan"))
        click.echo(f"  {titles[metric]:{width}s} {value * scale[metric]:10.4f}  [{low * scale[metric]:.4f}, {high * scale[metric]:.4f}]"
                   f"{scale_notation(scale[metric])}")
    for note in scores.get("phonetic", {}).get("notes", []):
        click.echo(f"  note: {note}")
    if not interval_reliable(scores["n_sequences"]):
        click.echo(f"  intervals are unreliable: fewer than {MIN_SEQUENCES} sequences to resample")
    for info in scores["metric_info"].values():  # each spec's own caveat (e.g. LRP's comparability)
        if info.get("note"):
            click.echo(f"  note: {info['note']}")
    click.echo(f"  options: lrp_threshold {scores['options']['lrp_threshold']:g} data units, "
               f"bootstrap seed {scores['options']['bootstrap_seed']}")
    regions = ", ".join(f"{k} {v['sha256'][:12]} ({v['n']} ids)" for k, v in scores["regions"].items())
    click.echo(f"  regions: {regions}")
    if out:
        click.echo(f"wrote {out}")
