"""Cache versions from the code that makes a map: they change with a method's source, with the shared
core, and with nothing else; they are stable within a process (no TensorFlow, no model)."""

import sys
import textwrap

import pytest

from explainers import versions
from explainers.methods import get_method
from explainers.methods.base import Method
from helpers import png_bytes


@pytest.fixture(autouse=True)
def _fresh_versions():
    versions._source_version.cache_clear()
    yield
    versions._source_version.cache_clear()


def _synthetic_method(tmp_path, monkeypatch, module: str, body: str) -> type[Method]:
    """A method class defined in a module of its own, written to ``tmp_path`` and imported (not registered)."""
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(f"""
        from explainers.methods.base import Method

        class Synthetic(Method):
            name = "{module}"

            def compute(self, passes, layer):
                {body}
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    __import__(module)
    return sys.modules[module].Synthetic


def test_two_methods_differing_in_source_differ_in_version(tmp_path, monkeypatch):
    one = _synthetic_method(tmp_path, monkeypatch, "synthetic_one", "return 1")
    two = _synthetic_method(tmp_path, monkeypatch, "synthetic_two", "return 2")
    assert versions.method_version(one) != versions.method_version(two)
    assert versions.method_version(one) == versions.method_version(one)
    # the shared core is part of both: the base class they import is followed
    assert "explainers.methods.base" in versions.import_closure(["synthetic_one"])


def test_editing_a_method_changes_its_version_only(monkeypatch):
    grad_cam, occlusion = get_method("grad_cam"), get_method("occlusion")
    before = versions.method_version(grad_cam), versions.method_version(occlusion)
    assert versions.method_version(grad_cam) == before[0]  # stable across calls

    real = versions.read_source

    def edited(path):
        source = real(path)
        return source + "\n# edited\n" if path.name == "occlusion.py" else source

    monkeypatch.setattr(versions, "read_source", edited)
    assert versions.method_version(grad_cam) == before[0]  # computed once per process: cached
    versions._source_version.cache_clear()
    assert versions.method_version(occlusion) != before[1]
    assert versions.method_version(grad_cam) == before[0]  # Grad-CAM's maps stay valid


def test_editing_the_shared_core_changes_every_version(monkeypatch):
    grad_cam, rise = get_method("grad_cam"), get_method("rise")
    before = versions.method_version(grad_cam), versions.method_version(rise)
    real = versions.read_source
    monkeypatch.setattr(
        versions, "read_source", lambda path: real(path) + ("\n# edited\n" if path.name == "passes.py" else "")
    )
    versions._source_version.cache_clear()
    assert versions.method_version(grad_cam) != before[0] and versions.method_version(rise) != before[1]


def test_imports_are_followed_inside_functions_but_not_under_type_checking():
    source = textwrap.dedent("""
        from typing import TYPE_CHECKING
        from explainers import weights
        from . import base
        if TYPE_CHECKING:
            from explainers.engine import Engine
        def later():
            import cv2
            from explainers.errors import ExplainerError
        """)
    found = versions.imported_modules(source, "explainers.methods.sample")
    assert {"explainers.weights", "explainers.methods.base", "cv2", "explainers.errors"} <= found
    assert "explainers.engine" not in found


def test_cache_keys_carry_each_methods_version(tmp_path):
    from service import ExplainerService

    svc = ExplainerService(tmp_path, weights="random")
    key = svc.add_image(png_bytes())
    keys = {name: svc._map_request(key, "shapes", name, None, None, None, None)[0] for name in ("grad_cam", "rise")}
    assert keys["grad_cam"][-1] == versions.method_version(get_method("grad_cam"))
    assert keys["rise"][-1] == versions.method_version(get_method("rise"))
    assert keys["grad_cam"][-1] != keys["rise"][-1]


def test_versions_asked_for_by_many_threads_at_once_agree():
    """Request threads ask for every method's version at once on a new server: each gets the one answer."""
    from concurrent.futures import ThreadPoolExecutor

    from explainers.methods import METHODS

    versions._source_version.cache_clear()
    with ThreadPoolExecutor(16) as pool:
        found = list(pool.map(lambda cls: (cls.name, versions.method_version(cls)), list(METHODS.values()) * 4))
    expected = {cls.name: versions.method_version(cls) for cls in METHODS.values()}
    assert all(version == expected[name] for name, version in found)
