"""What README.md and docs/ say matches the code: the metrics' comparability, the commands and
their options."""

import re
from pathlib import Path

import click
import pytest

from histalk_bench.cli.main import COMMANDS, cli
from histalk_bench.metrics import METRICS

ROOT = Path(__file__).resolve().parents[1]
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def paragraphs(path: Path) -> list[str]:
    return [" ".join(block.split()) for block in path.read_text().split("\n\n")]


def command_options(name: str) -> set[str]:
    """Every --option of command ``name`` (and of its subcommands, e.g. prepare vocaset)."""
    context = click.Context(cli)
    found = {"--help"}

    def collect(command):
        for param in command.params:
            found.update(o for o in param.opts + param.secondary_opts if o.startswith("--"))
        if isinstance(command, click.Group):
            for sub in command.list_commands(context):
                collect(command.get_command(context, sub))

    collect(cli.get_command(context, name))
    return found


def test_no_page_claims_lrp_is_the_published_definition():
    """Our LRP is a geometric reading (its spec says so); a sentence that ties LRP to the community
    protocol must say it is not comparable with published numbers."""
    assert "not comparable" in METRICS.get("lrp").description.lower()
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    wrong = [f"{page.name}: {text[:120]}" for page in pages for text in paragraphs(page)
             if "LRP" in text and re.search(r"exactly as|community protocol", text)
             and "not comparable" not in text.lower()]
    assert not wrong, wrong


def test_every_command_has_its_page():
    assert sorted(p.stem for p in (ROOT / "docs" / "commands").glob("*.md")) == sorted(COMMANDS)


def documented_options() -> list[tuple[str, str, str]]:
    """(where, command, option) for the README's command tour and each command page's option table."""
    rows = []
    for line in (ROOT / "README.md").read_text().splitlines():
        match = re.match(r"\| `histalk-bench ([a-z-]+)", line)
        if match:
            rows += [("README.md", match.group(1), option) for option in OPTION.findall(line)]
    for page in sorted((ROOT / "docs" / "commands").glob("*.md")):
        for line in page.read_text().splitlines():
            if line.startswith("| `--"):  # the page's own option table
                rows += [(page.name, page.stem, option) for option in OPTION.findall(line.split("|")[1])]
    return rows


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_documented_options_exist(command):
    options = command_options(command)
    rows = [row for row in documented_options() if row[1] == command]
    missing = [f"{where}: {option}" for where, _, option in rows if option not in options]
    assert not missing, f"documented but not accepted by 'histalk-bench {command}': {missing}"
