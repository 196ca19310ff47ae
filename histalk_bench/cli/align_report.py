"""`histalk-bench align-report`: boundary errors of cached alignments against a reference."""

from __future__ import annotations

import click

from .options import OUTPUT_FILE, POSITIVE_INT, refuse_unused


@click.command("align-report")
@click.argument("hypothesis", type=click.Path())
@click.option("--reference", default="oracle", show_default=True,
              help="'oracle' (the synthetic corpus's textgrids/, found through the cache config) or a folder of "
                   "TextGrids or TIMIT .WRD/.PHN files (DIR/<subject>/<sentence>.*, DIR/<subject>_<sentence>.*, or "
                   "DIR/<stem>.* for a TextGrid folder hypothesis).")
@click.option("--tier-source", default="cache", show_default=True,
              help="'cache' (the tiers stored by prepare) or an aligner to run now on the cached audio "
                   "(pocketsphinx, mfa, auto, textgrid:DIR).")
@click.option("--split", default=None, help="Only this split (train, val, test, ...).")
@click.option("--limit", type=POSITIVE_INT, default=None, help="Only the first N sequences.")
@click.option("--mfa-bin", default=None, help="Path of the 'mfa' executable (with --tier-source mfa/auto).")
@click.option("--json", "json_out", type=OUTPUT_FILE, default=None, help="Also write the figures as JSON.")
def align_report(hypothesis, reference, tier_source, split, limit, mfa_bin, json_out):
    """Median/mean/p90 absolute onset error of words and phones, % within 20 and 50 ms.

    HYPOTHESIS: a prepared cache (its tiers, or --tier-source) or a folder of TextGrids (e.g. written
    by 'histalk-bench align'), matched to the references by file stem.

    Words are matched by label sequence alignment; phones inside matched words (see
    histalk_bench/align/report.py for how differing phone sets are handled)."""
    import json

    from ..align.report import align_report as run_report

    if tier_source not in ("mfa", "auto"):
        refuse_unused("with --tier-source mfa or auto", mfa_bin=mfa_bin)
    options = {"mfa_bin": mfa_bin} if mfa_bin else {}
    report = run_report(hypothesis, reference=reference, tier_source=tier_source, split=split, limit=limit, **options)
    for line in report.lines():
        click.echo(line)
    if json_out:
        from pathlib import Path

        from ..common.atomic import write_text_atomic

        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(json_out, json.dumps(report.as_dict(), indent=1))
