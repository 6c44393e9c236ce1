"""The shape a newcomer relies on (docs/architecture.md): no import cycle between modules, hidden or not
(imports inside functions and under TYPE_CHECKING count), and every package of app/ named in the
architecture page, so the page cannot fall behind the tree."""

from __future__ import annotations

from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]


def import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
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
    return cycles


def test_import_cycles_finds_loops_and_only_loops() -> None:
    edges = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}, 'e': {'e'}, 'f': set()}
    assert import_cycles(edges) == [['a', 'b', 'c']]
    assert import_cycles({'x': {'y'}, 'y': set()}) == []


def ancestors(module: str) -> set[str]:
    parts = module.split('.')
    return {'.'.join(parts[:end]) for end in range(1, len(parts))}


def test_ancestors_are_the_packages_python_imports_first() -> None:
    assert ancestors('app.services.runs.reads') == {'app', 'app.services', 'app.services.runs'}
    assert ancestors('app') == set()


def test_no_import_cycle_between_modules_of_app() -> None:
    """Importing a.b.c also runs the __init__ of a and a.b: an __init__ that imports its package's modules
    is part of every importer's chain (unless the importer lives in that package)."""
    graph = grimp.build_graph('app', cache_dir=None)
    modules = {module for module in graph.modules if module.startswith('app')}
    edges: dict[str, set[str]] = {}
    for module in modules:
        imported = {name for name in graph.find_modules_directly_imported_by(module) if name in modules}
        packages = {package for name in imported for package in ancestors(name)} - ancestors(module) - {module}
        edges[module] = imported | (packages & modules)
    assert import_cycles(edges) == []


def test_every_package_of_app_is_named_in_the_architecture_page() -> None:
    page = (ROOT / 'docs' / 'architecture.md').read_text()
    packages = sorted(
        {
            path.parent.relative_to(ROOT).as_posix()
            for path in (ROOT / 'app').rglob('__init__.py')
            if '__pycache__' not in path.parts and 'migrations' not in path.parts
        }
    )
    assert [package for package in packages if f'{package}/' not in page] == []
