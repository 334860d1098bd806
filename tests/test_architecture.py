"""The shape of the code (DESIGN.md §2), checked on the import graph, independently of import-linter.

The graph holds the project's own packages (tests are not among them) and is built by grimp, which
reads every import statement in a module, wherever it sits. Verified with grimp 3.20 on a scratch
package: `def f(): from pkg import b` in pkg.a gives the edge pkg.a -> pkg.b (line 5, is_lazy False),
so function-level imports count; an import under `if TYPE_CHECKING:` is dropped with
exclude_type_checking_imports=True (it never runs), as in .importlinter and the import-graph figures.

Each failure lists what to fix: the modules of every cycle with one loop through them, and every
offending import with its line. `bin/import-graph` prints the same figures as counts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
# The project's packages, lowest layer last; demo and bingxadmin sit outside the layers.
LAYERS = ("transfers", "accounts", "exchange", "bingx")
PROJECT_PACKAGES = (*LAYERS, "demo", "bingxadmin")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    lines: str  # "l.12 from x import y; l.40 …"

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported}  ({self.lines})"


def project_graph() -> grimp.ImportGraph:
    """The import graph of the project packages present in the tree (exchange/ and demo/ once created)."""
    present = [name for name in PROJECT_PACKAGES if (ROOT / name / "__init__.py").is_file()]
    return grimp.build_graph(
        *present, include_external_packages=True, exclude_type_checking_imports=True, cache_dir=None
    )


def package_of(module: str) -> str:
    return module.split(".", 1)[0]


def project_modules(graph: grimp.ImportGraph) -> list[str]:
    """Modules of the project itself (external packages appear in the graph as one node each)."""
    return sorted(m for m in graph.modules if package_of(m) in PROJECT_PACKAGES)


def edge(graph: grimp.ImportGraph, importer: str, imported: str) -> Import:
    details = graph.get_import_details(importer=importer, imported=imported)
    lines = "; ".join(f"l.{d['line_number']} {d['line_contents']}" for d in details)
    return Import(importer, imported, lines or "line unknown")


def imports_between(graph: grimp.ImportGraph, *, source: str, targets: set[str]) -> list[Import]:
    """Direct imports from any module of package `source` into any module of the `targets` packages."""
    found = []
    for module in project_modules(graph):
        if package_of(module) != source:
            continue
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if package_of(imported) in targets:
                found.append(edge(graph, module, imported))
    return found


def upward_imports(graph: grimp.ImportGraph) -> list[Import]:
    """Imports from a layer into a higher one (transfers > accounts > exchange > bingx)."""
    rank = {name: len(LAYERS) - i for i, name in enumerate(LAYERS)}
    found = []
    for lower in LAYERS:
        higher = {name for name in LAYERS if rank[name] > rank[lower]}
        found += imports_between(graph, source=lower, targets=higher)
    return found


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm (iterative) on the project's modules: the groups of two or more modules that
    import each other, directly or through the others."""
    modules = project_modules(graph)
    known = set(modules)
    succ = {m: sorted(graph.find_modules_directly_imported_by(m) & known) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in modules:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(succ[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(succ[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return sorted(groups)


def one_loop(graph: grimp.ImportGraph, group: list[str]) -> list[str]:
    """A shortest import loop from the group's first module back to itself (breadth-first)."""
    members = set(group)
    start = group[0]
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph.find_modules_directly_imported_by(node) & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    return group  # unreachable for a strongly connected group


def describe_cycles(graph: grimp.ImportGraph, groups: list[list[str]]) -> str:
    parts = []
    for group in groups:
        loop = one_loop(graph, group)
        steps = "\n".join(f"      {edge(graph, a, b)}" for a, b in itertools.pairwise(loop))
        parts.append(f"  {len(group)} modules: {', '.join(group)}\n    one loop through them:\n{steps}")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return project_graph()


def test_no_import_cycles_between_modules(graph):
    groups = strongly_connected(graph)
    assert not groups, f"{len(groups)} import cycle(s) — break each loop:\n{describe_cycles(graph, groups)}"


def test_accounts_never_imports_transfers(graph):
    found = imports_between(graph, source="accounts", targets={"transfers"})
    assert not found, f"{len(found)} import(s) from accounts into transfers:\n" + "\n".join(
        f"  {i}" for i in found
    )


def test_imports_never_point_up_the_layers(graph):
    found = upward_imports(graph)
    assert not found, (
        f"{len(found)} import(s) against transfers > accounts > exchange > bingx:\n"
        + "\n".join(f"  {i}" for i in found)
    )


def test_bingx_imports_no_django_and_nothing_of_the_project(graph):
    found = imports_between(graph, source="bingx", targets={"django", *PROJECT_PACKAGES} - {"bingx"})
    assert not found, f"bingx must stay pure Python; {len(found)} import(s) to remove:\n" + "\n".join(
        f"  {i}" for i in found
    )


def test_the_graph_sees_the_project(graph):
    """Guard against a vacuous pass: the packages are found and the known lowest edges are there."""
    modules = project_modules(graph)
    assert {"bingx", "accounts", "transfers", "bingxadmin"} <= {package_of(m) for m in modules}
    assert len(modules) > 50
    assert imports_between(graph, source="transfers", targets={"accounts"})  # a layer may import below it


def test_the_checks_report_a_planted_cycle_and_upward_import():
    planted = grimp.ImportGraph()
    for importer, imported, line in [
        ("transfers.a", "transfers.b", 1),
        ("transfers.b", "accounts.c", 2),
        ("accounts.c", "transfers.a", 3),
        ("accounts.c", "accounts.d", 4),
        ("bingx.e", "django", 5),
    ]:
        planted.add_import(
            importer=importer, imported=imported, line_number=line, line_contents=f"import {imported}"
        )
    groups = strongly_connected(planted)
    assert groups == [["accounts.c", "transfers.a", "transfers.b"]]
    assert describe_cycles(planted, groups).splitlines()[2:] == [
        "      accounts.c -> transfers.a  (l.3 import transfers.a)",
        "      transfers.a -> transfers.b  (l.1 import transfers.b)",
        "      transfers.b -> accounts.c  (l.2 import accounts.c)",
    ]
    assert [str(i) for i in upward_imports(planted)] == [
        "accounts.c -> transfers.a  (l.3 import transfers.a)"
    ]
    assert [i.imported for i in imports_between(planted, source="bingx", targets={"django"})] == ["django"]
