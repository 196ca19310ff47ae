"""The CLI's error boundary decides by type and origin, and silences only the named harmless case."""

from __future__ import annotations

import gc
import sys

import click
import pytest
from click.testing import CliRunner

from histalk_bench.cli import main as cli_main


@click.command("boom")
@click.option("--kind", default="runtime")
def boom(kind):
    if kind == "runtime":
        raise RuntimeError("a bug whose message happens to say errno = 28")
    raise OSError(28, "No space left on device", "/tmp/somewhere.h5")


@pytest.fixture
def with_boom(monkeypatch):
    monkeypatch.setitem(cli_main.COMMANDS, "boom", ("test_error_boundary:boom", "raises"))


def test_a_runtime_error_of_our_own_code_is_a_bug_not_an_io_error(with_boom):
    """Before: any RuntimeError mentioning 'errno =' became a one-line I/O error, hiding the bug."""
    result = CliRunner().invoke(cli_main.cli, ["boom"])
    assert isinstance(result.exception, RuntimeError) and "error:" not in result.output


def test_an_os_error_is_one_line_with_the_full_disk_hint(with_boom):
    result = CliRunner().invoke(cli_main.cli, ["boom", "--kind", "os"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == ("error: /tmp/somewhere.h5: No space left on device; "
                                                      "free some space and re-run (finished work is kept)")


def test_h5py_runtime_errors_are_storage_failures_by_origin(tmp_path):
    import h5py

    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["x"] = 1
    handle = h5py.File(path, "r")
    try:
        handle.attrs["y"] = 2  # read-only file: h5py raises from its own code
    except (OSError, RuntimeError, KeyError) as exc:
        raised = exc
    finally:
        handle.close()
    assert cli_main.raised_in(raised, "h5py")
    assert not cli_main.raised_in(RuntimeError("errno = 28"), "h5py")
    try:
        raise RuntimeError("errno = 28")
    except RuntimeError as exc:
        assert not cli_main.storage_failure(exc)


class _FailsWhenFreed:
    def __del__(self):
        raise OSError(5, "an unrelated failure in a finaliser")


def test_unraisable_os_errors_are_shown_unless_they_are_h5py_freeing_a_failed_write(capfd, monkeypatch):
    """Before: every OSError reaching the unraisable hook was dropped."""
    monkeypatch.setattr(sys, "unraisablehook", cli_main._quiet_io_unraisable)
    _FailsWhenFreed()
    gc.collect()
    assert "an unrelated failure in a finaliser" in capfd.readouterr().err

    class Args:  # what Python passes for h5py's failed write while freeing an object
        exc_type, exc_value, exc_traceback = OSError, OSError(27, "File too large"), None
        err_msg, object = None, cli_main.H5PY_DEALLOC

    cli_main._quiet_io_unraisable(Args())
    assert capfd.readouterr().err == ""
