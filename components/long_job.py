"""The long-job widget, written once: a progress bar with the time left, a Cancel button, and the
job's id and poll timer, for anything on the page that waits for a service job (a card's map, a trust
check, later a set of pictures).

Dash's All-in-One pattern: one ``LongJob`` per kind of owner declares the ids, the layout and the
Cancel callback; every owner (one card, one check) gets its own copy of the widget through
pattern-matching ids ``{"type": "<prefix>-<part>", <key>: owner}``. The owner's callbacks add the
widget's five outputs (``outputs()``) after their own and return one of the widget's answers
(``started``, ``running``, ``ended``, ``unchanged``), so the job's bookkeeping lives here only.
"""
from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import MATCH, Input, Output, State, dcc, html, no_update

from components.common import service
from components.registry import callback

HIDDEN, SHOWN = {"display": "none"}, {"display": "block"}
# the widget's outputs, in the order its answers give them
PARTS = (("job", "data"), ("poll", "disabled"), ("progress-box", "style"), ("progress", "value"),
         ("progress", "label"))


def progress_label(job) -> str:
    """A long job's progress in words: waiting, or the share done and the time left."""
    if job.status == "queued":
        return "waiting for a free worker…"
    left = f" · about {job.eta:.0f} s left" if job.eta is not None and job.progress > 0 else ""
    return f"{job.progress:.0%}{left}"


class LongJob:
    """The widget for one kind of owner.

    ``prefix`` and ``key`` name the ids (``{"type": f"{prefix}-progress", key: owner}``), so the widget's
    parts match the owner's own pattern-matching ids in one callback; ``poll_ms`` is how often a running
    job is asked about, ``inline_wait`` how long a request waits for the job before showing the widget,
    and ``stopped`` what the owner says once Cancel stopped its job.
    """

    def __init__(self, prefix: str, key: str, *, poll_ms: int, inline_wait: float, stopped: str) -> None:
        self.prefix, self.key = prefix, key
        self.poll_ms, self.inline_wait, self.stopped = poll_ms, inline_wait, stopped
        callback(
            Output(self.id("progress"), "label", allow_duplicate=True),
            Input(self.id("cancel"), "n_clicks"),
            State(self.id("job"), "data"),
            prevent_initial_call=True,
        )(self.cancel)

    def id(self, part: str, owner: Any = MATCH) -> dict:
        """The id of one part (job, poll, progress-box, progress, cancel) of ``owner``'s widget."""
        return {"type": f"{self.prefix}-{part}", self.key: owner}

    def layout(self, owner: str, progress_class: str = "card-progress") -> list:
        """The widget's components: hidden until a job runs longer than ``inline_wait``."""
        return [
            html.Div([
                dbc.Progress(id=self.id("progress", owner), value=0, label="", striped=True, animated=True,
                             className=progress_class),
                dbc.Button("Cancel", id=self.id("cancel", owner), size="sm", color="secondary", outline=True,
                           className="mt-1"),
            ], id=self.id("progress-box", owner), style=HIDDEN),
            dcc.Store(id=self.id("job", owner)),
            dcc.Interval(id=self.id("poll", owner), interval=self.poll_ms, disabled=True),
        ]

    def outputs(self, allow_duplicate: bool = False) -> list[Output]:
        """The widget's five outputs, to follow the owner's own in its callbacks."""
        return [Output(self.id(part), prop, allow_duplicate=allow_duplicate) for part, prop in PARTS]

    def job_state(self) -> State:
        return State(self.id("job"), "data")

    def poll_input(self) -> Input:
        return Input(self.id("poll"), "n_intervals")

    # ---- the widget's answers (five values each, in the order of ``outputs``) -------------------------
    @staticmethod
    def started(job) -> tuple:
        """A job still running after the inline wait: show the bar and start polling."""
        return job.id, False, SHOWN, round(job.progress * 100), progress_label(job)

    @staticmethod
    def running(job) -> tuple:
        """A poll while the job runs: move the bar only."""
        return no_update, no_update, no_update, round(job.progress * 100), progress_label(job)

    @staticmethod
    def ended() -> tuple:
        """No job to follow (finished, failed, gone or never started): hide the bar, stop polling."""
        return None, True, HIDDEN, 0, ""

    @staticmethod
    def unchanged() -> tuple:
        return (no_update,) * len(PARTS)

    def cancel(self, clicks, job_id):
        """Cancel pressed: stop the job; the next poll shows it stopped and ends the widget."""
        if clicks and isinstance(job_id, str):
            service().jobs.cancel(job_id, self.stopped)
        return no_update
