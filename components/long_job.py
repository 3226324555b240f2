"""The long-job widget, written once: a progress bar with the time left, a line in words for what
the job waits for ("Waiting behind SmoothGrad, about 40 s", "Loading InceptionV3 (first use, …)…",
"Stopped at 40 %."), Cancel and Run again buttons, and the job's id and poll timer, for anything on the
page that waits for a service job (a card's map, a trust check, later a set of pictures).

Jobs belong to the browser's session (``components.common.client_id``): the widget looks up and
cancels only its own, and Cancel withdraws only this browser's interest in a job other people share.

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

from components.common import client_id, service
from components.registry import callback

HIDDEN, SHOWN = {"display": "none"}, {"display": "block"}
# the widget's outputs, in the order its answers give them
PARTS = (
    ("job", "data"),
    ("poll", "disabled"),
    ("progress-box", "style"),
    ("progress", "value"),
    ("progress", "label"),
    ("status", "children"),
    ("progress", "style"),
    ("cancel", "style"),
    ("again", "style"),
)


def progress_label(job) -> str:
    """A running job's share done and the time left (inside the bar)."""
    left = f" · about {job.eta:.0f} s left" if job.eta is not None and job.progress > 0 else ""
    return f"{job.progress:.0%}{left}"


def status_words(job) -> str:
    """What a job is doing when a bar would say nothing: what it waits behind, or its stage (loading a
    model); "" while its bar moves."""
    if job.status == "queued":
        waiting = service().jobs.waiting(job)
        return waiting[:1].upper() + waiting[1:] if waiting else ""
    return job.stage if job.status == "running" and job.progress == 0 and job.stage else ""


def stopped_words(job, client: str) -> str:
    """Where the job stopped for ``client``, and why when it was not this client's own Cancel."""
    stopped = job.stopped_for(client)
    where = f"Stopped at {stopped or 0:.0%}." if stopped else "Stopped before it started."
    if client in job.left or job.error is None:
        return where
    return f"{where} {job.error}"


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

    @staticmethod
    def lookup(job_id: Any):
        """The job ``job_id`` if this browser received it, else None (an id from elsewhere is unknown)."""
        return service().jobs.get(job_id, client_id()) if isinstance(job_id, str) else None

    @staticmethod
    def withdraw(job_id: Any, reason: str) -> None:
        """This browser no longer waits for job ``job_id``; it stops if nobody else does."""
        if isinstance(job_id, str):
            service().jobs.cancel(job_id, reason, client=client_id())

    def layout(self, owner: str, progress_class: str = "card-progress") -> list:
        """The widget's components: hidden until a job runs longer than ``inline_wait``."""
        return [
            html.Div(
                [
                    html.Div(id=self.id("status", owner), className="job-status", role="status"),
                    dbc.Progress(
                        id=self.id("progress", owner),
                        value=0,
                        label="",
                        striped=True,
                        animated=True,
                        className=progress_class,
                    ),
                    dbc.Button(
                        "Cancel",
                        id=self.id("cancel", owner),
                        size="sm",
                        color="secondary",
                        outline=True,
                        className="mt-1",
                    ),
                    dbc.Button(
                        "Run again",
                        id=self.id("again", owner),
                        size="sm",
                        color="primary",
                        className="mt-1",
                        style=HIDDEN,
                    ),
                ],
                id=self.id("progress-box", owner),
                style=HIDDEN,
            ),
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

    def again_input(self) -> Input:
        """Run again pressed (after a Cancel): the owner's request callback listens to it."""
        return Input(self.id("again"), "n_clicks")

    # ---- the widget's answers (one value per part, in the order of ``outputs``) ------------------------
    @staticmethod
    def started(job) -> tuple:
        """A job still running after the inline wait: show the bar (or what it waits for) and poll."""
        words = status_words(job)
        return (
            job.id,
            False,
            SHOWN,
            round(job.progress * 100),
            progress_label(job),
            words,
            HIDDEN if words else SHOWN,
            SHOWN,
            HIDDEN,
        )

    @staticmethod
    def running(job) -> tuple:
        """A poll while the job runs: move the bar, or say what it waits for."""
        words = status_words(job)
        return (
            no_update,
            no_update,
            no_update,
            round(job.progress * 100),
            progress_label(job),
            words,
            HIDDEN if words else SHOWN,
            no_update,
            no_update,
        )

    @staticmethod
    def ended() -> tuple:
        """No job to follow (finished, failed, gone or never started): hide the bar, stop polling."""
        return None, True, HIDDEN, 0, "", "", SHOWN, SHOWN, HIDDEN

    @staticmethod
    def stopped_at(words: str) -> tuple:
        """A job stopped for this browser: say where (``words``), stop polling, offer Run again."""
        return None, True, SHOWN, 0, "", words, HIDDEN, HIDDEN, SHOWN

    @staticmethod
    def unchanged() -> tuple:
        return (no_update,) * len(PARTS)

    def cancel(self, clicks, job_id):
        """Cancel pressed: this browser stops waiting (the job stops unless others still wait for it);
        the next poll shows it stopped, with Run again."""
        if clicks:
            self.withdraw(job_id, self.stopped)
        return no_update
