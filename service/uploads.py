"""The picture an API request carries, read whole or refused: never cut at the limit and stored short.

Three ways to send it: a multipart file field ``image`` (the usual), a ``data:`` URL in the field
``image`` (what a browser's FileReader gives), or the picture itself as the request's body (any other
content type, e.g. ``image/png``). Each is read up to the limit plus one byte; one byte more than the
limit is a 413 "too large", so nothing over the limit is ever decoded or stored.
"""

from __future__ import annotations

import flask

from explainers.errors import ImageError
from service.store import parse_data_url

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class UploadTooLarge(ImageError):
    """The picture is larger than the server accepts (HTTP 413)."""

    def __init__(self, max_bytes: int, size: int | None = None):
        actual = (
            f" (this one is more than {max_bytes / 2**20:.0f} MB)"
            if size is None
            else f" (this one is {size / 2**20:.1f} MB)"
        )
        super().__init__(
            f"This picture is too large{actual}: pictures can be at most "
            f"{max_bytes // 2**20} MB. Please send a smaller one."
        )


def _decoded_size(data_url: str) -> int:
    """How many bytes the base64 part of a data URL holds, without decoding it."""
    payload = data_url.partition(",")[2].strip()
    return len(payload) * 3 // 4 - len(payload) + len(payload.rstrip("="))


def uploaded_bytes(request: flask.Request, max_bytes: int) -> bytes | None:
    """The request's picture bytes; None when it carries none; UploadTooLarge beyond ``max_bytes``;
    ImageError for a data URL that is not one."""
    if request.mimetype in FORM_TYPES:
        upload = request.files.get("image")
        if upload is not None:
            data = upload.stream.read(max_bytes + 1)
        else:
            text = request.form.get("image")
            if not text:
                return None
            if _decoded_size(text) > max_bytes:
                raise UploadTooLarge(max_bytes, _decoded_size(text))
            data = parse_data_url(text, max_bytes)
    else:
        data = request.stream.read(max_bytes + 1)
        if not data:
            return None
    if len(data) > max_bytes:
        raise UploadTooLarge(max_bytes)
    return data
