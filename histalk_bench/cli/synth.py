"""`histalk-bench synth`: the embedded synthetic corpus in a real dataset layout."""

import click

from .options import OUTPUT_FOLDER, POSITIVE_INT


@click.command("synth")
@click.option("--layout", type=click.Choice(["vocaset", "biwi"]), default="vocaset", show_default=True,
              help="vocaset: the raw release files; biwi: the processed layout.")
@click.option("--out", type=OUTPUT_FOLDER, required=True, help="Directory to write.")
@click.option("--subjects", type=POSITIVE_INT, default=4, show_default=True, help="Number of subjects (speakers).")
@click.option("--sentences", type=POSITIVE_INT, default=6, show_default=True, help="Sentences per subject.")
@click.option("--seed", default=0, show_default=True, help="Random seed (output is deterministic).")
def synth(layout, out, subjects, sentences, seed):
    """Write the synthetic corpus (espeak-ng speech, procedural face) with exact TextGrids."""
    from ..synth import write_synthetic_corpus

    path = write_synthetic_corpus(out, layout=layout, n_subjects=subjects, n_sentences=sentences, seed=seed)
    click.echo(f"wrote a synthetic {layout} corpus ({subjects} subjects x {sentences} sentences) to {path}")
