#!/usr/bin/env bash
# OpenClaw in embedded mode: one process with the web app, the in-process job
# executor and the periodic scheduler, on SQLite, with no Redis.
#
#   scripts/run.sh                  listen on 127.0.0.1:8000
#   HOST=0.0.0.0 PORT=9000 scripts/run.sh
#
# First run: creates .venv, installs requirements.lock (hash-checked), creates instance/ with a
# generated SECRET_KEY (instance/secret_key), migrates instance/openclaw.db and
# loads config/openclaw.yaml (or config/openclaw.example.yaml when that is missing).
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
mkdir -p instance

export DATABASE_URL="${DATABASE_URL:-sqlite:///instance/openclaw.db}"

if [ -n "${REDIS_URL:-}" ]; then
  say "ignoring REDIS_URL: embedded mode runs jobs in-process (use gunicorn + flask worker for Redis)"
fi
unset REDIS_URL

if [ -z "${OPENCLAW_CONFIG:-}" ]; then
  if [ -f config/openclaw.yaml ]; then
    OPENCLAW_CONFIG="config/openclaw.yaml"
  else
    OPENCLAW_CONFIG="config/openclaw.example.yaml"
    say "config/openclaw.yaml not found: using the example inventory ($OPENCLAW_CONFIG)"
  fi
fi
export OPENCLAW_CONFIG

if [ -z "${SECRET_KEY:-}" ]; then
  if [ ! -s instance/secret_key ]; then
    say "generating instance/secret_key"
    (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(48))' > instance/secret_key)
  fi
  chmod 600 instance/secret_key
  SECRET_KEY="$(cat instance/secret_key)"
fi
export SECRET_KEY

export HOST="${HOST:-127.0.0.1}"
export PORT="${PORT:-8000}"
# One process, so the web app, in-process jobs and the scheduler share it.
export WEB_CONCURRENCY=1
export GUNICORN_THREADS="${GUNICORN_THREADS:-8}"

# --- database ---------------------------------------------------------------------
say "migrating the database ($DATABASE_URL)"
"$VENV/bin/flask" --app app db upgrade
"$VENV/bin/flask" --app app users sync >/dev/null

# The console command needs the same settings when they differ from the defaults.
console_env=""
if [ "$OPENCLAW_CONFIG" != "config/openclaw.yaml" ]; then
  console_env+="OPENCLAW_CONFIG=$OPENCLAW_CONFIG "
fi
if [ "$DATABASE_URL" != "sqlite:///instance/openclaw.db" ]; then
  console_env+="DATABASE_URL='$DATABASE_URL' "
fi

case "$HOST" in
  0.0.0.0 | "::" | "") url_host="127.0.0.1" ;;
  *:*) url_host="[$HOST]" ;;
  *) url_host="$HOST" ;;
esac

cat <<EOF

OpenClaw (embedded mode) is starting on http://$HOST:$PORT
  inventory: $OPENCLAW_CONFIG    database: $DATABASE_URL

Try it from another terminal in $ROOT:
  ${console_env}.venv/bin/flask --app app chat --as ou_alice "/help"
  curl http://$url_host:$PORT/healthz

Stop with Ctrl-C.

EOF

exec "$VENV/bin/gunicorn" -c gunicorn.conf.py "app:create_app()"
