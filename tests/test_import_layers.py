"""The package's import structure: no import cycle, and no stage importing a later one.

Imports are read with ``ast`` from every module, module level and inside functions alike (an
import inside a function still couples the two modules; it only hides the cycle until run time).
The layers are the table under "Import layers" in docs/architecture.md, parsed here."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "histalk_bench"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def internal_imports(path: Path, modules: set[str], root: Path = ROOT) -> set[str]:
    """The package modules ``path`` imports anywhere in its body (``from .x import y`` counts as
    ``x.y`` when that is a module, else ``x``)."""
    name = module_name(path, root)
    anchor = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(anchor[: len(anchor) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else (node.module or "")
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            # a module importing its own package's __init__ (e.g. the registry) is not an edge
            if target and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): internal_imports(p, modules) for p in paths}


def layers_from_docs() -> list[tuple[int, str]]:
    """(layer, module prefix) rows of the docs' "Import layers" table, most specific prefix first."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Import layers", 1)[1].split("\n## ", 1)[0]
    rows = []
    for layer, names in re.findall(r"^\|\s*(\d+)\s*\|([^|]+)\|", section, flags=re.M):
        rows += [(int(layer), "histalk_bench" if n == "histalk_bench" else f"histalk_bench.{n}")
                 for n in re.findall(r"`([\w.]+)`", names)]
    assert rows, "docs/architecture.md has no Import layers table"
    return sorted(rows, key=lambda row: -len(row[1]))


def layer_of(module: str, layers: list[tuple[int, str]]) -> int:
    for layer, prefix in layers:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    raise AssertionError(f"{module} is in no layer of docs/architecture.md's Import layers table")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]; counter[0] += 1
        stack.append(root); on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]; counter[0] += 1
                    stack.append(child); on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop(); on_stack.discard(member); component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


# Removed on the HiSTalk branch (issue 20): delete this entry when that branch is merged.
KNOWN_CYCLES = [["histalk_bench.models.histalk.api", "histalk_bench.models.histalk.train"]]


def test_the_package_has_no_import_cycle():
    found = [c for c in cycles(import_graph()) if c not in KNOWN_CYCLES]
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_module_imports_a_later_stage():
    layers = layers_from_docs()
    graph = import_graph()
    wrong = [f"{module} (layer {layer_of(module, layers)}) imports {target} (layer {layer_of(target, layers)})"
             for module, targets in sorted(graph.items()) for target in sorted(targets)
             if layer_of(target, layers) > layer_of(module, layers)]
    assert not wrong, "\n".join(wrong)


def test_the_checks_see_cycles_and_upward_imports_inside_functions(tmp_path):
    """The graph counts an import hidden in a function, and the cycle search finds a 3-cycle."""
    package = tmp_path / "histalk_bench"
    (package / "metrics").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "metrics" / "__init__.py").write_text("")
    (package / "metrics" / "a.py").write_text("def f():\n    from .b import g\n")
    (package / "metrics" / "b.py").write_text("from histalk_bench.metrics import c\n")
    modules = {"histalk_bench", "histalk_bench.metrics", "histalk_bench.metrics.a", "histalk_bench.metrics.b",
               "histalk_bench.metrics.c"}
    assert internal_imports(package / "metrics" / "a.py", modules, tmp_path) == {"histalk_bench.metrics.b"}
    assert internal_imports(package / "metrics" / "b.py", modules, tmp_path) == {"histalk_bench.metrics.c"}
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    layers = [(6, "histalk_bench.models"), (1, "histalk_bench.datasets")]
    assert layer_of("histalk_bench.datasets.prepare", layers) == 1
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("histalk_bench.unknown", layers)
