#!/usr/bin/env bash
# Serve the web app, a Celery worker and Celery beat together; Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

trap 'trap - EXIT INT TERM; kill 0 2>/dev/null; wait' EXIT INT TERM

# The demo firm's LEI for its MiFIR reports: a made-up one (valid check digits, "DEMO" in it)
# unless REPORTING_FIRM_LEI is set. Settings have no default: a real firm sets its own.
export REPORTING_FIRM_LEI="${REPORTING_FIRM_LEI:-DEMO00FIRMDEMO000068}"
# The demo firm's CAT Reporter IMID for its FINRA CAT files, made up unless CAT_REPORTER_IMID
# is set.
export CAT_REPORTER_IMID="${CAT_REPORTER_IMID:-DEMOIMID}"

# Prometheus multiprocess mode: every process below writes its samples here; start from zero.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-${VAR_DIR:-var}/prometheus}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete

"$BIN/celery" -A config worker --loglevel INFO --concurrency "${CELERY_CONCURRENCY:-2}" &
"$BIN/celery" -A config beat --loglevel INFO --pidfile= &
"$BIN/gunicorn" config.wsgi --config deploy/gunicorn.conf.py --bind "$HOST:$PORT" \
  --workers "${WEB_WORKERS:-2}" --threads 4 &

echo "Serving on http://$HOST:$PORT (admin at /admin/, API docs at /api/docs/). Ctrl-C stops."
wait -n
