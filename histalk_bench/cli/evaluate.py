"""`histalk-bench evaluate` (placeholder until its issue lands)."""

import click

from ..errors import NotImplementedYet


@click.command("evaluate", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def evaluate(args):
    """Not implemented yet."""
    raise NotImplementedYet("evaluate")
