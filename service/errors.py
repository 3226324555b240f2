"""Errors in the words a person reads: what the UI, the HTTP API and the workers show when a job fails."""

from __future__ import annotations

import logging

from explainers.errors import ExplainerError

log = logging.getLogger(__name__)


class ServiceUnavailableError(ExplainerError):
    """Not the client's fault and not for good: Redis cannot be reached, or the worker computing a job died.

    The HTTP API answers it with 503 and ``Retry-After`` (seconds) instead of a 400."""

    def __init__(self, message: str, retry_after: int = 30):
        super().__init__(message)
        self.retry_after = retry_after


class WorkerStopped(ServiceUnavailableError):
    """The worker process computing a job died (killed, out of memory): the job may be sent again."""


def describe_error(error: BaseException) -> str:
    """The message a person sees: ours as they are, anything else as a calm generic line (logged)."""
    if isinstance(error, ExplainerError):
        return str(error)
    if isinstance(error, MemoryError):
        return "The server ran out of memory for this request. Please try a smaller picture or fewer methods."
    log.exception("unexpected error", exc_info=error)
    return "Something went wrong on the server while computing this. Please try again."
