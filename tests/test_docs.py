"""The documents stay true to the code: the generated methods page, the README's shape, the table of
environment variables, and the links between the pages. Plain file reading; no model is built."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, ROOT / "CONTRIBUTING.md", *sorted(DOCS.glob("*.md"))]
#: the code whose environment variables docs/serving.md must list (benchmarks and tests only set them)
SOURCES = [
    ROOT / "app.py",
    ROOT / "gunicorn.conf.py",
    *[path for folder in ("explainers", "service", "components") for path in sorted((ROOT / folder).rglob("*.py"))],
]
NAME = r"([A-Z][A-Z0-9_]*)"
LITERAL = re.compile(r"""(?:environ(?:\.get|\.setdefault|\.pop)?\(|environ\[|getenv\()\s*["']""" + NAME + "[\"']")
# os.environ.get(WEIGHTS_DIR_ENV): the name is a module constant, resolved in the same file
INDIRECT = re.compile(r"(?:environ(?:\.get|\.setdefault|\.pop)?\(|environ\[|getenv\()\s*" + NAME + r"\s*[,)\]]")


def load_generator():
    spec = importlib.util.spec_from_file_location("make_methods_doc", ROOT / "scripts" / "make_methods_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def environment_variables() -> dict[str, str]:
    """Every environment variable the serving code reads -> the first file that reads it."""
    found: dict[str, str] = {}
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        names = LITERAL.findall(text)
        for constant in INDIRECT.findall(text):
            assigned = re.search(rf"^{constant}\s*=\s*[\"']{NAME}[\"']", text, re.MULTILINE)
            assert assigned, (
                f"{path.relative_to(ROOT)} reads the environment through {constant}, which is not a literal"
            )
            names.append(assigned.group(1))
        for name in names:
            found.setdefault(name, str(path.relative_to(ROOT)))
    return found


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


def test_readme_opens_with_the_two_commands():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "```bash"
    assert lines[1].startswith("bash scripts/run.sh ")
    assert lines[2].startswith("bash scripts/test.sh ")
    assert lines[3] == "```"


def test_readme_is_a_page_not_a_notebook():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), "dated runs belong in docs/performance.md"
    assert not re.search(r"AMD EPYC|Intel Xeon", text), "machine names belong in docs/performance.md"
    hashes = re.findall(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b", text)
    assert not hashes, f"commit hashes belong in docs/performance.md: {hashes}"


def test_every_environment_variable_is_in_serving_doc():
    found = environment_variables()
    # the scan itself works: a literal read, a read through a module constant, a set-if-unset default
    assert {"EXPLAINERS_DATA_DIR", "EXPLAINERS_WEIGHTS_DIR", "TF_CPU_ALLOCATOR_USE_BFC"} <= set(found)
    serving = (DOCS / "serving.md").read_text(encoding="utf-8")
    missing = {name: where for name, where in found.items() if f"`{name}`" not in serving}
    assert not missing, f"docs/serving.md does not describe these environment variables: {missing}"


def test_compose_environment_is_in_serving_doc():
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    names = set(re.findall(r"^\s+([A-Z][A-Z0-9_]*):", compose, re.MULTILINE))
    assert names
    serving = (DOCS / "serving.md").read_text(encoding="utf-8")
    assert not [name for name in names if f"`{name}`" not in serving]


@pytest.mark.parametrize("page", PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_point_to_files(page):
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"


def test_docs_pages_exist():
    for name in ("architecture", "methods", "performance", "serving", "trust", "benchmarks"):
        assert (DOCS / f"{name}.md").is_file(), f"docs/{name}.md is missing"
    assert (ROOT / "CONTRIBUTING.md").is_file()
