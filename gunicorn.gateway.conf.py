"""Gunicorn settings for the AI gateway process: gevent workers for /v1/* and /api/chat.

Start with:  gunicorn -c gunicorn.gateway.conf.py "app:create_app()"
             (the image: `gateway`; docker compose and Kubernetes run it as its own service)

A streamed answer holds its connection for seconds to minutes. The web process's gthread
workers hold a thread per request (8 per pod by default), so a few dozen streams would
starve webhooks. Here each request is a greenlet: one worker process holds hundreds of
streams in a few MB each, and the gateway's time is spent waiting on sockets (upstream
and client), which is what gevent is for. gunicorn's gevent worker monkey-patches the
standard library in this worker process only, before the app is imported; the web and
worker processes and the test suite never import gevent. psycopg 3 detects the patching
and waits cooperatively; redis-py and requests use the patched sockets.

Everything else (logging, metrics directory, limits) comes from gunicorn.conf.py. Extra
environment variables:

    GATEWAY_PORT          listen port (8001; HOST as for the web process)
    GATEWAY_WORKERS       gevent worker processes (1; each holds GATEWAY_CONNECTIONS)
    GATEWAY_CONNECTIONS   concurrent connections per worker (1000)
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

_base = runpy.run_path(str(Path(__file__).with_name("gunicorn.conf.py")))
globals().update({name: value for name, value in _base.items() if not name.startswith("__")})

_env_int = _base["_env_int"]
_host = os.environ.get("HOST", "").strip() or "127.0.0.1"
if ":" in _host and not _host.startswith("["):
    _host = f"[{_host}]"
bind = [f"{_host}:{_env_int('GATEWAY_PORT', 8001, minimum=1)}"]
workers = _env_int("GATEWAY_WORKERS", 1, minimum=1)
worker_class = "gevent"
worker_connections = _env_int("GATEWAY_CONNECTIONS", 1000, minimum=1)
proc_name = "openclaw-gateway"
