"""The saliency dashboard's web app.

``create_app(config)`` builds a fresh Dash app with its own explainer service (tests build their own);
``server`` is the Flask server for gunicorn (``gunicorn app:server``); ``python app.py [--host H]
[--port P]`` serves it directly (``HOST``/``PORT`` environment variables work too). TensorFlow is not
imported here: models load lazily, on first use, inside the serving process.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
from collections.abc import Mapping
from importlib import resources
from typing import Any

import dash
import flask
from werkzeug.middleware.proxy_fix import ProxyFix

from components import layout as page
from components import own_model, registry, set_upload
from components.common import SERVICE_KEY, give_client_cookie
from components.routes import register_routes
from service import ExplainerService, preload, security
from service.http import create_blueprint
from service.store import MAX_REQUEST_BYTES, MAX_UPLOAD_BYTES

log = logging.getLogger("saliency")
BOOTSTRAP_URL = "/vendor/bootstrap.min.css"

DEFAULTS: dict[str, Any] = {
    "weights": os.environ.get("EXPLAINERS_WEIGHTS", "imagenet"),  # "imagenet" or "random" (testing only)
    "weights_dir": os.environ.get("EXPLAINERS_WEIGHTS_DIR") or None,
    "data_dir": os.environ.get("EXPLAINERS_DATA_DIR") or None,
    "model": os.environ.get("EXPLAINERS_MODEL") or None,  # None: VGG16 if ImageNet weights are here, else Shapes
    "debug": False,
    "backend": os.environ.get("EXPLAINER_BACKEND", "local"),  # "local" (embedded) or "celery" (+ REDIS_URL)
    "redis_url": os.environ.get("REDIS_URL") or None,
    # signs the browser's session cookie; set it when several processes serve one page
    "secret_key": os.environ.get("EXPLAINERS_SECRET_KEY") or None,
    "api_keys": os.environ.get("EXPLAINERS_API_KEYS", ""),  # comma-separated; empty: the API is open
    # reverse proxies in front (deploy/nginx.conf): their X-Forwarded-For names the client, for quotas and
    # job ownership; 0 trusts none, so a client cannot claim another's address
    "trusted_proxies": int(os.environ.get("EXPLAINERS_TRUSTED_PROXIES") or 0),
}


def create_app(config: Mapping[str, Any] | None = None) -> dash.Dash:
    """A new dashboard app; ``config`` overrides DEFAULTS (weights, weights_dir, data_dir, model, debug, api_keys)."""
    settings = {**DEFAULTS, **(config or {})}
    preload.import_libraries()  # before any thread of the server starts (see service/preload.py)
    service = settings.get("service") or ExplainerService(
        settings["data_dir"],
        weights=settings["weights"],
        weights_dir=settings["weights_dir"],
        backend=settings["backend"],
        redis_url=settings["redis_url"],
    )
    server = flask.Flask(__name__)
    server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES  # refused with 413 before Dash sees the body
    server.config["MAX_FORM_MEMORY_SIZE"] = MAX_REQUEST_BYTES  # a data URL sent as a form field
    server.extensions[SERVICE_KEY] = service
    if settings["trusted_proxies"] > 0:
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=settings["trusted_proxies"])
    server.secret_key = settings["secret_key"] or secrets.token_hex(32)
    server.after_request(give_client_cookie)  # a browser's jobs are bound to its session cookie
    app = dash.Dash(
        __name__,
        server=server,
        title="Saliency maps",
        update_title=None,
        external_stylesheets=[BOOTSTRAP_URL],
        suppress_callback_exceptions=True,
        assets_folder=os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets"),
    )
    # a function: a new session id per page load, and the default model follows the weights on disk
    app.layout = lambda: page.build(service, settings["model"] or service.default_model())
    registry.attach(app)
    register_routes(server)
    own_model.register(server)  # POST /model-upload: a .keras file, refused over the limit before reading
    set_upload.register(server)  # POST /set-upload: a set's zip or pictures, refused over the set's limit
    server.register_blueprint(create_blueprint())
    security.install(
        server, api_keys=security.parse_api_keys(settings["api_keys"]), inline_script_hashes=app.csp_hashes
    )

    @server.errorhandler(413)
    def too_large(_error):
        megabytes = MAX_UPLOAD_BYTES // (1024 * 1024)
        return _plain_or_json(f"This upload is too large: pictures can be at most {megabytes} MB.", 413)

    @server.errorhandler(500)
    def server_error(_error):
        return _plain_or_json("Something went wrong on the server. Please try again.", 500)

    @server.route(BOOTSTRAP_URL)
    def bootstrap_css():
        # Bootstrap 5's CSS from an installed package, so the page is styled without internet
        css = resources.files("flask_bootstrap") / "static" / "bootstrap5" / "css" / "bootstrap.min.css"
        response = flask.Response(css.read_bytes(), mimetype="text/css")
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    @server.route("/healthz")
    def healthz():
        return {"status": "ok"}

    if settings["debug"]:
        app.enable_dev_tools(debug=True)
    return app


def _plain_or_json(message: str, status: int) -> flask.Response:
    """API clients get {"error": ...}; everyone else a plain line. Never a traceback."""
    if flask.request.path.startswith("/api/"):
        response = flask.jsonify({"error": message})
        response.status_code = status
        return response
    return flask.Response(message + "\n", status=status, mimetype="text/plain")


app = create_app()
server = app.server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the saliency dashboard.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8050")))
    parser.add_argument("--debug", action="store_true", help="Dash dev tools (never on a shared server)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    target = create_app({"debug": True}) if args.debug else app
    if DEFAULTS["backend"] == "local":
        preload.import_model_libraries()  # here, not at `import app`: the module itself stays without TensorFlow
    if os.environ.get("EXPLAINERS_WARM_UP", "1") != "0" and DEFAULTS["backend"] == "local":
        service = target.server.extensions[SERVICE_KEY]
        service.warm_up(DEFAULTS["model"] or service.default_model(), background=True)
    print(f"Serving the dashboard at http://{args.host}:{args.port}/", flush=True)
    target.run(host=args.host, port=args.port, debug=args.debug, threaded=True)


if __name__ == "__main__":
    main()
