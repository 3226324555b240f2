"""The layers' import graph, read from the source (no module is imported): no cycles anywhere in
explainers/, service/, components/ and app.py, function-level imports included; the UI never reaches
TensorFlow and the explainers never reach Dash.

Imports under ``if TYPE_CHECKING:`` are not edges: they never run, they only name a type for an
annotation (service.trust names the service that calls it, for instance).
"""

from __future__ import annotations

from pathlib import Path

from explainers.versions import imported_modules, read_source

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("explainers", "service", "components")


def _modules() -> dict[str, Path]:
    found = {"app": ROOT / "app.py", "notebook_app": ROOT / "notebook_app.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports() -> dict[str, set[str]]:
    """Module -> every module it imports (absolute names, third-party ones included)."""
    modules = _modules()
    return {
        name: imported_modules(read_source(path), name, path.name == "__init__.py", is_module=modules.__contains__)
        for name, path in modules.items()
    }


#: the one edge allowed upward, by name: ``explainers.dashboard`` forwards to the page's side (Dash), which
#: the explainers never import themselves; it is a function-level import run only when a notebook asks
#: for the page, so it closes no cycle at import time
UPWARD_FORWARDERS = {("explainers", "notebook_app")}


def _graph() -> dict[str, set[str]]:
    imports = _imports()
    return {
        name: {
            target
            for target in targets
            if target in imports and target != name and (name, target) not in UPWARD_FORWARDERS
        }
        for name, targets in imports.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path a -> ... -> a) per strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_path_within(graph, group) for group in groups]


def _path_within(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A cycle through the first module of ``group``, staying inside it (breadth-first, so the shortest)."""
    start = min(group)
    paths = {start: [start]}
    todo = [start]
    while todo:
        node = todo.pop(0)
        for target in sorted(graph[node] & group):
            if target == start:
                return paths[node] + [start]
            if target not in paths:
                paths[target] = paths[node] + [target]
                todo.append(target)
    return sorted(group)


def test_there_is_no_import_cycle():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]


def test_the_ui_never_imports_tensorflow_and_the_explainers_never_import_dash():
    forbidden = {"components": ("tensorflow", "keras", "explainers._tf"), "explainers": ("dash",)}
    found = []
    for name, targets in _imports().items():
        for banned in forbidden.get(name.split(".")[0], ()):
            found += [
                f"{name} imports {target}"
                for target in sorted(targets)
                if target == banned or target.startswith(banned + ".")
            ]
    assert not found, "; ".join(found)
