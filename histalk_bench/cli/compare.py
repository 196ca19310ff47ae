"""`histalk-bench compare` and `histalk-bench leaderboard`."""

import click

from .options import OUTPUT_FOLDER, POSITIVE_FLOAT, check_inputs, threads_option


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
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="NAME=FILE[,FILE]",
              help="Weight files for a model instead of a run, e.g. faceformer=vocaset.pth or "
                   "codetalker=vocaset_stage2.pth.tar,vocaset_stage1.pth.tar (sha256 recorded).")
@click.option("--force", is_flag=True, help="Re-run predictions even when stored ones exist.")
@click.option("--lrp-threshold", type=POSITIVE_FLOAT, default=None)
@threads_option
def compare(models, data, split, out, runs, checkpoints, force, lrp_threshold, threads):
    """Predict and evaluate several models; write leaderboard.csv, leaderboard.md and plots/."""
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
    weight_files = {}
    for item in checkpoints:
        name, sep, paths = item.partition("=")
        files = [p.strip() for p in paths.split(",") if p.strip()]
        if not sep or not name or not files:
            raise UserError(f"--checkpoint expects NAME=FILE[,FILE], got '{item}'")
        for path in files:
            check_inputs(checkpoint=path)
        weight_files[name] = files
    csv_path = run_compare(models, data, split, out, runs=run_dirs, force=force, lrp_threshold=lrp_threshold,
                           checkpoints=weight_files)
    click.echo((csv_path.parent / "leaderboard.md").read_text())
    click.echo(f"wrote {csv_path}, {csv_path.parent / 'leaderboard.md'} and {csv_path.parent / 'plots'}/")


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
