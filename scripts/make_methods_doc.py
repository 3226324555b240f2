"""Write docs/methods.md from the method registry, so the methods' page cannot drift from the code.

Every registered method (``explainers.methods.METHODS``) becomes one section: its title and paper,
what it computes, how to read its colours, its pitfalls, what it is good for and a table of its
settings, all read from the method class and its ``MethodCard``. The output depends only on the
registry, so running it twice gives the same file.

    python scripts/make_methods_doc.py            # rewrite docs/methods.md
    python scripts/make_methods_doc.py --check    # exit 1 if docs/methods.md is stale

Importing the registry does not import TensorFlow, so this runs in a second on any machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "methods.md"
if str(ROOT) not in sys.path:  # run as a script from any folder
    sys.path.insert(0, str(ROOT))

from explainers.methods import METHODS  # noqa: E402
from explainers.methods.base import Method, Param  # noqa: E402

HEADER = """# Saliency methods

Generated from the method registry (`explainers/methods/`) by `python scripts/make_methods_doc.py`;
do not edit by hand: change the method's class or its card and run the script again
(`tests/test_docs.py` fails while this page is stale). The same cards appear on the dashboard
("Can I trust this map?"), in the HTTP API (`GET /api/v1/models`) and in the HTML report.

Every method explains the logit of the chosen class (its score before softmax). "Uses the layer":
the layer picker changes the map. "Signed": negative values are evidence against the class, shown
in blue when the display is set to signed.
"""


def cell(text: Any) -> str:
    """A value made safe for one cell of a Markdown table."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def value(item: Any) -> str:
    """A setting's value as it is typed in the API, the CLI (``--param name=value``) or the page."""
    if isinstance(item, bool):
        return "`true`" if item else "`false`"
    return f"`{item}`"


def allowed(param: Param) -> str:
    """The allowed values of a setting, in words."""
    if param.choices is not None:
        return ", ".join(value(choice) for choice in param.choices)
    if param.minimum is not None and param.maximum is not None:
        return f"{value(param.minimum)} to {value(param.maximum)}"
    if param.minimum is not None:
        return f"at least {value(param.minimum)}"
    if param.maximum is not None:
        return f"at most {value(param.maximum)}"
    return "`true` or `false`" if isinstance(param.default, bool) else "any"


def settings_table(method: type[Method]) -> list[str]:
    """The settings of a method as a Markdown table (or one line saying it has none)."""
    if not method.params:
        return ["No settings."]
    lines = ["| setting | default | allowed | what it does |", "|---|---|---|---|"]
    for name, param in method.params.items():
        lines.append(f"| `{name}` | {cell(value(param.default))} | {cell(allowed(param))} | {cell(param.help)} |")
    return lines


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def index_table() -> list[str]:
    """One row per method, linking to its section."""
    lines = ["| name | method | paper | uses the layer | signed |", "|---|---|---|---|---|"]
    for name, method in METHODS.items():
        lines.append(
            f"| [`{name}`](#{name}) | {cell(method.title)} | "
            f"[{cell(method.paper)}]({method.card.paper_url}) | {yes_no(method.uses_layer)} | "
            f"{yes_no(method.signed)} |"
        )
    return lines


def section(name: str, method: type[Method]) -> list[str]:
    """One method's section: heading, facts, card and settings."""
    card = method.card
    lines = [
        f"## {name}",
        "",
        f"**{method.title}**: {method.description}",
        "",
        f"- Paper: [{method.paper}]({card.paper_url})",
        f"- Uses the layer: {yes_no(method.uses_layer)}; signed: {yes_no(method.signed)}",
    ]
    if method.quick:
        quick = ", ".join(f"`{key}={item}`" for key, item in method.quick.items())
        lines.append(f"- For a rough map in a fraction of the time: {quick}")
    if method.efforts:
        efforts = "; ".join(
            f"{effort} " + ", ".join(f"`{key}={item}`" for key, item in preset.items())
            for effort, preset in method.efforts.items()
        )
        lines.append(f"- Effort choice on its card: {efforts}")
    lines += [
        "",
        "**What it computes.** " + card.computes,
        "",
        "**How to read the colours.** " + card.colours,
        "",
        "**Pitfalls.**",
        "",
    ]
    lines += [f"- {pitfall}" for pitfall in card.pitfalls]
    lines += ["", "**Good for.** " + card.good_for, "", "**Settings.**", ""]
    lines += settings_table(method)
    return lines


def render() -> str:
    """The whole page, deterministic (registry order, no dates, no versions)."""
    lines = [HEADER, *index_table(), ""]
    for name, method in METHODS.items():
        lines += section(name, method)
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write docs/methods.md from the method registry.")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/methods.md is stale, write nothing")
    args = parser.parse_args(argv)
    page = render()
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
    if args.check:
        if current != page:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run python scripts/make_methods_doc.py", file=sys.stderr)
            return 1
        print(f"{OUTPUT.relative_to(ROOT)} is up to date")
        return 0
    OUTPUT.write_text(page, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(METHODS)} methods)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
