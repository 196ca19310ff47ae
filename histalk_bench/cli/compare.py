"""`histalk-bench compare` and `leaderboard` (placeholder until the evaluator issue lands)."""

import click

from ..errors import NotImplementedYet


@click.command("compare", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def compare(args):
    """Not implemented yet."""
    raise NotImplementedYet("compare")


@click.command("leaderboard", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def leaderboard(args):
    """Not implemented yet."""
    raise NotImplementedYet("leaderboard")
