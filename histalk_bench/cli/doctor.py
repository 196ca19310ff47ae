"""`histalk-bench doctor` (placeholder until its issue lands)."""

import click

from ..errors import NotImplementedYet


@click.command("doctor", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def doctor(args):
    """Not implemented yet."""
    raise NotImplementedYet("doctor")
