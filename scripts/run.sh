#!/usr/bin/env bash
# Serve the web app, a Celery worker and Celery beat together; Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

# Each service runs in its own process group (setsid), so that stopping reaches its children
# too, even those whose parent has already gone. Stopping (Ctrl-C, or TERM): ask every group to
# stop (TERM: the web server finishes its requests, Celery its tasks), wait up to
# STOP_GRACE_SECONDS, then kill whatever is left, so nothing stays behind.
STOP_GRACE_SECONDS=${STOP_GRACE_SECONDS:-6}
GROUPS_STARTED=()

running() { pgrep -g "$(IFS=,; echo "${GROUPS_STARTED[*]}")" >/dev/null 2>&1; }

stop_all() {
  trap - EXIT INT TERM HUP
  [ ${#GROUPS_STARTED[@]} -gt 0 ] || exit 0
  echo "Stopping..."
  local group
  for group in "${GROUPS_STARTED[@]}"; do kill -TERM -- "-$group" 2>/dev/null || true; done
  local until=$((${EPOCHREALTIME/./} + STOP_GRACE_SECONDS * 1000000))
  while running && [ "${EPOCHREALTIME/./}" -lt "$until" ]; do sleep 0.1; done
  for group in "${GROUPS_STARTED[@]}"; do kill -KILL -- "-$group" 2>/dev/null || true; done
  wait 2>/dev/null
  exit 0
}
trap stop_all EXIT INT TERM HUP

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

setsid "$BIN/celery" -A config worker --loglevel INFO --concurrency "${CELERY_CONCURRENCY:-2}" &
GROUPS_STARTED+=($!)
setsid "$BIN/celery" -A config beat --loglevel INFO --pidfile= &
GROUPS_STARTED+=($!)
setsid "$BIN/gunicorn" config.wsgi --config deploy/gunicorn.conf.py --bind "$HOST:$PORT" \
  --workers "${WEB_WORKERS:-2}" --threads 4 &
GROUPS_STARTED+=($!)

echo "Serving on http://$HOST:$PORT (admin at /admin/, API docs at /api/docs/). Ctrl-C stops."
wait -n
