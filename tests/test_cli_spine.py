"""CLI hygiene: --help is fast and imports no torch/transformers; bad arguments are clean errors."""

import subprocess
import sys

import pytest

from histalk_bench.cli.main import COMMANDS
from histalk_bench.common.errors import UserError
from histalk_bench.registry import Registry


def _run(*args):
    return subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", *args], capture_output=True, text=True)


def test_help_imports_no_heavy_modules():
    code = (
        "import sys\n"
        "from histalk_bench.cli.main import cli\n"
        "try:\n    cli.main(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'matplotlib', 'pandas', 'h5py') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help_without_torch(command):
    code = (
        "import sys\n"
        "from histalk_bench.cli.main import cli\n"
        f"try:\n    cli.main([{command!r}, '--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', [m for m in ('torch', 'transformers') if m in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout and "HEAVY []" in result.stdout


def test_unknown_command_is_usage_error():
    result = _run("trian")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "No such command" in result.stderr


def test_registry_did_you_mean_and_lazy_targets():
    registry = Registry("thing")
    registry.register("json_dumps", "json:dumps")
    registry.register("static", object())
    assert registry.get("json_dumps")([1]) == "[1]"
    with pytest.raises(UserError, match="did you mean 'static'"):
        registry.get("statc")
    with pytest.raises(ValueError):
        registry.register("static", object())
