"""`histalk-bench compare` and `histalk-bench leaderboard`."""

import click

from .options import OUTPUT_FOLDER, POSITIVE_FLOAT, ManyValues, check_inputs, names_list, threads_option

DEFAULT_OUT = "compare_out"


def _model_names(ctx, param, value):
    """``--models a b,c --models d`` -> ['a', 'b', 'c', 'd'] (order kept, repeats dropped); every
    name registered, else one error listing the registered models."""
    from ..models import MODELS

    names = names_list(value)
    if not names:
        raise click.BadParameter("name at least one model, e.g. --models histalk faceformer")
    unknown = [name for name in names if name not in MODELS]
    if unknown:
        raise click.BadParameter(f"unknown model{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                                 f"(registered models: {', '.join(MODELS.names())})")
    return names


@click.command("compare")
@click.option("--models", cls=ManyValues, required=True, callback=_model_names, metavar="NAME [NAME ...]",
              help="Models to compare: space- or comma-separated and/or repeated, e.g. --models histalk faceformer "
                   "static mean.")
@click.option("--data", default=None, type=click.Path(),
              help="Prepared cache (.h5); default: the cache the runs were trained on (recorded in RUN/cache.json).")
@click.option("--split", default="test", show_default=True)
@click.option("--out", default=DEFAULT_OUT, show_default=True, type=OUTPUT_FOLDER, help="Output folder.")
@click.option("--run", "runs", multiple=True, help="NAME=RUN_DIR for trained models (default: runs/NAME if present).")
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="NAME=FILE[,FILE]",
              help="Weight files for a model instead of a run, e.g. faceformer=vocaset.pth or "
                   "codetalker=vocaset_stage2.pth.tar,vocaset_stage1.pth.tar (sha256 recorded).")
@click.option("--force", is_flag=True, help="Re-run predictions even when stored ones exist.")
@click.option("--lrp-threshold", type=POSITIVE_FLOAT, default=None)
@click.option("--report-sequences", type=click.IntRange(min=0), default=4, show_default=True,
              help="Test sequences rendered side by side in report.html (best to worst by the first model's LVE).")
@click.option("--no-report", is_flag=True, help="Skip report.html and its videos.")
@threads_option
def compare(models, data, split, out, runs, checkpoints, force, lrp_threshold, report_sequences, no_report, threads):
    """Predict and evaluate several models; write leaderboard.csv, leaderboard.md, plots/ and report.html.

    With trained runs in runs/NAME, 'histalk-bench compare --models histalk faceformer' needs
    nothing else: the cache is the one the runs were trained on, the output goes to compare_out/.
    """
    from ..common.errors import UserError
    from ..common.threads import configure_threads

    configure_threads(threads)
    from ..evaluate.compare import parse_run_options, recorded_cache, resolve_runs, run_compare
    from ..report.build import report_builder

    weight_files = {}
    for item in checkpoints:
        name, sep, paths = item.partition("=")
        files = [p.strip() for p in paths.split(",") if p.strip()]
        if not sep or not name or not files:
            raise UserError(f"--checkpoint expects NAME=FILE[,FILE], got '{item}'")
        for path in files:
            check_inputs(checkpoint=path)
        weight_files[name] = files
    run_dirs = resolve_runs(models, parse_run_options(runs, models), without=weight_files)
    data = data or recorded_cache(run_dirs)
    csv_path = run_compare(models, data, split, out, runs=run_dirs, force=force, lrp_threshold=lrp_threshold,
                           checkpoints=weight_files,
                           finish=None if no_report else report_builder(report_sequences))
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
