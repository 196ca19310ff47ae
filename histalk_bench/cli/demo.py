"""`histalk-bench demo` (placeholder until its issue lands)."""

import click

from ..errors import NotImplementedYet


@click.command("demo", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def demo(args):
    """Not implemented yet."""
    raise NotImplementedYet("demo")
