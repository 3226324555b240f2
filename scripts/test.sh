#!/usr/bin/env bash
# Set up .venv (first time only) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --disable-pip-version-check -q -r requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
