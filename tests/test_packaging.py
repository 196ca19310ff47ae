"""Installed from a wheel, the package has every data file it reads at run time.

Run-time data lives inside the package and is read with importlib.resources
(``resources.files(__package__).joinpath(NAME)``); nothing is read relative to ``__file__`` from
the repository around it, which a wheel install does not have."""

import ast
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "histalk_bench"

# The only uses of __file__ in the package, and why each works from a wheel.
FILE_USES = {
    "synth/speech.py": "PYTHONPATH of the espeak-ng worker process: the folder that holds the package",
    "common/version.py": "working folder of `git rev-parse HEAD` (no commit recorded outside a checkout)",
}


def module_constants(tree: ast.Module) -> dict[str, str]:
    return {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            for target in node.targets if isinstance(target, ast.Name)}


def resources_read() -> list[str]:
    """Package-relative paths of every ``resources.files(PKG).joinpath(NAME)`` in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        constants = module_constants(tree)
        folder = path.parent.relative_to(PACKAGE.parent)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "joinpath" and isinstance(node.func.value, ast.Call)):
                continue
            owner = node.func.value
            if not (isinstance(owner.func, ast.Attribute) and owner.func.attr == "files"
                    or isinstance(owner.func, ast.Name) and owner.func.id == "files"):
                continue
            package, name = owner.args[0], node.args[0]
            if not (isinstance(package, (ast.Constant, ast.Name)) and isinstance(name, (ast.Constant, ast.Name))
                    and len(node.args) == 1):
                continue  # a computed path (e.g. report.page.asset): covered by package_data_files()
            base = folder.as_posix() if isinstance(package, ast.Name) and package.id == "__package__" \
                else package.value.replace(".", "/")
            name = constants[name.id] if isinstance(name, ast.Name) else name.value
            found.append(f"{base}/{name}")
    return found


def package_data_files() -> list[str]:
    """Every non-Python file inside the package folder (templates, assets, lexicon, ...)."""
    return sorted(path.relative_to(PACKAGE.parent).as_posix() for path in PACKAGE.rglob("*")
                  if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts)


def test_every_resource_the_code_reads_is_in_the_package():
    resources = resources_read()
    assert "histalk_bench/align/lexicon_additions.dict" in resources
    for resource in resources:
        assert (PACKAGE.parent / resource).is_file(), resource


def test_nothing_is_read_relative_to_the_source_tree():
    uses = sorted(path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
                  if "__file__" in path.read_text())
    assert uses == sorted(FILE_USES), f"__file__ used in {uses}: read data with importlib.resources instead"


def test_the_lexicon_reads_the_packaged_additions(monkeypatch):
    from histalk_bench.align.lexicon import Lexicon, default_additions_paths

    monkeypatch.delenv("HISTALK_LEXICON", raising=False)
    assert [str(p) for p in default_additions_paths()] == [str(PACKAGE / "align" / "lexicon_additions.dict")]
    lexicon = Lexicon()
    assert lexicon.pronounce("histalk") == ["HH", "IH", "S", "T", "AO", "K"] and lexicon.sources["histalk"] == "additions"


def test_a_lexicon_variable_naming_no_file_is_an_error(monkeypatch, tmp_path):
    from histalk_bench.align.lexicon import default_additions_paths
    from histalk_bench.common.errors import UserError

    monkeypatch.setenv("HISTALK_LEXICON", str(tmp_path / "missing.dict"))
    with pytest.raises(UserError, match=r"HISTALK_LEXICON names no file"):
        default_additions_paths()
    (tmp_path / "mine.dict").write_text("zorblax Z AO R B L AE K S\n")
    monkeypatch.setenv("HISTALK_LEXICON", str(tmp_path / "mine.dict"))
    assert [str(p) for p in default_additions_paths()][1] == str(tmp_path / "mine.dict")


@pytest.mark.slow
def test_a_built_wheel_holds_every_file_the_code_reads(tmp_path):
    """Build the wheel offline from a copy of the sources (the checkout stays clean), then run the
    lexicon from the unpacked wheel alone, away from the repository."""
    source = tmp_path / "src"
    shutil.copytree(PACKAGE, source / "histalk_bench", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    started = time.perf_counter()
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    print(f"wheel built in {time.perf_counter() - started:.1f} s")
    wheel = next((tmp_path / "dist").glob("histalk_bench-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = set(resources_read()) | set(package_data_files())
    assert "histalk_bench/report/assets/report.html" in wanted
    missing = sorted(resource for resource in wanted if resource not in names)
    assert not missing, f"{wheel.name} lacks {missing}"

    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    env = {**os.environ, "PYTHONPATH": str(installed)}
    env.pop("HISTALK_LEXICON", None)
    run = subprocess.run([sys.executable, "-c",
                          "import histalk_bench.align.lexicon as m; lexicon = m.Lexicon(); "
                          "print(m.__file__); print(lexicon.pronounce('speechformer'), lexicon.sources['speechformer'])"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    module_file, pronounced = run.stdout.splitlines()
    assert module_file.startswith(str(installed))
    assert pronounced == "['S', 'P', 'IY', 'CH', 'F', 'AO', 'R', 'M', 'ER'] additions"
