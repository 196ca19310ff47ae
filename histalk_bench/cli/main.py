"""The ``histalk-bench`` entry point: a lazily loaded Click group.

Each command lives in its own module under ``histalk_bench.cli`` and is imported only when
it runs (or when its help is shown), so ``histalk-bench --help`` stays fast.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from .. import __version__
from ..common.errors import UserError

# name -> ("module:attribute", one-line help shown by --help without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("histalk_bench.cli.demo:demo", "Synth -> prepare -> train HiSTalk -> compare with baselines, end to end."),
    "synth": ("histalk_bench.cli.synth:synth", "Write the embedded synthetic corpus in a real dataset layout."),
    "prepare": ("histalk_bench.cli.prepare:prepare", "Read a dataset release into the HDF5 cache (align, extract features)."),
    "align": ("histalk_bench.cli.align:align", "Forced-align audio files (any format) to TextGrids with words and phones."),
    "align-report": ("histalk_bench.cli.align_report:align_report", "Boundary errors of cached alignments against a reference."),
    "train": ("histalk_bench.cli.train:train", "Train a model on a prepared cache."),
    "predict": ("histalk_bench.cli.predict:predict", "Predict vertices for a split (or new audio) with a model."),
    "evaluate": ("histalk_bench.cli.evaluate:evaluate", "Score predictions (HDF5 or another repository's npy folder): LVE, FDD, MVE, LRP."),
    "compare": ("histalk_bench.cli.compare:compare", "Predict and evaluate several models; write leaderboard CSV, Markdown, plots."),
    "leaderboard": ("histalk_bench.cli.compare:leaderboard", "Rebuild leaderboard tables from stored scores without running models."),
    "render": ("histalk_bench.cli.render:render", "Render ground truth and predictions side by side to an mp4 with audio."),
    "doctor": ("histalk_bench.cli.doctor:doctor", "Report what is available and what is missing, with the fix for each."),
}


class _UserFacingError(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class _EchoHandler(logging.Handler):
    """Library log records (``histalk_bench.*``, INFO and above) printed as plain lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


def configure_logging() -> None:
    """Send the package's log messages to stderr, once; the CLI is the only place that prints."""
    logger = logging.getLogger("histalk_bench")
    if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
        logger.addHandler(_EchoHandler())
        logger.setLevel(logging.INFO)


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        target, _ = COMMANDS[name]
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, help_text) for name, (_, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            raise _UserFacingError(str(exc)) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="histalk-bench")
def cli():
    """histalk-bench: speech-driven 3D talking heads, from raw dataset to leaderboard.

    Start with 'histalk-bench demo --out demo_out' (no dataset needed).
    """
    configure_logging()


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="histalk-bench")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
