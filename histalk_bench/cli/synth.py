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
@click.option("--hierarchy", default="full", show_default=True,
              help="Preset of level effects: phone (phones only), word (phones + word effects), "
                   "full (phones + word + utterance effects).")
@click.option("--word-effects", type=float, default=None,
              help="Strength 0..1 of the word effects (stress, content-word brows, boundary relaxation); overrides the preset.")
@click.option("--utterance-effects", type=float, default=None,
              help="Strength 0..1 of the utterance effects (speaking style, final brow); overrides the preset.")
def synth(layout, out, subjects, sentences, seed, hierarchy, word_effects, utterance_effects):
    """Write the synthetic corpus (espeak-ng speech, procedural face) with exact TextGrids and level truth."""
    import json
    from pathlib import Path

    from ..synth import write_synthetic_corpus

    path = write_synthetic_corpus(out, layout=layout, n_subjects=subjects, n_sentences=sentences, seed=seed,
                                  hierarchy=hierarchy, word_effects=word_effects, utterance_effects=utterance_effects)
    levels = json.loads((Path(path) / "synth_info.json").read_text())["levels"]
    click.echo(f"wrote a synthetic {layout} corpus ({subjects} subjects x {sentences} sentences) to {path} "
               f"(hierarchy {levels['hierarchy']}: word effects {levels['word_effects']:g}, "
               f"utterance effects {levels['utterance_effects']:g})")
