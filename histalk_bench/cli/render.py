"""`histalk-bench render` (placeholder until its issue lands)."""

import click

from ..errors import NotImplementedYet


@click.command("render", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def render(args):
    """Not implemented yet."""
    raise NotImplementedYet("render")
