"""What every piece of the page shares: the service of the running app, who is asking (the browser's
session cookie), and turning errors into plain-language alerts (never a traceback)."""

from __future__ import annotations

import uuid

import dash_bootstrap_components as dbc
import flask
from dash import html
from itsdangerous import BadSignature, URLSafeSerializer

from service import ExplainerService, describe_error

SERVICE_KEY = "saliency_service"
CLIENT_COOKIE = "saliency_client"  # this browser's session: the jobs it started or joined are its own


def service() -> ExplainerService:
    """The service of the app handling the current request (each app built by create_app has its own)."""
    return flask.current_app.extensions[SERVICE_KEY]


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(flask.current_app.secret_key, salt="saliency-client")


def client_id() -> str:
    """Who is asking, for job ownership and the per-client quota: this browser's session, read from its
    signed cookie; without a valid one, its address (a client cannot name someone else's session)."""
    raw = flask.request.cookies.get(CLIENT_COOKIE)
    if raw:
        try:
            return "session:" + str(_signer().loads(raw))
        except BadSignature:
            pass
    return "ip:" + (flask.request.remote_addr or "unknown")


def give_client_cookie(response: flask.Response) -> flask.Response:
    """Give a browser without a valid session cookie a new one (signed, HttpOnly, SameSite=Lax); the API
    identifies its callers otherwise (service.http.caller)."""
    if flask.request.path.startswith("/api/") or client_id().startswith("session:"):
        return response
    response.set_cookie(
        CLIENT_COOKIE, _signer().dumps(uuid.uuid4().hex), httponly=True, samesite="Lax", secure=flask.request.is_secure
    )
    return response


def alert(message: str, color: str = "danger", title: str | None = None) -> dbc.Alert:
    """A dismissable alert. Dash renders text escaped, so names sent by the client are safe to show."""
    heading = [html.Strong(f"{title}: ")] if title else []
    return dbc.Alert([*heading, message], color=color, dismissable=True, className="app-alert")


def error_alert(error: BaseException, title: str | None = None) -> dbc.Alert:
    return alert(describe_error(error), "danger", title)
