"""The generated methods page stays true to the method registry; plain file reading, no model is built."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def load_generator():
    spec = importlib.util.spec_from_file_location("make_methods_doc", ROOT / "scripts" / "make_methods_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_methods_page_is_generated_from_the_registry():
    page = (DOCS / "methods.md").read_text(encoding="utf-8")
    assert page == load_generator().render(), "docs/methods.md is stale: run python scripts/make_methods_doc.py"


def test_methods_page_lists_every_method():
    from explainers.methods import METHODS

    page = (DOCS / "methods.md").read_text(encoding="utf-8")
    for name, method in METHODS.items():
        assert f"## {name}\n" in page and method.card.paper_url in page


def test_registry_imports_without_tensorflow():
    code = "import explainers.methods, sys; print('tensorflow' in sys.modules)"
    answer = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "False"
