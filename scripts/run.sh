#!/usr/bin/env bash
# Set up .venv (first time only) and serve the dashboard at http://127.0.0.1:8050 (HOST/PORT to change).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --disable-pip-version-check -q -r requirements.txt
exec .venv/bin/python app.py "$@"
