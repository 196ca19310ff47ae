"""`histalk-bench compare` and `histalk-bench leaderboard`."""

import click

from .options import OUTPUT_FOLDER, POSITIVE_FLOAT, threads_option


def _split_models(ctx, param, value):
    """``--models a,b --models c`` -> ['a', 'b', 'c'] (order kept, repeats dropped)."""
    names = list(dict.fromkeys(name.strip() for item in value for name in item.split(",") if name.strip()))
    if not names:
        raise click.BadParameter("name at least one model, e.g. --models histalk,static")
    return names


@click.command("compare")
@click.option("--models", multiple=True, required=True, callback=_split_models,
              help="Models to compare: comma-separated and/or repeated, e.g. --models histalk,faceformer,static,mean.")
@click.option("--data", required=True, type=click.Path(), help="Prepared cache (.h5).")
@click.option("--split", default="test", show_default=True)
@click.option("--out", required=True, type=OUTPUT_FOLDER, help="Output folder.")
@click.option("--run", "runs", multiple=True, help="NAME=RUN_DIR for trained models (default: runs/NAME if present).")
@click.option("--force", is_flag=True, help="Re-run predictions even when stored ones exist.")
@click.option("--lrp-threshold", type=POSITIVE_FLOAT, default=None)
@click.option("--report-sequences", type=click.IntRange(min=0), default=4, show_default=True,
              help="Test sequences rendered side by side in report.html (best to worst by the first model's LVE).")
@click.option("--no-report", is_flag=True, help="Skip report.html and its videos.")
@threads_option
def compare(models, data, split, out, runs, force, lrp_threshold, report_sequences, no_report, threads):
    """Predict and evaluate several models; write leaderboard.csv, leaderboard.md, plots/ and report.html."""
    from ..common.errors import UserError
    from ..common.threads import configure_threads

    configure_threads(threads)
    from ..evaluate.compare import run_compare

    run_dirs = {}
    for item in runs:
        name, sep, path = item.partition("=")
        if not sep:
            raise UserError(f"--run expects NAME=RUN_DIR, got '{item}'")
        run_dirs[name] = path
    csv_path = run_compare(models, data, split, out, runs=run_dirs, force=force, lrp_threshold=lrp_threshold,
                           report_sequences=None if no_report else report_sequences)
    click.echo((csv_path.parent / "leaderboard.md").read_text())
    report = "" if no_report else f" and {csv_path.parent / 'report.html'}"
    click.echo(f"wrote {csv_path}, {csv_path.parent / 'leaderboard.md'}, {csv_path.parent / 'plots'}/{report}")


@click.command("leaderboard")
@click.argument("folders", nargs=-1, required=True, type=click.Path())
@click.option("--out", default=None, type=OUTPUT_FOLDER, help="Where to write (default: the first folder).")
@click.option("--phonetic", is_flag=True, help="Add the phonetic table (LVE per viseme class, closure rate, lip-sync "
              "offset) and its plots.")
def leaderboard(folders, out, phonetic):
    """Rebuild leaderboard.csv/.md (and the score plots) from stored scores.json files, without
    running any model.  FOLDERS: compare output folders, model folders or scores.json files."""
    from ..evaluate.leaderboard import rebuild_leaderboard

    csv_path, md_path, plots = rebuild_leaderboard(list(folders), out, phonetic=phonetic)
    click.echo(md_path.read_text())
    click.echo(f"wrote {csv_path}, {md_path} and {', '.join(str(p) for p in plots)}")
