"""`histalk-bench predict` (placeholder until its issue lands)."""

import click

from ..errors import NotImplementedYet


@click.command("predict", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def predict(args):
    """Not implemented yet."""
    raise NotImplementedYet("predict")
