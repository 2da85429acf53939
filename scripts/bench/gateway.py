"""Benchmark: the latency the AI gateway adds, against talking to the model server directly and through LiteLLM.

One run sends the same load (non-streaming and streaming chat completions; 1, 50 and 200
concurrent keep-alive clients) to:
  (a) a fake OpenAI-compatible upstream that answers after a fixed delay (asyncio, own process),
  (b) OpenClaw's gateway in front of it: gunicorn.gateway.conf.py (gevent), PostgreSQL + Redis,
      bearer-token auth, limits, metering row and JSON log line per call,
  (c) LiteLLM's proxy in front of it (`litellm[proxy]`, same upstream, logging to stdout, no database,
      a master key as its bearer token since it refuses to start without one),
and prints latency p50/p99, the latency added over (a), time to first token (and added) for
streams, throughput, errors and the peak RSS of (b) and (c).

    .venv/bin/python scripts/bench/gateway.py [--delay-ms 50] [--requests 600] [--litellm PATH]

LiteLLM lives in its own virtualenv (it pins many packages): the default PATH is
~/.cache/openclaw/litellm-venv/bin/litellm; make it with
    python3 -m venv ~/.cache/openclaw/litellm-venv && ~/.cache/openclaw/litellm-venv/bin/pip install 'litellm[proxy]'
or pass --no-litellm. Environment: OPENCLAW_TEST_DATABASE_URL (a scratch database is created and
dropped), OPENCLAW_BENCH_REDIS_URL (default redis://127.0.0.1:6379/6).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PG = os.environ.get("OPENCLAW_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("OPENCLAW_BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
LITELLM = Path.home() / ".cache/openclaw/litellm-venv/bin/litellm"
TOKENS = 8  # streamed content events per answer
CONCURRENCY = (1, 50, 200)


# --- (a) the fake upstream: asyncio, keep-alive, fixed delay ------------------------------------------------------

def _whole(model: str) -> bytes:
    return json.dumps({"id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": model,
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok " * TOKENS},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 12, "completion_tokens": TOKENS, "total_tokens": 12 + TOKENS}}).encode()


def _event(obj: dict[str, object]) -> bytes:
    data = b"data: " + json.dumps(obj).encode() + b"\n\n"
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def _serve_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            path = head.split(b" ", 2)[1]
            body = json.loads(await reader.readexactly(length)) if length else {}
            if path.endswith(b"/models"):
                payload = b'{"object":"list","data":[{"id":"bench","object":"model"}]}'
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)
                continue
            model = str(body.get("model") or "bench")
            if not body.get("stream"):
                await asyncio.sleep(delay)
                payload = _whole(model)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)
                continue
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            await asyncio.sleep(delay)
            base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": model}
            for index in range(TOKENS):
                delta = {"role": "assistant", "content": "ok "} if index == 0 else {"content": "ok "}
                writer.write(_event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}))
                await writer.drain()
                await asyncio.sleep(0.001)
            writer.write(_event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
            if (body.get("stream_options") or {}).get("include_usage"):
                writer.write(_event({**base, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": TOKENS,
                                                                      "total_tokens": 12 + TOKENS}}))
            done = b"data: [DONE]\n\n"
            writer.write(f"{len(done):x}\r\n".encode() + done + b"\r\n0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def serve_upstream(port: int, delay_ms: float) -> None:
    """Run the fake upstream until killed."""
    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: _serve_client(r, w, delay_ms / 1000), "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# --- the load: keep-alive clients on raw asyncio streams ----------------------------------------------------------

@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    first_error: str = ""


async def _read_response(reader: asyncio.StreamReader, started: float, run: Run) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)}
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, bytes(body)
            chunk = await reader.readexactly(size + 2)
            if not body and b"content" in chunk:
                run.ttfts.append((time.perf_counter() - started) * 1000)
            body += chunk[:-2]
    return status, await reader.readexactly(int(headers.get(b"content-length", b"0")))


async def _client(port: int, path: str, request: bytes, count: int, stream: bool, run: Run) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(count):
            started = time.perf_counter()
            try:
                writer.write(request)
                status, body = await _read_response(reader, started, run)
            except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
                run.errors += 1
                run.first_error = run.first_error or f"{type(exc).__name__}: {exc}"
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            ok = status == 200 and (b"[DONE]" in body if stream else b'"choices"' in body)
            if ok:
                run.latencies.append((time.perf_counter() - started) * 1000)
            else:
                run.errors += 1
                run.first_error = run.first_error or f"HTTP {status}: {body[:200]!r}"
    finally:
        writer.close()


def load(port: int, path: str, token: str | None, *, model: str, stream: bool, clients: int, total: int) -> Run:
    """total requests from `clients` concurrent keep-alive connections, as fast as each is answered."""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "ping"}], "stream": stream}).encode()
    auth = f"Authorization: Bearer {token}\r\n".encode() if token else b""
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n").encode() + auth + b"\r\n" + body
    run = Run()
    per_client = max(1, total // clients)

    async def main() -> None:
        started = time.perf_counter()
        await asyncio.gather(*(_client(port, path, request, per_client, stream, run) for _ in range(clients)))
        run.elapsed = time.perf_counter() - started

    asyncio.run(main())
    return run


# --- processes ----------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not listen on {port} within {seconds}s")


def tree_rss_kb(pid: int) -> int:
    """Resident memory of pid and all its descendants, in kB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(c) for c in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


class PeakRss:
    """Samples a process tree's RSS every 50 ms while in use."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kb, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
            self._stop.wait(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def prepare_openclaw(upstream_port: int, workdir: Path) -> tuple[dict[str, str], str, str]:
    """A scratch PostgreSQL database, migrated; an inventory with the bench model; a token. (env, token, db name)."""
    import sqlalchemy as sa
    import yaml

    from app import create_app
    from app.infra.db import db
    from app.users.accounts import create_local_user
    from app.users.tokens import create_token

    name = f"openclaw_bench_gw_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = sa.engine.make_url(PG).set(database=name).render_as_string(hide_password=False)
    inventory = yaml.safe_load((ROOT / "config/openclaw.example.yaml").read_text())
    inventory["models"] = {"bench": {"provider": "openai", "base_url": f"http://127.0.0.1:{upstream_port}",
                                     "think": "pass", "max_concurrency": 1000, "max_queue": 0}}
    inventory["gateway"] = {"users": {"bench": {"requests_per_minute": 0, "concurrency": 0, "tokens_per_day": 0}}}
    (workdir / "inventory.yaml").write_text(yaml.safe_dump(inventory))
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS, "SECRET_KEY": "bench-only-7f3c9a1e5d2b8f6a4c0e9d7b3a1f5e8c", "LOG_LEVEL": "INFO",
           "OPENCLAW_CONFIG": str(workdir / "inventory.yaml"), "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prom")}
    app = create_app({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "OPENCLAW_CONFIG")})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(directory=str(ROOT / "migrations"))
        create_local_user(login="bench", role="user", password="bench-password-1234", actor="bench")
        _row, token = create_token(login="bench", name="bench")
        db.session.remove()
        db.engine.dispose()
    return env, token, name


def drop_database(name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# --- the run --------------------------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay-ms", type=float, default=50.0, help="the upstream's answer delay")
    parser.add_argument("--requests", type=int, default=600, help="requests per (target, mode, concurrency)")
    parser.add_argument("--litellm", help=f"the litellm executable (its own virtualenv; default {LITELLM})")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.litellm is None:  # the default place: compared when installed there, said so when not
        args.litellm = str(LITELLM)
        if not args.no_litellm and not LITELLM.exists():
            print(f"LiteLLM not installed at {LITELLM}: comparing with the direct upstream only (see the "
                  "docstring to install it)", file=sys.stderr)
            args.no_litellm = True
    elif not Path(args.litellm).exists():
        parser.error(f"--litellm {args.litellm}: not found")
    if args.serve_upstream:
        serve_upstream(args.serve_upstream, args.delay_ms)
        return

    procs: list[subprocess.Popen[bytes]] = []
    workdir = Path(tempfile.mkdtemp(prefix="openclaw-bench-gw-"))
    (workdir / "prom").mkdir()
    db_name = None
    try:
        up_port = free_port()
        upstream = subprocess.Popen([sys.executable, __file__, "--serve-upstream", str(up_port), "--delay-ms", str(args.delay_ms)])
        procs.append(upstream)
        wait_port(up_port, upstream, "fake upstream")
        env, token, db_name = prepare_openclaw(up_port, workdir)
        gw_port = free_port()
        env["GATEWAY_PORT"] = str(gw_port)
        gateway = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", str(ROOT / "gunicorn.gateway.conf.py"), "app:create_app()"],
                                   cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(gateway)
        wait_port(gw_port, gateway, "openclaw gateway")
        targets: list[tuple[str, int, str, str | None, subprocess.Popen[bytes] | None]] = [
            ("direct", up_port, "bench", None, None), ("openclaw", gw_port, "bench", token, gateway)]
        if not args.no_litellm:
            lt_port = free_port()
            config = workdir / "litellm.yaml"
            config.write_text(json.dumps({"model_list": [{"model_name": "bench", "litellm_params": {
                "model": "openai/bench", "api_base": f"http://127.0.0.1:{up_port}/v1", "api_key": "none"}}]}))
            master_key = "sk-" + uuid.uuid4().hex + uuid.uuid4().hex  # LiteLLM refuses to start without one
            litellm = subprocess.Popen([args.litellm, "--config", str(config), "--port", str(lt_port), "--host", "127.0.0.1"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       env={**os.environ, "LITELLM_LOG": "INFO", "LITELLM_TELEMETRY": "False",
                                            "LITELLM_MASTER_KEY": master_key})
            procs.append(litellm)
            wait_port(lt_port, litellm, "litellm proxy", seconds=180)
            targets.append(("litellm", lt_port, "bench", master_key, litellm))
        for _name, port, model, tok, _proc in targets[1:]:  # warm up (imports, pools, first queries)
            load(port, "/v1/chat/completions", tok, model=model, stream=False, clients=10, total=50)
            load(port, "/v1/chat/completions", tok, model=model, stream=True, clients=10, total=50)

        print(f"upstream delay {args.delay_ms:.0f} ms, {TOKENS} streamed tokens 1 ms apart; "
              f"{args.requests} requests per cell; load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
        header = (f"{'mode':7} {'clients':>7} {'target':9} {'p50 ms':>8} {'p99 ms':>8} {'+p50':>7} {'+p99':>7} "
                  f"{'ttft50':>7} {'+ttft50':>8} {'+ttft99':>8} {'req/s':>7} {'errors':>6} {'peak RSS MB':>11}")
        print(header)
        print("-" * len(header))
        for stream in (False, True):
            for clients in CONCURRENCY:
                total = max(args.requests // 6, 50) if clients == 1 else args.requests
                base: Run | None = None
                for name, port, model, tok, proc in targets:
                    rss = PeakRss(proc.pid) if proc is not None else None
                    if rss:
                        with rss:
                            run = load(port, "/v1/chat/completions", tok, model=model, stream=stream, clients=clients, total=total)
                    else:
                        run = load(port, "/v1/chat/completions", tok, model=model, stream=stream, clients=clients, total=total)
                    base = base or run
                    added50 = pct(run.latencies, 0.5) - pct(base.latencies, 0.5)
                    added99 = pct(run.latencies, 0.99) - pct(base.latencies, 0.99)
                    ttft = (f"{pct(run.ttfts, 0.5):7.1f} {pct(run.ttfts, 0.5) - pct(base.ttfts, 0.5):8.1f} "
                            f"{pct(run.ttfts, 0.99) - pct(base.ttfts, 0.99):8.1f}") if stream else f"{'':7} {'':8} {'':8}"
                    print(f"{'stream' if stream else 'whole':7} {clients:7d} {name:9} {pct(run.latencies, 0.5):8.1f} "
                          f"{pct(run.latencies, 0.99):8.1f} {added50:7.1f} {added99:7.1f} {ttft} "
                          f"{len(run.latencies) / run.elapsed if run.elapsed else 0:7.0f} {run.errors:6d} "
                          f"{(rss.peak_kb / 1024 if rss else 0):11.0f}" + (f"  first error: {run.first_error}" if run.errors else ""),
                          flush=True)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if db_name:
            drop_database(db_name)


if __name__ == "__main__":
    main()
