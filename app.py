"""The saliency dashboard's web app.

``create_app(config)`` builds a fresh Dash app (tests build their own); ``server`` is the Flask server
for gunicorn (``gunicorn app:server``); ``python app.py [--host H] [--port P]`` serves it directly.
TensorFlow is not imported here: models load lazily, on first use, inside the serving process.
"""
from __future__ import annotations

import argparse
import os
from typing import Any, Mapping

import dash
from dash import html


def create_app(config: Mapping[str, Any] | None = None) -> dash.Dash:
    app = dash.Dash(__name__, title="Saliency maps", update_title=None)
    app.layout = html.Main([
        html.H1("Saliency maps"),
        html.P("The dashboard is on its way. Meanwhile the explainer core works from Python and the command "
               "line: see the README."),
    ])
    return app


app = create_app()
server = app.server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the saliency dashboard.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8050")))
    args = parser.parse_args(argv)
    app.run(host=args.host, port=args.port, debug=False)


if __name__ == "__main__":
    main()
