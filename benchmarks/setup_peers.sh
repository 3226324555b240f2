#!/usr/bin/env bash
# Create .venv-peers (the project's requirements + tf-explain, Xplique, tf-keras-vis) for
# benchmarks/compare.py. VENV=path to put it elsewhere. Leaves .venv alone.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv-peers}"
[ -x "$venv/bin/python" ] || python3.11 -m venv "$venv"
"$venv/bin/pip" install --disable-pip-version-check -q -r requirements-peers.txt
# Their metadata pins TensorFlow builds that would replace tensorflow-cpu; they run on it as is.
"$venv/bin/pip" install --disable-pip-version-check -q --no-deps xplique==2.0.2 tf-keras==2.21.0
"$venv/bin/python" - <<'PY'
import importlib.metadata as m
for name in ("tensorflow-cpu", "keras", "tf-explain", "xplique", "tf-keras-vis"):
    print(f"{name} {m.version(name)}")
PY
