"""A set's files as a request carries them, read the same way by the page (``POST /set-upload``) and the
API (``POST /api/v1/sets``): with the set's own body limit instead of the app's small request limit.

A body whose Content-Length is over the set's limit (``EXPLAINER_SET_MAX_MB`` with each file's part and
the form) is refused before a byte of it is read; one without Content-Length is cut off at that size.
Both are ``SetTooLarge`` (HTTP 413), and nothing of the set is stored. The multipart parser keeps large
files on disk while reading, and they are handed on as those files: a zip is read member by member, never
whole, and pictures one at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

import flask
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from explainers.errors import ExplainerError
from service.sets import SetRuns

PART_ALLOWANCE = 1024  # the multipart headers around each file
FORM_ALLOWANCE = 64 * 1024  # the other fields (model, method, ...) and the form's own boundaries


class SetTooLarge(ExplainerError):
    """The set's request is larger than a set may be (HTTP 413)."""

    def __init__(self) -> None:
        megabytes = SetRuns.max_bytes() >> 20
        super().__init__(
            f"This set is too large: a set can be at most {megabytes} MB here. Please send fewer or smaller pictures."
        )


def body_limit() -> int:
    """The largest request body a set's route reads: the set's bytes, each file's part, the form."""
    return SetRuns.max_bytes() + PART_ALLOWANCE * SetRuns.max_files() + FORM_ALLOWANCE


def set_uploads(request: flask.Request, fields: Sequence[str]) -> dict[str, list[FileStorage]]:
    """The uploaded files of each of ``fields`` (in order), the body read with the set's limit in force.
    Raises ``SetTooLarge`` over the limit, ``ExplainerError`` for a body that ends before it should or
    is no form of files."""
    allowance = body_limit()
    if request.content_length is not None and request.content_length > allowance:
        raise SetTooLarge()  # refused before a byte of the body is read
    request.max_content_length = allowance  # a body without Content-Length is cut off here too
    request.max_form_parts = SetRuns.max_files() + 64  # a file per picture, and the fields
    try:
        return {field: request.files.getlist(field) for field in fields}
    except RequestEntityTooLarge:
        if request.content_length is None:
            raise SetTooLarge() from None  # cut off at the limit
        # under the limit but too many parts, or one field (or unparted data) over the app's form memory limit
        raise ExplainerError(
            "This form cannot be read as a set: send the .zip or the pictures as files, and only short fields besides."
        ) from None
    except HTTPException:  # a connection cut before the body's end
        raise ExplainerError("The set did not arrive whole (the upload was cut off). Please send it again.") from None


def set_contents(files: Sequence[tuple[str, FileStorage]]) -> list[tuple[str, IO[bytes]]]:
    """What ``SetRuns.start`` reads, by name: each file as the parser kept it (one ``.zip`` is read member by
    member, pictures one at a time), so no more than one picture of the set is in memory at once."""
    return [(name, upload.stream) for name, upload in files]
