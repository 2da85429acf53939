"""A small HTTP load generator: open-loop at a fixed rate, or closed-loop as fast as possible.

Latency in open-loop mode is measured from each request's *scheduled* start, so a
server that falls behind shows it (no coordinated omission).
"""
from __future__ import annotations

import http.client
import queue
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Request = tuple[str, bytes, dict[str, str]]  # path, body, headers


@dataclass
class Result:
    sent: int
    ok: int
    errors: int
    elapsed: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")


def _post(conn: http.client.HTTPConnection, request: Request) -> int:
    path, body, headers = request
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def run(host: str, port: int, requests: Sequence[Request], *, rate: float | None, duration: float,
        connections: int = 32, expect: Callable[[int], bool] = lambda s: s == 200) -> Result:
    """Send requests (cycled) for duration seconds; rate=None means closed loop."""
    work: queue.Queue[tuple[float, Request] | None] = queue.Queue()
    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0, "sent": 0}
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        while True:
            item = work.get()
            if item is None:
                return
            scheduled, request = item
            try:
                status = _post(conn, request)
                good = expect(status)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
                good = False
            done = time.perf_counter()
            with lock:
                counts["sent"] += 1
                if good:
                    counts["ok"] += 1
                    latencies.append((done - scheduled) * 1000)
                else:
                    counts["errors"] += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    i = 0
    if rate:
        interval = 1.0 / rate
        while (now := time.perf_counter()) - start < duration:
            scheduled = start + i * interval
            if scheduled > now:
                time.sleep(scheduled - now)
            work.put((scheduled, requests[i % len(requests)]))
            i += 1
    else:
        # Closed loop: keep every connection busy until the time is up.
        while time.perf_counter() - start < duration:
            if work.qsize() < connections:
                work.put((time.perf_counter(), requests[i % len(requests)]))
                i += 1
            else:
                time.sleep(0.0005)
    for _ in threads:
        work.put(None)
    for thread in threads:
        thread.join(timeout=15)
    elapsed = time.perf_counter() - start
    return Result(counts["sent"], counts["ok"], counts["errors"], elapsed, latencies)
