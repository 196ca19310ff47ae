"""`histalk-bench demo`: the whole pipeline on the embedded synthetic corpus."""

import click

from .options import OUTPUT_FOLDER, POSITIVE_INT, threads_option


@click.command("demo")
@click.option("--out", default="demo_out", show_default=True, type=OUTPUT_FOLDER, help="Output folder.")
@click.option("--subjects", type=POSITIVE_INT, default=6, show_default=True, help="Synthetic subjects.")
@click.option("--sentences", type=POSITIVE_INT, default=8, show_default=True, help="Sentences per subject.")
@click.option("--epochs", type=POSITIVE_INT, default=60, show_default=True, help="HiSTalk training epochs (CPU).")
@click.option("--seed", default=0, show_default=True)
@click.option("--with-faceformer", is_flag=True, help="Also train FaceFormer (tiny audio encoder) and compare it.")
@threads_option
def demo(out, subjects, sentences, epochs, seed, with_faceformer, threads):
    """synth -> prepare (oracle alignment, log-mel) -> train a demo-size HiSTalk -> compare with static and mean.

    Leaves OUT/leaderboard.csv, OUT/leaderboard.md, OUT/plots/ and OUT/report.html. No dataset, weights or network needed.
    """
    import time

    from ..common.threads import configure_threads

    n_threads, source = configure_threads(threads)
    click.echo(f"[demo] torch threads: {n_threads} ({source})", err=True)
    from ..tools.demo import DemoOptions, run_demo

    models = ("histalk", "faceformer", "static", "mean") if with_faceformer else ("histalk", "static", "mean")
    start = time.perf_counter()
    csv_path = run_demo(out, DemoOptions(n_subjects=subjects, n_sentences=sentences, seed=seed, epochs=epochs, models=models))
    click.echo((csv_path.parent / "leaderboard.md").read_text())
    click.echo(f"demo finished in {time.perf_counter() - start:.0f} s: {csv_path}")
