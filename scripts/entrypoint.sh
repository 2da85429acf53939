#!/usr/bin/env bash
# Container entrypoint for the OpenClaw image.
#
#   web      gunicorn -c gunicorn.conf.py "app:create_app()"   (the default)
#   gateway  gunicorn -c gunicorn.gateway.conf.py "app:create_app()"   (the AI gateway, gevent)
#   worker   flask --app app worker                            (RQ worker + periodic sweep)
#   migrate  flask --app app db upgrade, then users sync        (run once per release)
#   connect  flask --app app feishu connect --idle-if-webhook   (the Feishu long connection)
#   anything else is run as given, e.g. `flask --app app audit verify` or `bash`.
#
# Extra arguments after web/worker/migrate are passed on to the command.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode="${1:-web}"
if [ "$#" -gt 0 ]; then
  shift
fi

case "$mode" in
  web)
    exec gunicorn -c gunicorn.conf.py "$@" "app:create_app()"
    ;;
  gateway)
    exec gunicorn -c gunicorn.gateway.conf.py "$@" "app:create_app()"
    ;;
  worker)
    exec flask --app app worker "$@"
    ;;
  connect)
    exec flask --app app feishu connect --idle-if-webhook "$@"
    ;;
  migrate)
    flask --app app db upgrade "$@"
    exec flask --app app users sync
    ;;
  *)
    exec "$mode" "$@"
    ;;
esac
