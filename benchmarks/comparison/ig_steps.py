"""The second table: integrated-gradients steps our quadratures need for ≤ 1 % completeness error (no peer)."""

from __future__ import annotations

import contextlib
import io
import re
import sys
import time
from unittest import mock

from .machine import Run
from .rows import Settings

IG_THRESHOLD = 0.01


def completeness_error(model_name: str, rule: str, steps: int) -> float:
    """One run of benchmarks/ig_completeness.py (imported, not copied) for one model, rule and step count."""
    import ig_completeness
    from explainers.methods import integrated_gradients

    printed = io.StringIO()
    argv = ["ig_completeness.py", "--models", model_name, "--steps", str(steps)]
    with (
        mock.patch.object(sys, "argv", argv),
        mock.patch.object(integrated_gradients, "QUADRATURES", (rule,)),
        contextlib.redirect_stdout(printed),
    ):
        ig_completeness.main()
    cells = [line for line in printed.getvalue().splitlines() if line.startswith("|") and "%" in line]
    return float(re.search(r"([0-9.]+)\s*%", cells[-1]).group(1)) / 100


def steps_needed(
    model_name: str, rule: str, candidates: tuple[int, ...], log
) -> tuple[int | None, list[tuple[int, float]]]:
    tried = []
    for steps in candidates:
        error = completeness_error(model_name, rule, steps)
        tried.append((steps, error))
        log(f"  IG {model_name} {rule} {steps} steps: {error:.2%}")
        if error <= IG_THRESHOLD:
            return steps, tried
    return None, tried


def ig_table(model_names: list[str], candidates: tuple[int, ...], log) -> list[str]:
    from explainers.models import MODELS

    lines = [
        "| model | Gauss–Legendre: steps to ≤ 1 % | left Riemann: steps to ≤ 1 % | "
        "Gauss–Legendre error by steps | left Riemann error by steps |",
        "|---|---:|---:|---|---|",
    ]
    for name in model_names:
        found = {}
        for rule in ("gauss_legendre", "riemann_left"):
            started = time.perf_counter()
            found[rule] = steps_needed(name, rule, candidates, log)
            log(f"  IG {name} {rule}: {found[rule][0]} steps ({time.perf_counter() - started:.0f} s)")
        needed = [str(n) if n else f"> {candidates[-1]}" for n, _ in found.values()]
        errors = [", ".join(f"{steps}: {error:.2%}" for steps, error in tried) for _, tried in found.values()]
        lines.append(f"| {MODELS[name].title} | {needed[0]} | {needed[1]} | {errors[0]} | {errors[1]} |")
    return lines


IG_HEADING = "## Integrated gradients: steps needed for ≤ 1 % completeness error"


def render_ig(run: Run, table: list[str], settings: Settings, load_before: str, load_after: str, seconds: float) -> str:
    return "\n".join(
        [
            IG_HEADING,
            "",
            "Completeness error = |Σ attributions − (f(x) − f(black))| / |f(x) − f(black)| (0 in theory), for our "
            "`integrated_gradients` with its default Gauss–Legendre quadrature and with the left Riemann sum "
            "(`quadrature=\"riemann_left\"`, the rule tf-explain uses), on the cat photo, the model's top-1 class, "
            f"seeded random weights; step counts tried in order {', '.join(map(str, settings.ig_table_steps))}, "
            "stopping at the first at or under 1 %. Each entry is one run of `benchmarks/ig_completeness.py` "
            "(imported, for one rule and one step count at a time). Every step is one gradient evaluation, so the "
            "step counts are the cost. The errors do not depend on the machine's load; only the time does.",
            "",
            f"Run {run.started_at:%Y-%m-%d %H:%M} UTC with `{run.command}`; it took {seconds / 60:.0f} min; load "
            f"`{load_before}` at its start, `{load_after}` at its end.",
            "",
            *table,
            "",
        ]
    )
