"""Where connectors publish their state, for /readyz, /metrics and the admin overview.

With Redis each connector writes one key with a short expiry, refreshed while it
runs, so every process sees every connector and a dead one disappears. Without
Redis (embedded mode) the connector is a thread of the web process and the state
stays in memory.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from app.infra.redis import get_redis

KEY_PREFIX = "openclaw:feishu:longconn:"
TTL = 90  # seconds; connectors refresh at least every HEARTBEAT
HEARTBEAT = 20

_local: dict[str, dict[str, Any]] = {}
_local_lock = threading.Lock()


@dataclass
class ConnectorStatus:
    """One connector's view of its connection."""

    name: str
    state: str = "starting"  # starting, connecting, connected, waiting, stopped, failed
    connected_since: float | None = None
    last_message_at: float | None = None
    last_pong_at: float | None = None
    reconnects: int = 0
    events: int = 0
    last_error: str | None = None
    updated_at: float = field(default_factory=time.time)

    @property
    def connected(self) -> bool:
        return self.state == "connected"


def publish(status: ConnectorStatus) -> None:
    """Store status (Redis when configured, else this process); never raises."""
    status.updated_at = time.time()
    data = asdict(status)
    redis = get_redis()
    if redis is None:
        with _local_lock:
            _local[status.name] = data
        return
    try:
        redis.set(KEY_PREFIX + status.name, json.dumps(data), ex=TTL)
    except Exception:  # Redis down: the connector keeps serving; health shows it as missing
        pass


def forget(name: str) -> None:
    redis = get_redis()
    if redis is None:
        with _local_lock:
            _local.pop(name, None)
        return
    try:
        redis.delete(KEY_PREFIX + name)
    except Exception:
        pass


def all_statuses() -> list[ConnectorStatus]:
    """Every connector seen within TTL seconds, by name."""
    redis = get_redis()
    if redis is None:
        with _local_lock:
            rows = list(_local.values())
    else:
        keys = sorted(redis.scan_iter(match=KEY_PREFIX + "*", count=100))
        rows = [json.loads(raw) for raw in (redis.mget(keys) if keys else []) if raw]
    now = time.time()
    statuses = [ConnectorStatus(**row) for row in rows if now - float(row.get("updated_at", 0)) <= TTL]
    return sorted(statuses, key=lambda s: s.name)


def summary() -> dict[str, Any]:
    """The compact form for /readyz."""
    try:
        statuses = all_statuses()
    except Exception as exc:  # Redis unreachable: /readyz reports that under checks already
        return {"connected": None, "error": type(exc).__name__, "connectors": []}
    now = time.time()
    return {
        "connected": sum(1 for s in statuses if s.connected),
        "connectors": [
            {
                "name": s.name, "state": s.state, "reconnects": s.reconnects, "events": s.events,
                "last_message_seconds_ago": None if s.last_message_at is None else round(now - s.last_message_at, 1),
                "last_error": s.last_error,
            }
            for s in statuses
        ],
    }
