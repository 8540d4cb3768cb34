"""The module map of docs/design.md, checked: imports point one way and never in a circle.

Layers, top to bottom: the command line (``imcombiners.cli``, ``demo``, ``__main__``), the
out-of-core engine (``imcombiners.dask``), the Python API (every other module, ``io``
included).  A module imports its own layer or the layers below, at module level or
inside a function alike.  Read from the source (nothing is imported).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "imcombiners"

#: The one import that points up: the xarray accessors registered by ``import
#: imcombiners`` load their implementation from imcombiners.dask on first use
#: (imcombiners/_xarray.py, docs/design.md).
ALLOWED_UP = {("imcombiners._xarray", "imcombiners.dask.accessor")}


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = path
    return mods


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Modules of the package that ``name`` imports (anywhere in the file)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for t in targets:
            while t and t not in MODULES:  # a name inside a module -> the module
                t = t.rpartition(".")[0]
            # a module's own packages are imported before it anyway: no edge
            if t and t != name and not name.startswith(t + "."):
                found.add(t)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(name: str) -> int:
    if name.startswith(("imcombiners.cli", "imcombiners.demo", "imcombiners.__main__")):
        return 3
    if name.startswith("imcombiners.dask"):
        return 2
    return 1


def test_imports_point_down():
    up = sorted((a, b) for a, targets in GRAPH.items() for b in targets
                if _layer(b) > _layer(a) and (a, b) not in ALLOWED_UP)
    assert not up, f"imports against the layering (cli -> dask -> API): {up}"


def test_no_import_cycles():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_sees_imports():
    # the rules above would pass on an empty graph: the known arrows must be there
    assert "imcombiners.dask.engine" in GRAPH["imcombiners.dask"]
    assert "imcombiners._job" in GRAPH["imcombiners.dask.tasks"]  # import at module level
    assert "imcombiners.dask" in GRAPH["imcombiners.cli._engine"]  # import inside a function
    assert "imcombiners._iraf_params" in GRAPH["imcombiners.iraf"]  # relative import


def test_no_import_path_edits():
    pattern = re.compile(r"sys\.path\.(insert|append)|sys\.meta_path")
    # (virtual environments, e.g. benchmarks/.venv-peers of setup_peers.sh, are not ours)
    offenders = [str(p.relative_to(REPO)) for folder in ("imcombiners", "tests", "benchmarks")
                 for p in (REPO / folder).rglob("*.py")
                 if not any(part.startswith(".venv") for part in p.relative_to(REPO).parts)
                 and pattern.search(p.read_text())]
    assert offenders == [], f"the import path (or its finders) edited in {offenders}"
