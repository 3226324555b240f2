"""Errors in the words a person reads: what the UI, the HTTP API and the workers show when a job fails."""
from __future__ import annotations

import logging

from explainers.errors import ExplainerError

log = logging.getLogger(__name__)


def describe_error(error: BaseException) -> str:
    """The message a person sees: ours as they are, anything else as a calm generic line (logged)."""
    if isinstance(error, ExplainerError):
        return str(error)
    if isinstance(error, MemoryError):
        return "The server ran out of memory for this request. Please try a smaller picture or fewer methods."
    log.exception("unexpected error", exc_info=error)
    return "Something went wrong on the server while computing this. Please try again."
