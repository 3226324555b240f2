"""What every piece of the page shares: the service of the running app, and turning errors into
plain-language alerts (never a traceback)."""
from __future__ import annotations

import dash_bootstrap_components as dbc
import flask
from dash import html

from service import ExplainerService, describe_error

SERVICE_KEY = "saliency_service"


def service() -> ExplainerService:
    """The service of the app handling the current request (each app built by create_app has its own)."""
    return flask.current_app.extensions[SERVICE_KEY]


def alert(message: str, color: str = "danger", title: str | None = None) -> dbc.Alert:
    """A dismissable alert. Dash renders text escaped, so names sent by the client are safe to show."""
    heading = [html.Strong(f"{title}: ")] if title else []
    return dbc.Alert([*heading, message], color=color, dismissable=True, className="app-alert")


def error_alert(error: BaseException, title: str | None = None) -> dbc.Alert:
    return alert(describe_error(error), "danger", title)

