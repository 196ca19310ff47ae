"""`histalk-bench synth` (placeholder until its issue lands)."""

import click

from ..errors import NotImplementedYet


@click.command("synth", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def synth(args):
    """Not implemented yet."""
    raise NotImplementedYet("synth")
