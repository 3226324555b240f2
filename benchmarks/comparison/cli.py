"""The run: read the flags, time every (model, method) for every library, write the document."""

from __future__ import annotations

import argparse
import datetime
import gc
import re
import shlex
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import ROOT
from . import __doc__ as ABOUT
from .ig_steps import IG_HEADING, ig_table, render_ig
from .machine import Run, uptime
from .measure import MAX_ROUNDS, Failure, Timing, measure, short
from .peers import make_setup, no_tf_data_autotune, peer_import_errors
from .render import HEADER, ModelSection, model_table, render
from .rows import COMPARED_METHODS, DEFAULT_VIEW_PEER, FASTEST_MIX, QUICK, Settings, fastest_mix, rows
from .update import update


def main() -> None:
    parser = argparse.ArgumentParser(description=ABOUT.splitlines()[0])
    parser.add_argument("--models", default="vgg16,resnet50,inception_v3", help="comma-separated")
    parser.add_argument(
        "--methods",
        default=",".join(COMPARED_METHODS),
        help=f"comma-separated, from: {', '.join(r.key for r in rows(Settings()))}",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per library after the warm-up")
    parser.add_argument("--slow-repeat", type=int, default=1, help="timed runs for Score-CAM, RISE and LIME")
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=4.0,
        help=f"more rounds (up to {MAX_ROUNDS}) until each library's timed calls add up to this",
    )
    parser.add_argument("--slow-models", default="vgg16", help="models the slow methods run on (comma-separated)")
    parser.add_argument("--quick", action="store_true", help="small sample counts, one timed run: to check it works")
    ig = parser.add_mutually_exclusive_group()
    ig.add_argument(
        "--no-ig", action="store_true", help="skip the integrated-gradients table (an earlier one in --out is kept)"
    )
    ig.add_argument(
        "--ig-only",
        action="store_true",
        help="only the integrated-gradients table (replacing the one in --out; the rest is kept)",
    )
    ig.add_argument(
        "--update",
        action="store_true",
        help="re-measure only --methods and put those rows in place of theirs in --out (no IG table)",
    )
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"), help="markdown file ('' = none)")
    parser.add_argument(
        "--tf-data-autotune",
        action="store_true",
        help="leave tf.data autotuning on for the peers' datasets (it stalls their calls here)",
    )
    args = parser.parse_args()
    if not args.tf_data_autotune:
        no_tf_data_autotune()

    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    run = Run(
        started_at=datetime.datetime.now(datetime.UTC),
        load_before=uptime(),
        clock=time.perf_counter(),
        command=".venv-peers/bin/python benchmarks/compare.py" + "".join(" " + shlex.quote(a) for a in sys.argv[1:]),
    )
    settings = QUICK if args.quick else Settings()
    repeat, slow_repeat = (1, 1) if args.quick else (args.repeat, args.slow_repeat)
    min_seconds = 0.0 if args.quick else args.min_seconds
    wanted = [m.strip() for m in args.methods.split(",") if m.strip()]
    known = {row.key for row in rows(settings)}
    unknown = [m for m in wanted if m not in known]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
    if "default_view" in wanted:  # its peer side is made of these rows' fastest peers
        wanted = [m for m in DEFAULT_VIEW_PEER if m not in wanted] + wanted
    if args.update and not (args.out and Path(args.out).is_file()):
        parser.error("--update needs an existing --out document to update")

    from explainers._tf import keras
    from explainers.models import resolve_model_name

    keras.config.disable_interactive_logging()  # no progress bars from the peers' model.predict
    model_names = [resolve_model_name(m) for m in args.models.split(",") if m.strip()]
    slow_models = {resolve_model_name(m) for m in args.slow_models.split(",") if m.strip()}
    comparison = None
    if not args.ig_only:
        sections, calls_seen, import_errors = compare(
            run, model_names, wanted, slow_models, settings, repeat, slow_repeat, min_seconds
        )
        if not args.update:
            comparison = render(
                run,
                sections,
                calls_seen,
                import_errors,
                repeat,
                slow_repeat,
                sorted(slow_models & set(model_names)),
                min_seconds,
            )
    ig_text = None
    if not (args.no_ig or args.update):
        run.log("integrated gradients: steps to ≤ 1 % completeness error")
        started, load = time.perf_counter(), uptime()
        lines = ig_table(model_names, settings.ig_table_steps, run.log)
        print("\n".join(lines) + "\n", flush=True)
        ig_text = render_ig(run, lines, settings, load, uptime(), time.perf_counter() - started)
    if args.out and args.update:
        out = Path(args.out)
        out.write_text(
            update(out.read_text(encoding="utf-8"), run, sections, calls_seen, wanted, min_seconds), encoding="utf-8"
        )
        run.log(f"updated {out}")
    elif args.out:
        out = Path(args.out)
        # read only now, so that a --no-ig and an --ig-only run may overlap without losing either part
        before_ig, _, old_ig = (out.read_text(encoding="utf-8") if out.is_file() else "").partition(IG_HEADING)
        if comparison is None:
            comparison = before_ig if before_ig.strip() else HEADER + "\n"
        if ig_text is None:
            ig_text = IG_HEADING + old_ig if old_ig else ""
        out.parent.mkdir(parents=True, exist_ok=True)
        text = comparison.rstrip() + "\n\n" + ig_text if ig_text else comparison
        out.write_text(text + other_scripts_sections(out, text), encoding="utf-8")
        run.log(f"wrote {out}")


def other_scripts_sections(out: Path, text: str) -> str:
    """The sections other scripts wrote into ``out`` between their ``<!-- begin: ... -->`` and ``<!-- end:
    ... -->`` markers (``benchmarks/load.py --coalesce``) that ``text`` lacks, to keep after it."""
    old = out.read_text(encoding="utf-8") if out.is_file() else ""
    blocks = re.findall(r"<!-- begin: .*? -->.*?<!-- end: .*? -->", old, flags=re.S)
    return "".join("\n" + block + "\n" for block in blocks if block not in text)


def compare(
    run: Run,
    model_names: list[str],
    wanted: list[str],
    slow_models: set[str],
    settings: Settings,
    repeat: int,
    slow_repeat: int,
    min_seconds: float = 0.0,
) -> tuple[list[ModelSection], dict[str, dict[str, str]], dict[str, Failure]]:
    """Time every (model, method) for every library, alternated."""
    from explainers.models import MODELS

    chosen = [row for row in rows(settings) if row.key in wanted]
    import_errors = peer_import_errors()
    for peer, failure in import_errors.items():
        run.log(f"{peer}: {failure.reason}")
    sections: list[ModelSection] = []
    calls_seen: dict[str, dict[str, str]] = {}
    for name in model_names:
        run.log(f"{name}: building")
        setup = make_setup(name)
        from explainers.compile_policy import FORWARD_BATCHES, GRADIENT_BATCHES, ONE_PICTURE
        from explainers.engine import engine_for

        engine = engine_for(setup.model)
        tuned = engine.tune_passes()  # as the server does at start
        if tuned:
            run.log(
                f"{name}: the default view's plain pass took {tuned[True]:.2f} s with XLA, {tuned[False]:.2f} s "
                f"in graph mode; ours keeps {'XLA' if engine.policy.xla[ONE_PICTURE] else 'graph mode'}"
            )
        tuned = engine.tune_batches(engine.chunk_size())
        if tuned:
            run.log(
                f"{name}: a chunk of gradients took {tuned[True]:.2f} s with XLA, {tuned[False]:.2f} s in graph "
                f"mode; ours keeps {'XLA' if engine.policy.xla[GRADIENT_BATCHES] else 'graph mode'}"
            )
        model_results: dict[str, dict[str, Timing | Failure]] = {}
        table = []
        mix_note = None
        for row in chosen:
            if row.slow and name not in slow_models:
                continue
            label = row.title(setup)
            run.log(f"{name} · {label}")
            cases = dict(row.cases)
            if row.key == "default_view":
                mix = fastest_mix(chosen, model_results)
                if mix is not None:
                    cases[FASTEST_MIX], mix_note = mix
            calls: dict[str, Callable[[], Any] | Failure] = {}
            for library, case in cases.items():
                if library != FASTEST_MIX:
                    calls_seen.setdefault(row.key, {})[library] = case.call
                if library in import_errors:
                    calls[library] = import_errors[library]
                    continue
                try:
                    calls[library] = case.build(setup)
                except Exception as error:  # the peer cannot even set this up: say why in the table
                    calls[library] = Failure(short(error))
            results = measure(calls, slow_repeat if row.slow else repeat, run.log, 0.0 if row.slow else min_seconds)
            model_results[row.key] = results
            table.append((row, results, label))
        spec = MODELS[name]
        heading = (
            f"### {spec.title} ({spec.input_size}×{spec.input_size}, layer {setup.layer}; ours with XLA "
            f"{'on' if engine.policy.xla[ONE_PICTURE] else 'off'} for one-picture passes, "
            f"{'on' if engine.policy.xla[GRADIENT_BATCHES] else 'off'} for many-sample gradient batches, "
            f"{'on' if engine.policy.xla[FORWARD_BATCHES] else 'off'} for forward-only batches)"
        )
        slow_note = slow_repeat != repeat and any(row.slow for row, _, _ in table)
        notes = []
        if mix_note:
            notes.append(
                f"Default view: ours is one `explain_all` call; the fastest peer per map ({mix_note}) runs "
                "those four calls back to back as one timed call, alternated with ours and Xplique's four; "
                "guided Grad-CAM is that guided backprop × that Grad-CAM map, as no peer has it as one "
                "call."
            )
        if slow_note:
            notes.append(
                f"¹ {slow_repeat} timed run{'s' if slow_repeat != 1 else ''} after the warm-up "
                f"(slow method); the other rows: median of {'at least ' if min_seconds > 0 else ''}{repeat}."
            )
        sections.append(ModelSection(heading, model_table(table, slow_note), notes))
        print(sections[-1].markdown() + "\n", flush=True)
        del setup
        gc.collect()
    return sections, calls_seen, import_errors
