"""`histalk-bench prepare` (placeholder until its issue lands)."""

import click

from ..errors import NotImplementedYet


@click.command("prepare", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def prepare(args):
    """Not implemented yet."""
    raise NotImplementedYet("prepare")
