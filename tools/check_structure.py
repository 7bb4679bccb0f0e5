"""Structure checks of ``src/evallog``: module and function sizes, import cycles, no import of the package ``__init__``.

    python tools/check_structure.py          # prints every violation, exit 1 if any

Limits: no module over 600 lines, no function over 60 lines (generated data and
templates aside: none in the package today). Imports are read with ``ast``,
function-level imports included and ``if TYPE_CHECKING:`` blocks left out.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "evallog"
SRC = Path(__file__).resolve().parent.parent / "src" / PACKAGE
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk_runtime(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            yield from (n for stmt in child.orelse for n in [stmt, *_walk_runtime(stmt)])
            continue
        yield child
        yield from _walk_runtime(child)


def imports(name: str, path: Path, known: dict[str, Path]) -> tuple[set[str], list[str]]:
    """(package modules ``name`` imports at run time, uses of names of the package ``__init__``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    init_uses: list[str] = []
    for node in _walk_runtime(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE:
                    init_uses.append(f"line {node.lineno}: import {PACKAGE}")
                elif alias.name.startswith(PACKAGE + "."):
                    out.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name if is_pkg else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    pkg = pkg.rpartition(".")[0]
                base = f"{pkg}.{base}" if base else pkg
            if not (base == PACKAGE or base.startswith(PACKAGE + ".")):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:
                    out.add(sub)
                elif base == PACKAGE:
                    init_uses.append(f"line {node.lineno}: from {PACKAGE} import {alias.name}")
                else:
                    out.add(base)
    out.discard(name)
    return {m for m in out if m in known}, init_uses


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                out.append(f"{node.name} (line {node.lineno}): {length} lines")
    return out


def problems() -> list[str]:
    known = modules()
    out: list[str] = []
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            out.append(f"{name}: {lines} lines (max {MAX_MODULE_LINES})")
        out.extend(f"{name}.{f} (max {MAX_FUNCTION_LINES})" for f in long_functions(path))
        graph[name], init_uses = imports(name, path, known)
        # a package's own __init__ importing its submodules is how a package is built
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".") and m != PACKAGE}
        if name != PACKAGE:
            out.extend(f"{name}: imports the package __init__ ({use})" for use in init_uses)
    # the package __init__ loads its submodules lazily; leave it out of the cycle search
    graph.pop(PACKAGE, None)
    out.extend("import cycle: " + " <-> ".join(c) for c in cycles(graph))
    return out


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    print(f"{len(found)} structure problem(s)" if found else "structure ok", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
