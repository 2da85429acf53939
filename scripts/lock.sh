#!/usr/bin/env bash
# Pin the whole dependency tree, with hashes: requirements.lock (runtime) and
# requirements-test.lock (runtime + test tools) from requirements.txt and requirements-test.txt.
#
#   scripts/lock.sh              re-lock after editing requirements*.txt: direct pins win,
#                                transitive pins already in the locks stay unless they must move
#   scripts/lock.sh --upgrade    also move every transitive dependency to its newest release
#
# People edit requirements.txt / requirements-test.txt (direct dependencies, pinned ==);
# the .lock files are generated, never edited by hand. scripts/run.sh, scripts/test.sh and
# the Dockerfile install them with `pip install --require-hashes`, so a changed or
# substituted file on the index cannot be installed. tests/test_lock.py fails when a pin in
# requirements*.txt is missing from the locks (someone forgot to run this).
#
# pip-compile runs in its own virtualenv (.lock-venv, pip-tools pinned below) under the
# Python the image uses (3.11): environment markers are evaluated for that version.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3.11}"
TOOLS="$ROOT/.lock-venv"
PIP_TOOLS="pip-tools==7.7.0"

say() { printf '[lock.sh] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

upgrade=()
case "${1:-}" in
  "") ;;
  --upgrade) upgrade=(--upgrade) ;;
  *) die "usage: scripts/lock.sh [--upgrade]" ;;
esac

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (the locks are made for the image's Python 3.11; set PYTHON=...)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || die "the locks are made for Python 3.11 (the image's); $("$PYTHON" --version 2>&1) found; set PYTHON=..."

if ! "$TOOLS/bin/pip-compile" --version 2>/dev/null | grep -q "version ${PIP_TOOLS#pip-tools==}"; then
  say "creating $TOOLS with $PIP_TOOLS"
  rm -rf "$TOOLS"
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "$PIP_TOOLS"
fi

compile() {  # compile OUTPUT INPUT [pip-compile options...]
  local output="$1" input="$2"
  shift 2
  say "pip-compile $input -> $output"
  # Only the package index counts: a machine's local wheel directory (PIP_FIND_LINKS) would put
  # hashes of local builds into the lock, which no other machine could satisfy.
  env -u PIP_FIND_LINKS CUSTOM_COMPILE_COMMAND="scripts/lock.sh" "$TOOLS/bin/pip-compile" --quiet \
    --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
    "${upgrade[@]}" --output-file "$output" "$@" "$input"
}

compile requirements.lock requirements.txt
# The test lock takes the runtime lock as constraints, so both pin the same versions.
compile requirements-test.lock requirements-test.txt --constraint requirements.lock
say "done: review 'git diff requirements*.lock' and commit both files"
