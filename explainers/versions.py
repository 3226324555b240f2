"""Cache versions computed from the code that makes a result, instead of a hand-bumped number.

A version is a short hash of the source of some modules and of every module of the project they import,
directly or not, function-level imports included. A method's version (``method_version``) covers its own
module, what that imports (its base class, shared numerics, a sibling it builds on) and the core every
map goes through (``explainers.api`` and, through its imports, the passes, the engine and the models'
preprocessing). So editing occlusion.py leaves Grad-CAM's cached maps valid, and editing passes.py
retires every map. Versions are computed once per process; reading them imports nothing.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the folder holding the project's packages
MAP_CORE = ("explainers.api",)  # every map is made through it; passes, engine and models follow from its imports
PROJECT = ("explainers",)  # the packages whose imports are followed, by default
# one parse at a time: request threads ask for versions at once, and ast.parse in several threads at once
# has been seen to fail ("AST constructor recursion depth mismatch")
_PARSING = threading.Lock()


def module_path(name: str) -> Path | None:
    """The source file of module ``name``: the loaded module's, else the one under ``ROOT``, else None."""
    found = getattr(sys.modules.get(name), "__file__", None)
    if found:
        return Path(found)
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def read_source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def imported_modules(
    source: str,
    module: str,
    is_package: bool = False,
    is_module: Callable[[str], bool] = lambda name: module_path(name) is not None,
) -> set[str]:
    """The absolute names of the modules that the import statements of ``source`` (module ``module``)
    name, function-level ones included; imports under ``if TYPE_CHECKING:`` are left out (they never run).
    ``from a import b`` names ``a.b`` when that is a module, else ``a``."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if is_module(f"{base}.{alias.name}") else base)
    return found


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_closure(roots: Iterable[str], within: Iterable[str] = PROJECT) -> dict[str, str]:
    """Module name -> source of ``roots`` and of every module of the ``within`` packages they import,
    directly or not."""
    within = tuple(within)
    sources: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        path = None if name in sources else module_path(name)
        if path is None:
            continue
        sources[name] = read_source(path)
        for imported in imported_modules(sources[name], name, path.name == "__init__.py"):
            if any(imported == package or imported.startswith(package + ".") for package in within):
                todo.append(imported)
    return sources


def source_version(*modules: str, within: tuple[str, ...] = PROJECT) -> str:
    """A short hash of the code of ``modules`` and of every module of ``within`` they import (see
    ``import_closure``), computed once per process."""
    with _PARSING:
        return _source_version(modules, within)


@functools.cache
def _source_version(modules: tuple[str, ...], within: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name, source in sorted(import_closure(modules, within).items()):
        digest.update(f"{name}\0{source}\0".encode())
    return digest.hexdigest()[:16]


def method_version(method: type) -> str:
    """The version of a method's maps: the code of its class's module, of what that imports, and of the
    map-making core (``MAP_CORE``)."""
    return source_version(method.__module__, *MAP_CORE)
