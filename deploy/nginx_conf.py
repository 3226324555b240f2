"""Render deploy/nginx.conf.template: nginx's body limit and timeouts come from the app's own code, so the
proxy and the app never disagree (one setting each, kept in the code).

    python deploy/nginx_conf.py --write                  # deploy/nginx.conf, as docker-compose.yml mounts it
    python deploy/nginx_conf.py --listen 127.0.0.1:8080 --upstream 127.0.0.1:8050 --state /tmp/nginx
                                                          # a local run (deploy/run_proxied.sh does this)

tests/test_proxy.py checks that deploy/nginx.conf is the template rendered for docker-compose.yml.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TEMPLATE = HERE / "nginx.conf.template"
COMPOSE_CONFIG = HERE / "nginx.conf"
#: docker-compose.yml's nginx: the official image's user and folders, gunicorn in the `web` service
COMPOSE = {
    "listen": "8080",
    "upstream": "web:8050",
    "state": "/var/cache/nginx",
    "error_log": "/var/log/nginx/error.log",
    "access_log": "/var/log/nginx/access.log",
    "user": "nginx",
}
#: nginx waits this much longer than the app's longest wait, so the app (not nginx) answers its own timeouts
READ_MARGIN_SECONDS = 30


def app_limits() -> dict[str, int | str]:
    """The app's request body limits (and the words of a set's and a model's), the longest time it may take to
    answer."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from components.own_model import upload_body_limit
    from service.http import longest_wait
    from service.own_models import TooLarge, upload_limit_bytes
    from service.set_uploads import SetTooLarge
    from service.set_uploads import body_limit as set_upload_limit
    from service.store import MAX_REQUEST_BYTES, MAX_UPLOAD_BYTES

    return {
        "max_body_bytes": MAX_REQUEST_BYTES,
        "model_upload_bytes": upload_body_limit(),
        "set_upload_bytes": set_upload_limit(),
        "set_too_large": str(SetTooLarge()),
        "model_too_large": str(TooLarge(upload_limit_bytes())),
        "max_upload_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
        "longest_wait": int(longest_wait()),
    }


def render(
    listen: str, upstream: str, state: str, error_log: str = "stderr", access_log: str = "off", user: str | None = None
) -> str:
    """The nginx configuration: listen on ``listen``, pass to gunicorn at ``upstream``, temporary files and
    the pid under ``state``; ``access_log`` off by default (gunicorn logs every request too); ``user``: the
    workers' user when nginx starts as root."""
    limits = app_limits()
    values = {
        "listen": listen,
        "upstream": upstream,
        "state": state,
        "error_log": error_log,
        "access_log": access_log,
        "user": f"user {user};\n" if user else "",
        "max_body_bytes": str(limits["max_body_bytes"]),
        "model_upload_bytes": str(limits["model_upload_bytes"]),
        "set_upload_bytes": str(limits["set_upload_bytes"]),
        "read_timeout": str(limits["longest_wait"] + READ_MARGIN_SECONDS),
        "set_too_large": limits["set_too_large"],
        "model_too_large": limits["model_too_large"],
        "too_large": f"This upload is too large: pictures can be at most {limits['max_upload_mb']} MB.",
        "unavailable": "The server is not answering right now. Please try again in a minute.",
    }
    for name, value in values.items():
        if re.search(r"[\"'\\;{}]", value) and name != "user":
            raise ValueError(f"{name} must not contain quotes, backslashes, semicolons or braces: {value!r}")
    text = TEMPLATE.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    left = re.findall(r"\{\{\w+\}\}", text)
    if left:
        raise ValueError(f"the template names values this script does not fill in: {', '.join(sorted(set(left)))}")
    return text


def compose_config() -> str:
    """deploy/nginx.conf: the configuration docker-compose.yml mounts into the nginx service."""
    return render(**COMPOSE)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Render the nginx configuration for the saliency dashboard.")
    parser.add_argument("--write", action="store_true", help="write deploy/nginx.conf for docker-compose.yml")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="address:port nginx listens on")
    parser.add_argument("--upstream", default="127.0.0.1:8050", help="address:port of gunicorn")
    parser.add_argument("--state", default=None, help="folder for nginx's pid and temporary files")
    parser.add_argument("--user", default=None, help="the workers' user (only when nginx starts as root)")
    args = parser.parse_args(argv)
    if args.write:
        COMPOSE_CONFIG.write_text(compose_config(), encoding="utf-8")
        print(f"wrote {COMPOSE_CONFIG.relative_to(ROOT)}")
        return
    if not args.state:
        parser.error("--state is needed (or --write)")
    sys.stdout.write(render(args.listen, args.upstream, str(Path(args.state).resolve()), user=args.user))


if __name__ == "__main__":
    main()
