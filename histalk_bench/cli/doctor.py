"""`histalk-bench doctor`: report what is available and what is missing, with fixes."""

from __future__ import annotations

import click


@click.command("doctor")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Where caches will be written (for the disk-space check; default: current folder).")
@click.option("--mfa-bin", default=None, help="Montreal Forced Aligner executable to check instead of 'mfa' on PATH.")
@click.option("--wav2vec2-model", default=None,
              help="Local wav2vec2 folder to check (default: facebook/wav2vec2-base-960h in the HF cache).")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def doctor(cache_dir, mfa_bin, wav2vec2_model, as_json):
    """Check aligners, weights, torch/CUDA, rendering, ffmpeg and disk. Always exits 0."""
    from ..tools.doctor import as_dicts, report, run_checks

    checks = run_checks(cache_dir=cache_dir, mfa_bin=mfa_bin, wav2vec2_model=wav2vec2_model)
    if as_json:
        import json

        click.echo(json.dumps(as_dicts(checks), indent=2))
    else:
        click.echo(report(checks))
