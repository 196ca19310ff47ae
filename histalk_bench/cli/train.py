"""`histalk-bench train` (placeholder until its issue lands)."""

import click

from ..errors import NotImplementedYet


@click.command("train", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def train(args):
    """Not implemented yet."""
    raise NotImplementedYet("train")
