"""What every answer of the server carries for the browser's protection, and who may use the HTTP API.

- Headers on every response (page, callbacks, API, pictures, downloads, report): ``nosniff``, a
  Content-Security-Policy the Dash page works under (its few inline scripts are allowed by their hashes,
  nothing else inline runs), frame protection (``frame-ancestors 'self'`` and ``X-Frame-Options``) and a
  Referrer-Policy that keeps picture keys inside the site.
- Optional API keys (``EXPLAINERS_API_KEYS``, comma-separated): when set, ``/api/...`` answers only a
  request with ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``. The page and its own callbacks are
  not the API and stay open to browsers; a deployment that must close the page too puts a login in
  front of the whole site (the reverse proxy).
- API messages never name a file or folder of the server (nor, through its home folder, its user).
"""

from __future__ import annotations

import getpass
import hmac
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import flask

API_PREFIX = "/api/"
# style-src needs 'unsafe-inline': Plotly writes <style> elements and the components set style attributes
_POLICY = (
    "default-src 'self'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "SAMEORIGIN"}
# an absolute path (POSIX, home-relative or Windows) inside a sentence; this API's own addresses are not paths
_PATH = re.compile(r"(?<![\w.:/])(?:~[/\\]?|[A-Za-z]:\\|/(?!api/))(?:[\w.\-+@~]+[/\\]?)+")


def parse_api_keys(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """The keys from a comma-separated string (``EXPLAINERS_API_KEYS``) or a list; blanks dropped."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(key.strip() for key in items if key and key.strip())


def content_security_policy(inline_script_hashes: Sequence[str]) -> str:
    """The policy, with the page's own inline scripts allowed by hash (``'sha256-...'``)."""
    return _POLICY.format(scripts=" ".join(inline_script_hashes)).replace("  ", " ")


def without_paths(text: str) -> str:
    """``text`` with every absolute path replaced by its last part and "on the server" (never a user's home)."""
    home_names = {getpass.getuser(), Path.home().name}

    def hide(found: re.Match) -> str:
        path = found.group(0).rstrip("/\\.")
        full_stop = "." if found.group(0).endswith(".") else ""  # the sentence's, not the path's
        name = re.split(r"[/\\]", path)[-1].lstrip("~") if path else ""
        place = "a folder on the server" if not name or name in home_names else f"“{name}” on the server"
        return place + full_stop

    return _PATH.sub(hide, text)


def _key_matches(given: str, keys: Sequence[str]) -> bool:
    matched = False
    for key in keys:  # every key compared in constant time, so timing says nothing about which one is near
        matched |= hmac.compare_digest(given.encode(), key.encode())
    return matched


def presented_key(request: flask.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("X-API-Key", "").strip()


def install(
    server: flask.Flask, *, api_keys: Iterable[str] = (), inline_script_hashes: Callable[[], Sequence[str]] = tuple
) -> None:
    """Add the headers to every answer of ``server`` and, when ``api_keys`` are given, guard the API.

    ``inline_script_hashes`` is asked once, at the first answer (when every callback is registered).
    """
    keys = parse_api_keys(api_keys)
    server.config["API_KEYS"] = frozenset(keys)  # the API's callers are told apart by these (service.http.caller)
    policy: list[str] = []

    @server.before_request
    def require_api_key():
        if not keys or not flask.request.path.startswith(API_PREFIX):
            return None
        if _key_matches(presented_key(flask.request), keys):
            return None
        response = flask.jsonify(
            {
                "error": "This API needs a key: send it as 'Authorization: Bearer KEY' or "
                "'X-API-Key: KEY'. Ask the server's administrator for one."
            }
        )
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="saliency API"'
        return response

    @server.after_request
    def protective_headers(response: flask.Response) -> flask.Response:
        if not policy:
            policy.append(content_security_policy(list(inline_script_hashes())))
        response.headers.setdefault("Content-Security-Policy", policy[0])
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
