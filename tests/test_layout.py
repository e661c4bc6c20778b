"""The package's layout stays walkable: small modules and functions, imports in one direction.

Checked with ``ast`` on the source (nothing is imported):

* no module over ``MAX_MODULE_LINES`` lines and no function body over ``MAX_FUNCTION_LINES``
  lines of code (docstrings, comments and blank lines not counted);
* no import cycle among module-level imports;
* the pipeline and the multiverse talk to a model family only through its package
  (``sustain.models.panel``), never through one of its modules (``sustain.models.panel.prepare``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sustain"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60
#: Layers that may use model families only through their public package.
CLIENT_LAYERS = ("pipeline", "multiverse", "tables", "figures")
FAMILIES = ("panel", "survival", "bayes", "joint", "designs")


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _code_lines(node: ast.AST, lines: list[str]) -> int:
    body = list(getattr(node, "body", []))
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if not body:
        return 0
    start, end = body[0].lineno, max(n.end_lineno or n.lineno for n in body)
    return sum(
        1 for line in lines[start - 1 : end] if line.strip() and not line.strip().startswith("#")
    )


def _top_level_imports(tree: ast.Module, name: str, known: set[str]) -> set[str]:
    """Modules imported at module level (not inside functions or ``if TYPE_CHECKING``).

    ``from package import submodule`` depends on the submodule, not on the package's
    ``__init__``; ``from module import name`` on the module.
    """
    found: set[str] = set()
    package = (
        name
        if (PACKAGE / Path(*name.split(".")[1:]) / "__init__.py").exists()
        else name.rpartition(".")[0]
    )
    for node in tree.body:
        if isinstance(node, ast.If):
            continue  # TYPE_CHECKING blocks
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("sustain")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                base = ".".join(parent[: len(parent) - node.level + 1] + ([base] if base else []))
            if base.startswith("sustain"):
                submodules = {f"{base}.{a.name}" for a in node.names} & known
                found |= submodules or {base}
    return found


def test_modules_and_functions_are_small() -> None:
    too_long, long_functions = [], []
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        if len(lines) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(lines)} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = _code_lines(node, lines)
                if n > MAX_FUNCTION_LINES:
                    long_functions.append(f"{name}.{node.name}: {n} lines of code")
    assert not too_long, too_long
    assert not long_functions, long_functions


def _graph() -> dict[str, set[str]]:
    names = modules()
    graph = {}
    for name, path in names.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = _top_level_imports(tree, name, set(names))
        graph[name] = {m for m in imported if m in names and m != name}
    return graph


def test_no_import_cycle() -> None:
    graph = _graph()
    seen: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, stack: list[str]) -> list[str] | None:
        seen[node] = 1
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in seen:
                cycle = visit(nxt, [*stack, nxt])
                if cycle:
                    return cycle
        seen[node] = 2
        return None

    for start in sorted(graph):
        if start not in seen:
            cycle = visit(start, [start])
            assert cycle is None, " -> ".join(cycle)


@pytest.mark.parametrize("layer", CLIENT_LAYERS)
def test_clients_use_model_families_through_their_packages(layer: str) -> None:
    bad = []
    for name, path in modules().items():
        if not name.startswith(f"sustain.{layer}"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):  # lazy imports inside functions count too
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[:2] == ["sustain", "models"] and len(parts) > 3 and parts[2] in FAMILIES:
                    bad.append(f"{name} imports {node.module}")
    assert not bad, bad
