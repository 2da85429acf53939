"""Gunicorn settings for the OpenClaw web process.

Start with:  gunicorn -c gunicorn.conf.py "app:create_app()"

Everything is read from the environment so the same file serves docker compose,
Kubernetes and the embedded mode (scripts/run.sh):

    HOST, PORT                 listen address (127.0.0.1:8000; the Docker image sets HOST=0.0.0.0)
    WEB_CONCURRENCY            worker processes (2)
    GUNICORN_THREADS           threads per worker, gthread (4)
    GUNICORN_TIMEOUT           seconds before a silent worker is killed and restarted (30)
    GUNICORN_GRACEFUL_TIMEOUT  seconds to finish in-flight requests on shutdown (25)
    GUNICORN_KEEPALIVE         idle keep-alive seconds; above nginx's upstream keepalive_timeout (75)
    GUNICORN_CONTROL_SOCKET    path of gunicorn's control socket for `gunicornc` (unset: no socket)
    FORWARDED_ALLOW_IPS        proxies whose X-Forwarded-* headers are trusted (127.0.0.1)
    PROMETHEUS_MULTIPROC_DIR   shared directory for prometheus-client's multiprocess mode
                               (a fresh temporary directory when unset)
    LOG_LEVEL                  gunicorn's own log level (INFO)

Logs: one JSON object per line. The access log goes to stdout, gunicorn's own
messages to stderr. The access log never contains the query string, the request
body, the Referer or any header other than the ones named in ACCESS_FIELDS.
"""

from __future__ import annotations

import datetime as _dt
import glob
import importlib
import json
import logging
import os
import shutil
import tempfile
from typing import Any

from gunicorn.glogging import Logger, SafeAtoms


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"gunicorn.conf.py: {name}={raw!r} is not an integer") from None
    if value < minimum:
        raise SystemExit(f"gunicorn.conf.py: {name}={value} must be at least {minimum}")
    return value


def _bind_address() -> str:
    host = os.environ.get("HOST", "").strip() or "127.0.0.1"
    port = _env_int("PORT", 8000, minimum=1)
    if ":" in host and not host.startswith("["):  # bare IPv6 literal
        host = f"[{host}]"
    return f"{host}:{port}"


# --- server socket and workers ------------------------------------------------

wsgi_app = "app:create_app()"  # the default when no app is named on the command line
bind = [_bind_address()]
workers = _env_int("WEB_CONCURRENCY", 2, minimum=1)
worker_class = "gthread"
threads = _env_int("GUNICORN_THREADS", 4, minimum=1)
timeout = _env_int("GUNICORN_TIMEOUT", 30, minimum=1)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 25, minimum=1)
# Longer than nginx's upstream keepalive_timeout (60s) so that nginx, not gunicorn,
# closes idle upstream connections; otherwise a POST can race a closing socket (502).
keepalive = _env_int("GUNICORN_KEEPALIVE", 75, minimum=0)
# The worker heartbeat file lives in memory: an overlay or network filesystem can
# stall it long enough to get healthy workers killed.
if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
    worker_tmp_dir = "/dev/shm"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "").strip() or "127.0.0.1"
# gunicorn 25+ opens a management socket (worker counts, reload, shutdown) under $HOME by default.
# Nothing here uses it: off unless GUNICORN_CONTROL_SOCKET names where it should live.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
control_socket_disable = not _control_socket
if _control_socket:
    control_socket = _control_socket
proc_name = "openclaw-web"
# Headers and request lines stay small; webhook bodies are capped by nginx (1m).
limit_request_line = 8190
limit_request_fields = 100


# --- logging --------------------------------------------------------------------

loglevel = (os.environ.get("LOG_LEVEL", "").strip() or "INFO").lower()
accesslog = "-"
errorlog = "-"

# Atom names: gunicorn's own (h, m, U, H, s, a, {header}i) plus the extra ones added
# by JsonLogger.atoms (timestamp, pid, bytes, duration_ms, duration_ns). Numbers are left unquoted.
# Field names follow app/infra/logging.py: ECS names (@timestamp, log.level, service.name,
# trace.id = the X-Request-ID the app answered with, event.duration in ns) and the short ones.
ACCESS_FIELDS = {
    "@timestamp": '"%(timestamp)s"',
    "log.level": '"info"',
    "log.logger": '"gunicorn.access"',
    "service.name": '"openclaw"',
    "event.dataset": '"openclaw.access"',
    "trace.id": '"%({x-request-id}o)s"',
    "event.duration": "%(duration_ns)s",
    "timestamp": '"%(timestamp)s"',
    "level": '"info"',
    "logger": '"gunicorn.access"',
    "message": '"%(m)s %(U)s %(s)s"',
    "pid": "%(pid)s",
    "remote_addr": '"%(h)s"',
    "forwarded_for": '"%({x-forwarded-for}i)s"',
    "request_id": '"%({x-request-id}i)s"',
    "method": '"%(m)s"',
    "path": '"%(U)s"',  # PATH_INFO only: never the query string, which may carry tokens
    "protocol": '"%(H)s"',
    "status": "%(s)s",
    "bytes": "%(bytes)s",
    "duration_ms": "%(duration_ms)s",
    "user_agent": '"%(a)s"',
}
access_log_format = "{" + ", ".join(f'"{k}": {v}' for k, v in ACCESS_FIELDS.items()) + "}"

_NUMERIC_ATOMS = {"s", "pid", "bytes", "duration_ms", "duration_ns"}


class JsonAtoms(SafeAtoms):
    """Atoms escaped for a JSON string; numeric atoms are numbers or null."""

    def __init__(self, atoms: dict[str, Any]) -> None:
        dict.__init__(self)
        for key, value in atoms.items():
            if key in _NUMERIC_ATOMS:
                self[key] = _json_number(value)
            elif isinstance(value, str):
                self[key] = json.dumps(value, ensure_ascii=False)[1:-1]
            elif value is None:
                self[key] = "-"
            else:
                self[key] = value


def _json_number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    try:
        return str(int(str(value).split(None, 1)[0]))
    except (ValueError, IndexError):
        return "null"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, for gunicorn's own (error) log."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc).isoformat(timespec="milliseconds")
        entry: dict[str, Any] = {
            "@timestamp": stamp,
            "log.level": record.levelname.lower(),
            "log.logger": record.name,
            "service.name": "openclaw",
            "event.dataset": "openclaw.gunicorn",
            "timestamp": stamp,
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class JsonLogger(Logger):
    """gunicorn's Logger with JSON access lines and JSON error records."""

    atoms_wrapper_class = JsonAtoms

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        handler = self._get_gunicorn_handler(self.error_log)
        if handler is not None:
            handler.setFormatter(JsonFormatter())

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["timestamp"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")
        atoms["pid"] = os.getpid()
        atoms["bytes"] = getattr(resp, "sent", None)
        atoms["duration_ms"] = round(request_time.total_seconds() * 1000, 3)
        atoms["duration_ns"] = int(request_time.total_seconds() * 1_000_000_000)
        return atoms


logger_class = JsonLogger


# --- prometheus-client multiprocess mode and the in-process scheduler -------------

_created_metrics_dir: str | None = None


def on_starting(server: Any) -> None:
    """Prepare PROMETHEUS_MULTIPROC_DIR before any worker imports prometheus_client."""
    global _created_metrics_dir
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if not path:
        path = tempfile.mkdtemp(prefix="openclaw-prometheus-")
        _created_metrics_dir = path
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    os.makedirs(path, exist_ok=True)
    # Files left by a previous run would be summed into this run's counters.
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)
    server.log.info("prometheus multiprocess directory: %s", path)


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges so /metrics does not report them."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker: Any) -> None:
    """Embedded mode: start the scheduler and the Feishu long connection in this process.

    Both are no-ops when REDIS_URL is set (workers and `flask feishu connect` run apart).
    """
    try:
        background = importlib.import_module("app.worker")
        runner = importlib.import_module("app.feishu.longconn.runner")
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("app"):
            raise  # the module exists but one of its own imports is broken
        worker.log.warning("%s not found; in-process scheduler and connector not started", exc.name)
        return
    background.start_in_process_scheduler(worker.wsgi)
    runner.start_embedded(worker.wsgi)


def on_exit(server: Any) -> None:
    """Remove the metrics directory if this master created it."""
    if _created_metrics_dir:
        shutil.rmtree(_created_metrics_dir, ignore_errors=True)
