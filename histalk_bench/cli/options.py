"""Click parameter types shared by every command: arguments are checked before any work starts.

No heavy imports here (``--help`` must stay light); the device check imports torch only when a
device other than ``cpu`` is asked for, at the time the value is converted.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import click

POSITIVE_INT = click.IntRange(min=1)        # counts: epochs, batch size, subjects, jobs, limits ...
NON_NEGATIVE_INT = click.IntRange(min=0)    # indices: a wav2vec2 layer


class PositiveFloat(click.ParamType):
    """A finite float > 0 (rates, thresholds, scales)."""

    name = "positive number"

    def convert(self, value, param, ctx):
        if isinstance(value, float) and math.isfinite(value) and value > 0:
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number) or number <= 0:
            self.fail(f"{value!r} must be a finite number > 0", param, ctx)
        return number


POSITIVE_FLOAT = PositiveFloat()


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


class OutputPath(click.ParamType):
    """A path this process can create or replace: a file (``folder=False``) or a folder.

    The nearest existing ancestor must be a writable folder; an existing target must be of the
    right kind.  Nothing is created here (a failing command leaves nothing behind).
    """

    def __init__(self, folder: bool = False):
        self.folder = folder
        self.name = "folder" if folder else "file"

    def convert(self, value, param, ctx):
        path = Path(os.path.expanduser(str(value)))
        if not self.folder and str(value).endswith(("/", os.sep)):
            self.fail(f"{value}: ends with '/', a file name is expected", param, ctx)
        if path.exists():
            if self.folder and not path.is_dir():
                self.fail(f"{path}: exists and is not a folder", param, ctx)
            if not self.folder and path.is_dir():
                self.fail(f"{path}: is a folder, a file name is expected", param, ctx)
            if not os.access(path if path.is_dir() else path.parent, os.W_OK):
                self.fail(f"{path}: not writable (permission denied)", param, ctx)
            return str(path)
        parent = path.parent if not self.folder else path
        anchor = _nearest_existing(parent)
        if not anchor.is_dir():
            self.fail(f"{path}: cannot be created, {anchor} is a file, not a folder", param, ctx)
        if not os.access(anchor, os.W_OK | os.X_OK):
            self.fail(f"{path}: cannot be created, {anchor} is not writable (permission denied)", param, ctx)
        return str(path)


OUTPUT_FILE = OutputPath(folder=False)
OUTPUT_FOLDER = OutputPath(folder=True)


class Device(click.ParamType):
    """auto, cpu, cuda, cuda:N or mps, and available on this machine."""

    name = "device"

    def convert(self, value, param, ctx):
        text = str(value).strip().lower()
        kind, _, index = text.partition(":")
        if kind not in ("auto", "cpu", "cuda", "mps") or (index and (kind != "cuda" or not index.isdigit())):
            self.fail(f"{value!r} is not a device (auto, cpu, cuda, cuda:N, mps)", param, ctx)
        if kind in ("auto", "cpu"):
            return text
        import torch

        if kind == "cuda":
            if not torch.cuda.is_available():
                build = "a CPU-only torch build" if torch.version.cuda is None else "no visible CUDA device"
                self.fail(f"'{value}' is not available here ({build}); use --device cpu or auto", param, ctx)
            if index and int(index) >= torch.cuda.device_count():
                self.fail(f"'{value}' is not available ({torch.cuda.device_count()} CUDA device(s))", param, ctx)
        if kind == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            self.fail(f"'{value}' is not available here; use --device cpu or auto", param, ctx)
        return text


DEVICE = Device()


# --set KEY=VALUE goes through the same checks as the options of the same meaning
SET_TYPES = {"epochs": POSITIVE_INT, "batch_size": POSITIVE_INT, "lr": POSITIVE_FLOAT, "save_every": POSITIVE_INT,
             "max_frames": POSITIVE_INT, "patience": NON_NEGATIVE_INT, "num_workers": NON_NEGATIVE_INT,
             "device": DEVICE}


def _json_or_text(text: str):
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_set(items) -> dict:
    """``--set KEY=VALUE`` items -> {key: value} (JSON when it parses, dashes in keys -> '_'), each
    value of a known option checked by that option's type (a bad one fails as '--set')."""
    from ..common.errors import UserError

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set expects KEY=VALUE, got '{item}'")
        key = key.strip().replace("-", "_")
        options[key] = _json_or_text(value)
        if key in SET_TYPES and options[key] is not None:
            try:
                options[key] = SET_TYPES[key].convert(options[key], None, None)
            except click.BadParameter as exc:
                raise click.BadParameter(f"{key}: {exc.message}", param_hint="'--set'") from None
    return options


def explicit(ctx: click.Context, *names: str) -> dict:
    """{name: value} of the parameters among ``names`` given on the command line (not defaults)."""
    from click.core import ParameterSource

    return {name: ctx.params[name] for name in names
            if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)}


def refuse_unused(condition: str, /, **given) -> None:
    """UserError when an option that only acts ``condition`` (e.g. 'with --audio') was given:
    ``given`` maps option names (underscores for dashes) to values; None/False/() mean not given.
    The same check as the models' (common.errors.refuse_unused)."""
    from ..common.errors import refuse_unused as refuse

    names = [name for name, value in given.items() if value not in (None, False, ())]
    refuse({name: f"only acts {condition}" for name in names}, names)


def given_labels(ctx: click.Context, set_options: dict, *names: str) -> tuple[dict, dict]:
    """The options a user gave: ({name: value} of the command-line ``names`` given explicitly and of
    every ``--set`` key, {name: how it was given}), for :meth:`ModelEntry.unused_options`."""
    values = {**explicit(ctx, *names), **set_options}
    labels = {name: f"--set {name}" for name in set_options}
    return values, labels


class ManyValues(click.Option):
    """A repeatable option whose every occurrence also takes the space-separated values after it,
    up to the next option: ``--models a b --models c,d`` gives ('a', 'b', 'c,d') (split commas with
    :func:`names_list`).  A command using it must not take positional arguments after it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, multiple=True, **kwargs)

    def add_to_parser(self, parser, ctx) -> None:
        super().add_to_parser(parser, ctx)
        for name in self.opts:
            parsed = parser._long_opt.get(name) or parser._short_opt.get(name)
            if parsed is not None:
                parsed.process = _greedy(parsed.process)


def _greedy(process):
    """``process(value, state)`` of a parser option, also applied to each following value that is
    not an option (a token not starting with '-'; '--' ends it too)."""

    def take(value, state) -> None:
        process(value, state)
        while state.rargs and not state.rargs[0].startswith("-"):
            process(state.rargs.pop(0), state)

    return take


def names_list(values) -> list[str]:
    """('a,b', 'c', 'a') -> ['a', 'b', 'c']: commas split, blanks dropped, repeats dropped, order kept."""
    return list(dict.fromkeys(name.strip() for item in values for name in str(item).split(",") if name.strip()))


threads_option = click.option(
    "--threads", type=POSITIVE_INT, default=None,
    help="torch CPU threads (default: OMP_NUM_THREADS, else the CPUs this process may use).")


def check_inputs(*, run_dir=None, checkpoint=None, data=None, audio=None, template=None, faces=None) -> None:
    """Fail fast, before torch is imported, on inputs that cannot work: missing files, a run folder
    without a checkpoint, a template that is neither a mesh file nor (with a cache) a subject."""
    from ..common.errors import UserError

    if run_dir and checkpoint:
        raise UserError("give --run or --checkpoint, not both")
    if run_dir:
        if not Path(run_dir).is_dir():
            raise UserError("run folder not found", run_dir)
        if not any((Path(run_dir) / name).is_file() for name in ("best.pt", "last.pt")):
            raise UserError("run folder has no best.pt or last.pt (train first, or give --checkpoint FILE)", run_dir)
    for path, what in ((checkpoint, "checkpoint"), (data, "cache"), (audio, "audio file"), (faces, "mesh file")):
        if path and not Path(path).is_file():
            raise UserError(f"{what} not found", path)
    if audio and os.path.getsize(audio) == 0:
        raise UserError("audio file is empty", audio)
    if template and Path(template).suffix in (".npy", ".ply", ".obj") and not Path(template).is_file():
        raise UserError("template mesh not found", template)
