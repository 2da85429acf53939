#!/usr/bin/env bash
# OpenClaw in embedded mode: one process with the web app, the in-process job
# executor, the periodic scheduler and (with FEISHU_APP_ID set) the Feishu long
# connection, on SQLite, with no Redis.
#
#   scripts/run.sh                  listen on 127.0.0.1:8000
#   HOST=0.0.0.0 PORT=9000 scripts/run.sh
#
# First run: creates .venv, installs requirements.lock (hash-checked), creates instance/ with a
# generated SECRET_KEY (instance/secret_key) and alert webhook token
# (instance/alert_webhook_token), migrates instance/openclaw.db and loads
# config/openclaw.yaml (or config/openclaw.example.yaml when that is missing).
# It does not read .env (that file is for docker compose): export settings instead.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
STAMP="$VENV/.openclaw-requirements.sha256"

say() { printf '[run.sh] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# --- virtualenv and dependencies ------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install Python 3.11 or newer"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Python 3.11 or newer is needed ($("$PYTHON" --version 2>&1) found)"
  say "creating virtualenv in .venv"
  "$PYTHON" -m venv "$VENV" || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi

want="$(sha256sum < requirements.lock | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
  # The lock pins every package with hashes (scripts/lock.sh makes it from requirements.txt).
  say "installing requirements.lock into .venv"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --require-hashes -r requirements.lock
  printf '%s\n' "$want" > "$STAMP"
fi

# --- embedded-mode environment --------------------------------------------------
# Everything this process creates is owner-only: instance/ holds the SQLite database (password and
# token hashes, payloads, the audit log) and the generated SECRET_KEY. Older installs are tightened too.
umask 077
mkdir -p instance
chmod 700 instance
for f in instance/secret_key instance/openclaw.db instance/openclaw.db-wal instance/openclaw.db-shm; do
  if [ -e "$f" ]; then chmod 600 "$f"; fi
done
OPENCLAW_CONFIG_SET_BY_USER="${OPENCLAW_CONFIG:-}"

export DATABASE_URL="${DATABASE_URL:-sqlite:///instance/openclaw.db}"

if [ -n "${REDIS_URL:-}" ]; then
  say "ignoring REDIS_URL: embedded mode runs jobs in-process (use gunicorn + flask worker for Redis)"
fi
unset REDIS_URL

# The inventory fallback, instance/secret_key and instance/alert_webhook_token come from
# app/local_defaults.py, the same code every flask command uses.
defaults="$("$VENV/bin/python" -m app.local_defaults)" || die "could not prepare instance/ (see above)"
eval "$defaults"

export HOST="${HOST:-127.0.0.1}"
export PORT="${PORT:-8000}"
# One process, so the web app, in-process jobs and the scheduler share it.
export WEB_CONCURRENCY=1
export GUNICORN_THREADS="${GUNICORN_THREADS:-8}"

# --- database ---------------------------------------------------------------------
say "migrating the database ($DATABASE_URL)"
"$VENV/bin/flask" --app app db upgrade
"$VENV/bin/flask" --app app users sync >/dev/null

# Commands in the "try it" block need the settings that differ from what they would pick alone.
console_env=""
if [ "$DATABASE_URL" != "sqlite:///instance/openclaw.db" ]; then
  console_env+="DATABASE_URL='$DATABASE_URL' "
fi
if [ -n "$OPENCLAW_CONFIG_SET_BY_USER" ]; then
  console_env+="OPENCLAW_CONFIG='$OPENCLAW_CONFIG' "
fi

# How Feishu events arrive: the long connection runs inside this process (no public URL needed).
feishu_line="$("$VENV/bin/python" -c '
from app.config import load_config
c = load_config()
if not c["FEISHU_APP_ID"]:
    print("not connected (set FEISHU_APP_ID and FEISHU_APP_SECRET)")
elif c["FEISHU_TRANSPORT"] == "longconn":
    print("long connection, started inside this process (no public URL needed)")
else:
    print("webhook: point the app at " + c["PUBLIC_URL"] + "/webhook/feishu")
')"

case "$HOST" in
  0.0.0.0 | "::" | "") url_host="127.0.0.1" ;;
  *:*) url_host="[$HOST]" ;;
  *) url_host="$HOST" ;;
esac
base="http://$url_host:$PORT"
model="${LLM_PROVIDER:-ollama} at ${LLM_BASE_URL:-http://127.0.0.1:11434}, model ${LLM_MODEL:-qwen3:32b}"

cat <<EOF

OpenClaw (embedded mode) is starting on http://$HOST:$PORT
  inventory: $OPENCLAW_CONFIG    database: $DATABASE_URL
  assistant: $model
  feishu: $feishu_line

Try it from another terminal in $ROOT:
  ${console_env}.venv/bin/flask --app app chat --as ou_alice "/help"
  ${console_env}.venv/bin/flask --app app chat --as ou_alice "/status"
  curl $base/healthz

The admin web is $base/admin; create the first account, then sign in with it:
  ${console_env}.venv/bin/flask --app app users create admin --role admin

Post a test alert (ALERT_WEBHOOK_TOKEN is the bearer token); it shows on $base/admin/alerts:
  curl -H "Authorization: Bearer $alert_token_shell" -H 'Content-Type: application/json' \\
    -d '{"source": "curl", "host": "web-01", "service": "nginx", "metric": "disk_used", "severity": "warning", "message": "test alert"}' \\
    $base/webhook/alerts

The assistant needs a model server, Ollama or any OpenAI-compatible one. Export its settings in
both terminals (the console answers in its own process) and start again:
  export LLM_BASE_URL=http://127.0.0.1:11434 LLM_MODEL=qwen3:8b
  export LLM_PROVIDER=openai LLM_BASE_URL=http://127.0.0.1:8080/v1 LLM_MODEL=qwen3 LLM_API_KEY=sk-your-key

Stop with Ctrl-C.

EOF

exec "$VENV/bin/gunicorn" -c gunicorn.conf.py "app:create_app()"
