"""A small per-process pool of authenticated SSH connections, keyed by host, user, port and key."""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import paramiko

logger = logging.getLogger(__name__)

PoolKey = tuple[Any, ...]


class ConnectionPool:
    """Reuses live SSHClients; dead or idle ones are closed and replaced. Safe across threads and forks."""

    def __init__(self, max_size: int = 64, idle_seconds: float = 300.0) -> None:
        self.max_size = max_size
        self.idle_seconds = idle_seconds
        self._clients: OrderedDict[PoolKey, tuple[paramiko.SSHClient, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[PoolKey, threading.Lock] = {}
        self._pid = os.getpid()

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:  # a forked child must not share the parent's sockets
            self._clients.clear()
            self._key_locks.clear()
            self._pid = os.getpid()

    def get(self, key: PoolKey, connect: Callable[[], paramiko.SSHClient]) -> tuple[paramiko.SSHClient, bool]:
        """A live client for key, connecting when needed; (client, reused)."""
        with self._lock:
            self._check_fork()
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one handshake per key at a time; parallel callers then share the transport
            with self._lock:
                entry = self._clients.get(key)
            if entry is not None:
                client, last_used = entry
                if time.monotonic() - last_used < self.idle_seconds and is_alive(client):
                    self._touch(key, client)
                    return client, True
                self.discard(key, client)
            client = connect()
            self._touch(key, client)
            self._evict()
            return client, False

    def _touch(self, key: PoolKey, client: paramiko.SSHClient) -> None:
        with self._lock:
            self._clients[key] = (client, time.monotonic())
            self._clients.move_to_end(key)

    def _evict(self) -> None:
        with self._lock:
            while len(self._clients) > self.max_size:
                _, (client, _) = self._clients.popitem(last=False)
                client.close()

    def discard(self, key: PoolKey, client: paramiko.SSHClient | None = None) -> None:
        """Forget and close the client for key (when it is the one given, if given)."""
        with self._lock:
            entry = self._clients.get(key)
            if entry is not None and (client is None or entry[0] is client):
                del self._clients[key]
        if client is not None:
            client.close()
        elif entry is not None:
            entry[0].close()

    def close_all(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            clients = [client for client, _ in self._clients.values()]
            self._clients.clear()
        for client in clients:
            client.close()

    def __len__(self) -> int:
        return len(self._clients)


def is_alive(client: paramiko.SSHClient) -> bool:
    """The transport is up, authenticated and still answers a keepalive."""
    transport = client.get_transport()
    if transport is None or not transport.is_active() or not transport.is_authenticated():
        return False
    try:
        transport.send_ignore()
    except (EOFError, OSError, paramiko.SSHException):
        return False
    return True


POOL = ConnectionPool()
