"""`histalk-bench align-report` (placeholder until its issue lands)."""

import click

from ..errors import NotImplementedYet


@click.command("align-report", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def align_report(args):
    """Not implemented yet."""
    raise NotImplementedYet("align-report")
