#!/usr/bin/env bash
# Serve the dashboard as in production, on this computer: gunicorn (gunicorn.conf.py) on a loopback port,
# behind nginx (deploy/nginx.conf.template), which reads every request in full before gunicorn sees it.
#   bash deploy/run_proxied.sh        # http://127.0.0.1:8050 (HOST/PORT for nginx, APP_PORT for gunicorn)
# Needs the Debian package nginx (apt-get install nginx); Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx_bin" ] || { echo "nginx is not installed (apt-get install nginx)" >&2; exit 1; }
[ -x .venv/bin/gunicorn ] || { echo "run bash scripts/run.sh once first (it sets up .venv)" >&2; exit 1; }

host=${HOST:-127.0.0.1}
port=${PORT:-8050}
app_port=${APP_PORT:-$((port + 1))}
state=$(mktemp -d -t saliency-nginx.XXXXXX)
user=()
[ "$(id -u)" = 0 ] && user=(--user root)  # nginx started as root needs a user for its workers
.venv/bin/python deploy/nginx_conf.py --listen "$host:$port" --upstream "127.0.0.1:$app_port" --state "$state" \
    "${user[@]}" > "$state/nginx.conf"

pids=()
stop() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait
    rm -rf "$state"
}
trap stop EXIT
trap 'exit 130' INT TERM

HOST=127.0.0.1 PORT=$app_port EXPLAINERS_TRUSTED_PROXIES=1 .venv/bin/gunicorn --config gunicorn.conf.py app:server &
pids+=($!)
"$nginx_bin" -p "$state" -c "$state/nginx.conf" -e stderr -g "daemon off;" &
pids+=($!)
echo "serving on http://$host:$port (nginx) -> gunicorn on 127.0.0.1:$app_port"
wait -n  # either one stopping stops both
