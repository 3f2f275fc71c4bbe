#!/usr/bin/env bash
# API fuzzing: serve the app (gunicorn, DEBUG off) on a throwaway SQLite database with the demo
# data, then let schemathesis generate requests from the OpenAPI schema at /api/schema/.
# Fails (non-zero) on any 5xx answer or any answer that does not match the schema.
#
# Environment: SCHEMATHESIS_MAX_EXAMPLES (30 per operation), SCHEMATHESIS_SEED (fixed, so a
# failure reproduces), SCHEMATHESIS_TIMEOUT (seconds for the whole run, 480),
# SCHEMATHESIS_USER (admin: every endpoint is open to it).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
WORK=$(mktemp -d "${TMPDIR:-/tmp}/schemathesis-XXXXXX")
SERVER_PID=

cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && grep -qE 'ERROR|CRITICAL|Traceback' "$WORK/gunicorn.log" 2>/dev/null; then
    echo "---- server errors (last 40) ----"
    grep -E 'ERROR|CRITICAL|Traceback' "$WORK/gunicorn.log" | tail -n 40
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

unset DATABASE_URL REDIS_URL
export VAR_DIR="$WORK/var" DEBUG=false ALLOWED_HOSTS=127.0.0.1 SECURE_SSL_REDIRECT=false \
  LOG_LEVEL=WARNING DJANGO_SETTINGS_MODULE=config.settings MFA_REQUIRED_ROLES= \
  HYPOTHESIS_STORAGE_DIRECTORY="$WORK/hypothesis"
SECRET_KEY=$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(50))')
AUDIT_SIGNING_KEY=$("$BIN/python" -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
# A synthetic firm LEI (valid check digits): required with DEBUG off.
REPORTING_FIRM_LEI=TEST00FIRMCI00000015
export SECRET_KEY AUDIT_SIGNING_KEY REPORTING_FIRM_LEI
PORT=$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"

"$BIN/python" manage.py migrate --noinput -v 0
"$BIN/python" manage.py seed_demo --no-history --password demo-pass-2026 >/dev/null

"$BIN/gunicorn" config.wsgi --bind "127.0.0.1:$PORT" --workers 2 --threads 4 \
  --no-control-socket --log-level warning >"$WORK/gunicorn.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 120); do
  "$BIN/python" -c "import urllib.request as u; u.urlopen('$BASE/healthz', timeout=2)" \
    2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server did not start"; exit 1; }
  sleep 0.5
done

USERNAME=${SCHEMATHESIS_USER:-admin}
TOKEN=$("$BIN/python" - "$BASE" "$USERNAME" <<'EOF'
import json, sys, urllib.request

base, username = sys.argv[1], sys.argv[2]
body = json.dumps({"username": username, "password": "demo-pass-2026", "name": "schemathesis"})
req = urllib.request.Request(
    f"{base}/api/v1/auth/token/", body.encode(), {"Content-Type": "application/json"}
)
print(json.load(urllib.request.urlopen(req, timeout=10))["token"])
EOF
)

# The run uses an admin token without a second factor (MFA_REQUIRED_ROLES is emptied above):
# what is fuzzed is the API behind the token; tests/rbac/test_mfa.py covers the second factor.
# Left out, not because they are bugs: the retention purge (it deletes data past retention),
# and the token revocation (it would revoke the very token the rest of the run uses).
timeout --signal INT "${SCHEMATHESIS_TIMEOUT:-480}" "$BIN/schemathesis" run "$BASE/api/schema/" \
  --checks not_a_server_error,response_schema_conformance \
  --header "Authorization: Token $TOKEN" \
  --exclude-path /api/v1/audit/purge/ \
  --exclude-path /api/v1/auth/token/revoke/ \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
  --seed "${SCHEMATHESIS_SEED:-20261121}" \
  --workers 2 \
  --request-timeout 20 \
  --generation-database none \
  --report-dir "$WORK/report" \
  --no-color
