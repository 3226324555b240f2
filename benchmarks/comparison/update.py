"""``--update``: the re-measured rows (with their calls and notes) put in place of theirs in docs/benchmarks.md."""

from __future__ import annotations

import os

from .machine import Run, commit_id, cpu_name, uptime
from .measure import MAX_ROUNDS
from .peers import LIBRARIES
from .render import COMPILE_NOTE, TF_DATA_NOTE, ModelSection


def update(
    previous: str,
    run: Run,
    sections: list[ModelSection],
    calls_seen: dict[str, dict[str, str]],
    wanted: list[str],
    min_seconds: float = 0.0,
) -> str:
    """``previous`` with the re-measured rows (and their calls and notes) put in place of the old ones."""
    lines = previous.splitlines()
    for section in sections:
        model = section.heading.split(" (")[0]
        start = next((i for i, line in enumerate(lines) if line.startswith(model + " (")), None)
        if start is None:  # a model the document did not have: add its section before the calls table
            at = next(i for i, line in enumerate(lines) if line.startswith("## What each library was asked"))
            lines[at:at] = section.markdown().splitlines() + [""]
            continue
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
        lines[start] = section.heading  # what ours compiled with XLA, as in this run
        body = lines[start:end]
        table_end = max(i for i, line in enumerate(body) if line.startswith("|")) + 1
        for _key, line in section.rows:
            label = line.split(" | ")[0].removesuffix(" ¹")
            old = next(
                (i for i, row in enumerate(body[:table_end]) if row.split(" | ")[0].removesuffix(" ¹") == label), None
            )
            if old is None:  # a row the table did not have: before the default view, which stays last
                at = next((i for i, row in enumerate(body[:table_end]) if row.startswith("| default view")), table_end)
                body.insert(at, line)
                table_end += 1
            else:
                body[old] = line
        for note in section.notes:  # a note replaces the old one that starts with the same words (or mark)
            lead = "¹ " if note.startswith("¹ ") else note.split(":")[0].split(",")[0]
            old = next((i for i, row in enumerate(body) if row.startswith(lead)), None)
            if old is None:
                body[table_end:table_end] = ["", note]
            else:
                body[old] = note
        lines[start:end] = body
    for key, calls in calls_seen.items():
        line = (
            f"| {key} | "
            + " | ".join((f"`{calls[lib]}`" if lib in calls else "—").replace("|", "\\|") for lib in LIBRARIES)
            + " |"
        )
        old = next((i for i, row in enumerate(lines) if row.startswith(f"| {key} | ")), None)
        if old is not None:
            lines[old] = line
        else:  # a method the calls table did not have: before its default-view row
            at = next((i for i, row in enumerate(lines) if row.startswith("| default_view | ")), None)
            if at is not None:
                lines.insert(at, line)
    lines = [COMPILE_NOTE if line.startswith("- Ours compiles ") else line for line in lines]
    lines = [line for line in lines if not line.startswith(TF_DATA_NOTE[:24])]
    lines.insert(next(i for i, line in enumerate(lines) if line.startswith("- Ours compiles ")) + 1, TF_DATA_NOTE)
    bullet = (
        f"- **Re-measured** on {run.started_at:%Y-%m-%d %H:%M} UTC at commit {commit_id()} on {os.cpu_count()} "
        f"CPU cores ({cpu_name()}), rows "
        f"{', '.join(wanted)}, with `{run.command}` (load at its start `{run.load_before}`, at its end "
        f"`{uptime()}`)"
        + (
            f"; rows of short calls went on for more rounds until each library's timed calls added up to "
            f"{min_seconds:g} s (at most {MAX_ROUNDS} rounds)"
            if min_seconds > 0
            else ""
        )
        + "; tf.data autotuning off for the peers (see below) in these rows"
        f"{'' if TF_DATA_NOTE in previous else ', where the rows not re-measured since ran with it on'}."
    )
    at = max(
        i
        for i, line in enumerate(lines)
        if line.startswith("- **")
        and i < next(j for j, row in enumerate(lines) if row.startswith("## How it is measured"))
    )
    lines.insert(at + 1, bullet)
    return "\n".join(lines) + "\n"
