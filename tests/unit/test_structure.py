"""The package's shape, checked from its source: layers, no cycles, SQL in storage, small modules.

docs/ARCHITECTURE.md draws the layers; this test keeps the drawing true. It reads the import
statements with :mod:`ast` (nothing is imported), so it is fast and sees function-level imports
too. A failure names the module and the import that broke the rule.
"""
from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "avsteg"
MAX_LINES = 400

# Top to bottom: a module may import from its own layer and the layers below it, never above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("avsteg.__main__", "avsteg.cli"),  # the command line's front
    ("avsteg.commands",),  # entrypoints: one module per command, the worker service
    ("avsteg.bootstrap",),  # the composition root
    ("avsteg.web",),  # the web app: pages and actions over the services and the read model
    ("avsteg.services",),  # use cases: the pipeline, the worker's poll, reprocess, jobs
    # adapters: each on its own, none imports another
    ("avsteg.ingest", "avsteg.parsers", "avsteg.storage", "avsteg.forms", "avsteg.register",
     "avsteg.samples", "avsteg.logs"),
    ("avsteg.config",),  # typed settings and the template schema
    ("avsteg.domain",),  # values and rules: the standard library only
)
ADAPTERS = LAYERS[5]
# ``samples`` (the demo's mail) fills the blank forms: the one adapter that uses another.
ADAPTER_ALLOWED = {("avsteg.samples", "avsteg.forms")}
SQL_LIBRARIES = ("sqlalchemy", "alembic", "psycopg")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (or package) name
    line: int
    in_function: bool
    comment: str  # the source line, for the reason next to a function-level import


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path) -> Iterator[Import]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    nested: set[int] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nested.update(id(n) for n in ast.walk(fn) if n is not fn)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            yield Import(name, target, node.lineno, id(node) in nested,
                         lines[node.lineno - 1] + " " + lines[node.lineno - 2]
                         if node.lineno > 1 else lines[node.lineno - 1])


def _own(target: str, modules: dict[str, Path]) -> str | None:
    """The module of ours ``target`` names (``avsteg.x.y`` may be a name inside ``avsteg.x``)."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


def _layer(module: str) -> int:
    for index, layer in enumerate(LAYERS):
        if any(module == part or module.startswith(part + ".") for part in layer):
            return index
    raise AssertionError(f"{module} is in no layer; add it to LAYERS and docs/ARCHITECTURE.md")


def _part(module: str) -> str:
    for layer in LAYERS:
        for part in layer:
            if module == part or module.startswith(part + "."):
                return part
    return module


MODULES = _modules()
IMPORTS = [imp for name, path in MODULES.items() for imp in _imports(name, path)]
OWN_EDGES = sorted({(i.module, own, i.line) for i in IMPORTS
                    if (own := _own(i.target, MODULES)) and own != i.module and own != "avsteg"})


def test_every_module_is_in_a_layer():
    for module in MODULES:
        if module != "avsteg":
            _layer(module)


def test_imports_go_down_the_layers_only():
    wrong = [f"{m}:{line} imports {t}" for m, t, line in OWN_EDGES if _layer(t) < _layer(m)]
    assert wrong == []


def test_adapters_do_not_import_each_other():
    wrong = [f"{m}:{line} imports {t}" for m, t, line in OWN_EDGES
             if _layer(m) == _layer(t) == LAYERS.index(ADAPTERS)
             and _part(m) != _part(t) and (_part(m), _part(t)) not in ADAPTER_ALLOWED]
    assert wrong == []


def test_no_import_cycles():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, target, _line in OWN_EDGES:
        graph[module].add(target)
    # Tarjan's strongly connected components, iteratively (no recursion limit to trip over).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
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
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    assert cycles == []


def test_the_domain_uses_the_standard_library_only():
    foreign = [f"{i.module}:{i.line} imports {i.target}" for i in IMPORTS
               if i.module.startswith("avsteg.domain")
               and not i.target.startswith("avsteg.domain")
               and i.target.split(".")[0] not in sys.stdlib_module_names]
    assert foreign == []


def test_sql_lives_in_storage_only():
    leaks = [f"{i.module}:{i.line} imports {i.target}" for i in IMPORTS
             if i.target.split(".")[0] in SQL_LIBRARIES
             and not i.module.startswith("avsteg.storage")]
    assert leaks == []


def test_function_level_imports_of_our_modules_say_why():
    silent = [f"{i.module}:{i.line} imports {i.target}" for i in IMPORTS
              if i.in_function and i.target.startswith("avsteg") and "#" not in i.comment]
    assert silent == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by what its parts do"


def test_the_checks_see_what_they_check():
    """Guards against a vacuous pass: the walk found the package and its real edges."""
    assert len(MODULES) > 50
    edges = {(m, t) for m, t, _line in OWN_EDGES}
    assert ("avsteg.bootstrap", "avsteg.services.pipeline") in edges
    assert ("avsteg.storage.read_model.reports", "avsteg.storage.models") in edges
    assert any(i.target.startswith("sqlalchemy") for i in IMPORTS)
