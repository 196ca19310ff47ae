"""The ``histalk-bench`` entry point: a lazily loaded Click group.

Each command lives in its own module under ``histalk_bench.cli`` and is imported only when
it runs (or when its help is shown), so ``histalk-bench --help`` stays fast.
"""

from __future__ import annotations

import importlib
import logging
import os
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
    "ablate": ("histalk_bench.cli.ablate:ablate", "Train and score HiSTalk ablation variants over seeds; paired bootstrap table."),
    "predict": ("histalk_bench.cli.predict:predict", "Predict vertices for a split (or new audio) with a model."),
    "evaluate": ("histalk_bench.cli.evaluate:evaluate", "Score predictions (HDF5 or another repository's npy folder): LVE, FDD, MVE, LRP."),
    "compare": ("histalk_bench.cli.compare:compare", "Predict and evaluate several models; write leaderboard CSV, Markdown, plots."),
    "leaderboard": ("histalk_bench.cli.compare:leaderboard", "Rebuild leaderboard tables from stored scores without running models."),
    "animate": ("histalk_bench.cli.animate:animate", "Animate a wav with a trained model: predict and render an mp4 with the audio."),
    "render": ("histalk_bench.cli.render:render", "Render ground truth and predictions side by side to an mp4 with audio."),
    "study": ("histalk_bench.cli.study:study", "Build (or serve) a blinded A/B user study from compare's rendered sequences."),
    "study-results": ("histalk_bench.cli.study:study_results", "Preference rates, Wilson intervals and binomial tests from study answers."),
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


INTERRUPTED = ("interrupted: temporary files removed; finished work is kept, and re-running the same command "
               "resumes where it can (prepare: finished sequences; train: --resume from last.pt)")


FULL_DISK = ("ENOSPC", "EDQUOT", "EFBIG")  # errno names that a full disk or a file size limit give


def raised_in(exc: BaseException, package: str) -> bool:
    """Whether ``exc`` was raised by code of ``package`` (its innermost traceback frame; Cython
    frames read e.g. 'h5py/h5f.pyx')."""
    step = exc.__traceback__
    if step is None:
        return False
    while step.tb_next is not None:
        step = step.tb_next
    name = step.tb_frame.f_code.co_filename.replace("\\", "/")
    return name.startswith(f"{package}/") or f"/{package}/" in name


def storage_failure(exc: BaseException) -> bool:
    """An I/O failure to report in one line: any OSError, or a RuntimeError raised by h5py (HDF5
    reports some failed writes, e.g. while closing a file, as RuntimeError)."""
    return isinstance(exc, OSError) or (isinstance(exc, RuntimeError) and raised_in(exc, "h5py"))


def hdf5_errno(exc: BaseException) -> int | None:
    """The C errno of an h5py failure: ``exc.errno`` when h5py set it, else the 'errno = N' of
    HDF5's error stack (h5py's RuntimeErrors carry it only in their text)."""
    import re

    if isinstance(getattr(exc, "errno", None), int):
        return exc.errno
    found = re.search(r"errno = (\d+)", str(exc))
    return int(found.group(1)) if found else None


def os_error_line(exc: Exception) -> str:
    """One line for an I/O failure: the file, the problem, and a hint for a full disk."""
    import errno
    import re

    text = " ".join(str(exc).split())
    found = re.search(r"error message = '([^']+)'", text)  # HDF5's stack: its innermost, readable message
    problem = (found.group(1) if found else None) or getattr(exc, "strerror", None) or text or exc.__class__.__name__
    where = getattr(exc, "filename", None)
    full = hdf5_errno(exc) in {getattr(errno, name) for name in FULL_DISK if hasattr(errno, name)}
    hint = "; free some space and re-run (finished work is kept)" if full else ""
    return f"{where}: {problem}{hint}" if where else f"{problem}{hint}"


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
        """The error boundary of every command: bad input, usage mistakes and I/O failures become
        one ``error:`` line (exit 2); Ctrl-C exits 130.  Unfinished temporary files are removed
        and locks released."""
        try:
            return super().invoke(ctx)
        except UserError as exc:
            _clean_up()
            raise _UserFacingError(str(exc)) from None
        except click.UsageError as exc:
            name = exc.ctx.command_path if exc.ctx is not None else "histalk-bench"
            raise _UserFacingError(f"{exc.format_message()} (see '{name} --help')") from None
        except KeyboardInterrupt:
            _clean_up()
            click.echo(INTERRUPTED, err=True)
            ctx.exit(130)
        except (OSError, RuntimeError) as exc:
            if not storage_failure(exc):
                raise
            _clean_up()
            if _HARD_EXIT[0]:  # HDF5 may crash on exit after a failed write: leave at once
                click.echo(f"error: {os_error_line(exc)}", err=True)
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(2)
            raise _UserFacingError(os_error_line(exc)) from None


_HARD_EXIT = [False]  # set by main(): the process ends right after an I/O error


def _clean_up() -> None:
    from ..common import lock
    from ..common.atomic import remove_pending

    remove_pending()
    lock.release_all()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="histalk-bench")
def cli():
    """histalk-bench: speech-driven 3D talking heads, from raw dataset to leaderboard.

    Start with 'histalk-bench demo --out demo_out' (no dataset needed).
    """
    configure_logging()


# h5py frees a dataset or file whose pending write fails here: the same failure the raised error
# reports (or will report), printed by Python as an 'Exception ignored' traceback
H5PY_DEALLOC = "h5py._objects.ObjectID.__dealloc__"


def _quiet_io_unraisable(unraisable) -> None:
    """Drops only the known-harmless repeat of a failed write (an OSError or RuntimeError ignored
    in H5PY_DEALLOC); anything else is shown.  A Ctrl-C that landed in such a callback (where
    Python ignores it) is delivered again."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):  # from another thread, once this callback is over
        import _thread
        import threading

        threading.Timer(0.01, _thread.interrupt_main).start()
        return
    harmless = unraisable.object == H5PY_DEALLOC and isinstance(unraisable.exc_value, (OSError, RuntimeError))
    if not harmless:
        sys.__unraisablehook__(unraisable)


def _quiet_h5py_dealloc(kind, value, traceback) -> None:
    """The traceback h5py prints for the same failed writes (through sys.excepthook): an I/O
    failure whose frames are all h5py's; anything else is shown."""
    frames, step = [], traceback
    while step is not None:
        frames.append(step.tb_frame.f_code.co_filename)
        step = step.tb_next
    if not (isinstance(value, (OSError, RuntimeError)) and frames and all("h5py" in name for name in frames)):
        sys.__excepthook__(kind, value, traceback)


def main(argv: list[str] | None = None) -> None:
    _HARD_EXIT[0] = True
    sys.unraisablehook = _quiet_io_unraisable
    sys.excepthook = _quiet_h5py_dealloc
    cli.main(args=argv, prog_name="histalk-bench")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
