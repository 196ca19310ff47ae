"""`histalk-bench prepare <dataset>`: a dataset release into the HDF5 cache; one subcommand per registered dataset."""

from __future__ import annotations

import click

from .options import NON_NEGATIVE_INT, OUTPUT_FILE, OUTPUT_FOLDER, POSITIVE_INT


def _common_options(function):
    from ..align import ALIGNERS
    from ..features import FEATURES

    aligners = " | ".join(name + (":DIR" if name == "textgrid" else "") for name in ALIGNERS.names())
    options = [
        click.option("--root", type=click.Path(), required=True, help="Folder of the dataset release."),
        click.option("--out", type=OUTPUT_FILE, required=True, help="Cache file to write (.h5)."),
        click.option("--aligner", default="none", show_default=True,
                     help=f"{aligners} (registered aligners)."),
        click.option("--features", default="wav2vec2", show_default=True,
                     help=f"Comma-separated feature extractors ({', '.join(FEATURES.names())}) or 'none'."),
        click.option("--wav2vec2-model", default=None, help="Local folder (or hub id) of wav2vec2 weights."),
        click.option("--wav2vec2-layer", type=NON_NEGATIVE_INT, default=None, help="Store one hidden layer instead of all."),
        click.option("--allow-download", is_flag=True, help="Let wav2vec2 weights be downloaded from the hub (off: local files only)."),
        click.option("--regions", default=None, help="FLAME_masks.pkl, a folder with lve.txt+fdd.txt, or 'LIP,UPPER'."),
        click.option("--regions-preset", default=None,
                     help="Check the region files against a pinned protocol: codetalker-biwi, facediffuser-vocaset, flame-masks."),
        click.option("--landmarks", default=None, help="FLAME landmark embedding folder, or a vertex-id file."),
        click.option("--mesh", default=None, help="Mesh with the dataset's faces (e.g. FLAME_sample.ply)."),
        click.option("--transcripts", default=None, help="Transcript folder (VOCASET) or sentences.txt (BIWI)."),
        click.option("--textgrids", default=None, type=OUTPUT_FOLDER, help="Also write alignments as TextGrids here."),
        click.option("--mfa-bin", default=None, help="Path of the 'mfa' executable."),
        click.option("--mfa-dictionary", default=None, help="MFA dictionary name or path."),
        click.option("--mfa-acoustic-model", default=None, help="MFA acoustic model name or path."),
        click.option("--mfa-config", default=None, help="MFA config file (e.g. alignments/mfa_config.yaml)."),
        click.option("--subjects", default=None, help="Only these subjects (comma-separated)."),
        click.option("--limit", type=POSITIVE_INT, default=None, help="Only the first N sequences."),
        click.option("--jobs", type=POSITIVE_INT, default=1, show_default=True, help="Parallel readers."),
        click.option("--skip-bad", is_flag=True, help="Report and skip bad sequences instead of stopping."),
        click.option("--force", is_flag=True, help="Rebuild from scratch, ignoring finished work."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _run(dataset: str, kwargs: dict) -> None:
    from ..datasets.prepare import prepare

    mfa_keys = ("mfa_bin", "mfa_dictionary", "mfa_acoustic_model", "mfa_config")
    aligner_options = {k: kwargs.pop(k) for k in mfa_keys if kwargs.get(k)}
    feature_options = {"wav2vec2_model": kwargs.pop("wav2vec2_model"), "layer": kwargs.pop("wav2vec2_layer"),
                       "allow_download": kwargs.pop("allow_download")}
    for key in mfa_keys:
        kwargs.pop(key, None)
    subjects = kwargs.pop("subjects")
    quiet = kwargs.pop("quiet")
    summary = prepare(dataset, subjects=subjects.split(",") if subjects else None, aligner_options=aligner_options,
                      feature_options=feature_options, progress=not quiet, **kwargs)
    click.echo(summary.line())


def _dataset_command(name: str, help_text: str) -> click.Command:
    """``prepare <name>``: the common options, running the generic pipeline with dataset ``name``."""
    def command(**kwargs):
        _run(name, kwargs)

    return click.command(name, help=help_text)(_common_options(command))


class _DatasetGroup(click.Group):
    """One subcommand per registered dataset (histalk_bench.datasets.DATASETS), made on demand."""

    def list_commands(self, ctx):
        from ..datasets import DATASETS

        return DATASETS.names()

    def get_command(self, ctx, name):
        from ..datasets import DATASETS

        return _dataset_command(name, DATASETS.help(name)) if name in DATASETS else None


@click.group("prepare", cls=_DatasetGroup)
def prepare():
    """Read a dataset release into the HDF5 cache (vertices, 16 kHz audio, templates, regions,
    landmarks, alignments, features). Re-running resumes; finished sequences are kept."""
