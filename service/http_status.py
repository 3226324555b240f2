"""The HTTP status, and its headers, for each refusal the service raises in words (both HTTP route modules use it)."""

from __future__ import annotations

from explainers.errors import ExplainerError
from service.errors import ServiceUnavailableError
from service.jobs import BusyError, QuotaError
from service.uploads import UploadTooLarge


def refusal(problem: Exception) -> tuple[int, dict[str, str]] | None:
    """``(status, headers)`` for a refusal whose words a client may read, or None for anything else."""
    if isinstance(problem, UploadTooLarge):
        return 413, {}
    if isinstance(problem, QuotaError):
        return 429, {"Retry-After": str(problem.retry_after)}
    if isinstance(problem, (BusyError, ServiceUnavailableError)):
        return 503, {"Retry-After": str(problem.retry_after)}
    if isinstance(problem, ExplainerError):
        return 400, {}
    return None
