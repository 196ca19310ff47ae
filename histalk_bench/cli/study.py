"""`histalk-bench study` (build or serve a blinded A/B study) and `histalk-bench study-results`."""

import click

from .options import OUTPUT_FOLDER, POSITIVE_INT


@click.command("study")
@click.option("--compare", "compare_dir", type=click.Path(), default=None,
              help="A compare output folder with report/ (compare without --no-report).")
@click.option("--out", type=OUTPUT_FOLDER, default=None, help="Study folder to write (site/, key.json, answers/).")
@click.option("--pairs", default=None, help="A:B[,C:D...]: models to pit against each other ('gt': the ground truth); "
              "default: the first compared model against each other one.")
@click.option("--trials", type=POSITIVE_INT, default=None, help="Trials per pair (default: one per rendered sequence).")
@click.option("--checks", type=click.IntRange(min=0), default=2, show_default=True,
              help="Attention checks (ground truth against the static face) at random positions.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the design (sides, order, checks).")
@click.option("--force", is_flag=True, help="Replace an existing study folder that holds no answers.")
@click.option("--serve", "serve_dir", type=click.Path(), default=None,
              help="Serve this study folder's site/ on a local server that stores answers in STUDY/answers/.")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --serve: address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="With --serve: port.")
def study(compare_dir, out, pairs, trials, checks, seed, force, serve_dir, host, port):
    """Build a blinded A/B user study from compare's rendered sequences (--compare DIR --out STUDY),
    or serve one and collect answers (--serve STUDY)."""
    from ..common.errors import UserError

    if serve_dir is not None:
        if compare_dir or out:
            raise UserError("--serve runs a built study; build it first with --compare DIR --out STUDY (not both at once)")
        from ..study.serve import make_server

        server = make_server(serve_dir, host, port)
        address, bound = server.server_address[:2]
        click.echo(f"serving {serve_dir}/site at http://{address}:{bound}/ ; answers go to {serve_dir}/answers/ "
                   "(Ctrl-C stops)")
        try:
            server.serve_forever()
        finally:
            server.server_close()
        return
    if not compare_dir or not out:
        raise UserError("give --compare DIR and --out STUDY to build a study, or --serve STUDY to serve one")
    from ..study.build import build_study

    key = build_study(compare_dir, out, pairs=pairs, trials=trials, checks=checks, seed=seed, force=force)
    n_pairs = sum(t["kind"] == "pair" for t in key["trials"])
    click.echo(f"wrote {out}/site/ ({len(key['trials'])} trials: {n_pairs} A/B over {len(key['pairs'])} pair(s), "
               f"{key['attention_checks']} attention checks; seed {seed}) and the key {out}/key.json (do not serve it)")
    click.echo(f"open {out}/site/index.html, or run 'histalk-bench study --serve {out}' to collect answers")


@click.command("study-results")
@click.argument("study_dir", type=click.Path())
@click.argument("answers", nargs=-1, type=click.Path())
@click.option("--skip-bad", is_flag=True, help="Leave out answer files that cannot be counted (each is listed).")
def study_results(study_dir, answers, skip_bad):
    """Preference rates (Wilson 95% CI, exact binomial test against 50%) from answer files:
    ANSWERS (files or folders), default STUDY/answers/. Writes STUDY/results.csv and results.md."""
    from ..study.results import tally, write_results

    results = tally(study_dir, list(answers), skip_bad=skip_bad)
    csv_path, md_path = write_results(study_dir, results)
    click.echo(md_path.read_text())
    click.echo(f"wrote {csv_path} and {md_path}")
