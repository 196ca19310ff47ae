"""`histalk-bench align`: forced alignment of audio files outside a cache -> TextGrids."""

from __future__ import annotations

import click

from .options import OUTPUT_FOLDER, refuse_unused


@click.command("align")
@click.argument("audio", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--transcript", default=None, help="The words spoken (used for every AUDIO file).")
@click.option("--transcript-file", default=None, type=click.Path(dir_okay=False),
              help="A text file holding the words spoken (used for every AUDIO file).")
@click.option("--aligner", type=click.Choice(["pocketsphinx", "mfa", "auto"]), default="auto", show_default=True,
              help="auto: MFA when an 'mfa' executable exists, else pocketsphinx.")
@click.option("--mfa-bin", default=None, help="Path of the 'mfa' executable (with --aligner mfa/auto).")
@click.option("--out", required=True, type=OUTPUT_FOLDER, help="Folder for <audio stem>.TextGrid.")
def align(audio, transcript, transcript_file, aligner, mfa_bin, out):
    """Write OUT/<stem>.TextGrid (tiers 'words' and 'phones') for each AUDIO file (any format and rate
    soundfile reads, e.g. WAV, FLAC, TIMIT NIST SPHERE).  Without --transcript/--transcript-file the
    transcript is read from <stem>.lab or <stem>.txt beside the audio."""
    from pathlib import Path

    from ..align.files import align_files
    from ..common.errors import UserError

    if aligner == "pocketsphinx":
        refuse_unused("with --aligner mfa or auto", mfa_bin=mfa_bin)
    if transcript is not None and transcript_file is not None:
        raise UserError("give --transcript or --transcript-file, not both")
    if transcript_file is not None:
        path = Path(transcript_file)
        if not path.is_file():
            raise UserError("transcript file not found", path)
        transcript = path.read_text(encoding="utf-8", errors="replace")
    options = {"mfa_bin": mfa_bin} if mfa_bin else {}
    result = align_files(list(audio), out, transcript=transcript, aligner=aligner, **options)
    for item in result.files:
        if item.error:
            click.echo(f"failed: {item.audio}: {item.error}", err=True)
        else:
            click.echo(f"wrote {item.textgrid} ({item.aligner}; transcript: {item.transcript_source}; "
                       f"{item.n_words} words, {item.n_phones} phones)")
    if result.failed:
        raise UserError(f"{len(result.failed)} of {len(result.files)} files could not be aligned (see above)")
