"""Benchmark: the time the bot adds around the model call, event in -> reply out, minus model time.

A signed, encrypted Feishu event goes to POST /webhook/feishu (in-process test client),
then the worker's job runs it: route, KB retrieval, memory, limits, prompt, the model call
(a local fake server answering at once), metering row, the card reply and its final PATCH
to a local fake Feishu. Model time is the llm_calls row's duration_ms for that event.

    .venv/bin/python scripts/bench/assistant.py [--events 200] [--phases] [--rate 10] [--flood 6] [--no-lanes]

--flood N runs N background threads that send bulk-lane messages (as alert storms and
reminders do) through the same app-wide Feishu limit, flat out, while the events run.
Environment: OPENCLAW_TEST_DATABASE_URL, OPENCLAW_BENCH_REDIS_URL (default redis://127.0.0.1:6379/8, flushed).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import redis as redis_lib
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.feishu.crypto import encrypt, event_signature  # noqa: E402
from app.infra.db import db  # noqa: E402
from tests.fakes.feishu_server import FakeFeishuServer  # noqa: E402
from tests.fakes.llm_server import FakeLLMServer, Script  # noqa: E402

BENCH_SECRET_KEY = "bench-only-7f3c9a1e5d2b8f6a4c0e9d7b3a1f5e8c"  # long enough for load_config outside embedded mode

PG = os.environ.get("OPENCLAW_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("OPENCLAW_BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
TOKEN, KEY = "bench-verification-token", "bench encrypt key"
QUESTIONS = ["nginx keeps giving bad gateway errors", "磁盘满了怎么办", "redis memory is high", "kafka 消息积压",
             "how do I roll back a deploy", "证书快过期了"]


def signed_event(text: str, n: int) -> tuple[str, bytes, dict[str, str]]:
    """An encrypted, signed im.message.receive_v1 push; its event_id, body and headers."""
    event_id = uuid.uuid4().hex
    payload = {
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": "im.message.receive_v1", "create_time": str(int(time.time() * 1000)),
                   "token": TOKEN, "app_id": "cli_test", "tenant_key": "bench"},
        "event": {"sender": {"sender_id": {"open_id": f"ou_bench_{n % 20}"}, "sender_type": "user"},
                  "message": {"message_id": f"om_{uuid.uuid4().hex}", "chat_id": f"oc_bench_{n % 20}", "chat_type": "p2p",
                              "message_type": "text", "content": json.dumps({"text": text}, ensure_ascii=False)}},
    }
    body = json.dumps({"encrypt": encrypt(json.dumps(payload).encode(), KEY, secrets.token_bytes(16))}).encode()
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex
    headers = {"Content-Type": "application/json; charset=utf-8", "X-Lark-Request-Timestamp": timestamp,
               "X-Lark-Request-Nonce": nonce, "X-Lark-Signature": event_signature(timestamp, nonce, KEY, body)}
    return event_id, body, headers


PHASES = {  # module path, attribute: where the bot's time goes (wrapped with --phases)
    "inbox claim+settle": [("app.inbox.service", "claim"), ("app.inbox.service", "settle")],
    "kb retrieval": [("app.ai.service", "retrieve")],
    "  of which search": [("app.kb.search", "search")],
    "  of which df+rank SQL": [("app.kb.search", "_idf"), ("app.kb.search", "_ranked")],
    "metering row": [("app.ai.metering", "record")],
    "card reply": [("app.feishu.client.FeishuClient", "reply_card")],
    "card final patch": [("app.feishu.client.FeishuClient", "update_card")],
    "memory": [("app.ai.memory.ConversationMemory", "load"), ("app.ai.memory.ConversationMemory", "append")],
    "limits": [("app.ai.limits.Limits", "check_message"), ("app.ai.limits.Limits", "add_tokens")],
}


def wrap_phases() -> dict[str, list[float]]:
    """Time the PHASES functions; returns phase -> milliseconds per call."""
    import importlib

    spent: dict[str, list[float]] = {name: [] for name in PHASES}
    for name, targets in PHASES.items():
        for path, attr in targets:
            module_path, _, cls = path.rpartition(".") if path.split(".")[-1][0].isupper() else (path, "", "")
            owner = getattr(importlib.import_module(module_path), cls) if cls else importlib.import_module(path)
            original = getattr(owner, attr)

            def timed(*args: object, _original=original, _name=name, **kwargs: object) -> object:
                started = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    spent[_name].append((time.perf_counter() - started) * 1000)

            setattr(owner, attr, timed)
    return spent


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def flood(app: object, worker: int, stop: threading.Event) -> None:
    """Send bulk-lane texts to many chats until stopped, through the app's own Feishu client."""
    from app.feishu.wiring import get_client
    from app.infra import lanes

    with app.app_context(), lanes.bulk():  # type: ignore[attr-defined]
        feishu_client = get_client()
        n = 0
        while not stop.is_set():
            feishu_client.send_text(f"oc_storm_{worker}_{n % 50}", "storm summary")
            n += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--phases", action="store_true", help="also print where the time goes")
    parser.add_argument("--rate", type=float, default=0,
                        help="events per second (0: back to back, which itself saturates the Feishu limits)")
    parser.add_argument("--flood", type=int, default=0, help="background bulk senders sharing the Feishu limits")
    parser.add_argument("--no-lanes", action="store_true", help="let bulk sends use the whole limit (the old way)")
    opts = parser.parse_args()
    if opts.no_lanes:
        from app.infra import lanes

        lanes.share = lambda rate, reserve: rate  # type: ignore[assignment]
    spent = wrap_phases() if opts.phases else {}

    llm, feishu = FakeLLMServer().start(), FakeFeishuServer().start()
    llm.responder = lambda body: Script(chunks=["Check ", "the ", "logs ", "first."], usage=(400, 20))
    name = f"openclaw_bench_{uuid.uuid4().hex[:8]}"
    environ = {"SECRET_KEY": BENCH_SECRET_KEY, "OPENCLAW_CONFIG": str(ROOT / "tests" / "data" / "inventory.yaml"),
               "FEISHU_APP_ID": "cli_test", "FEISHU_APP_SECRET": "secret", "FEISHU_BASE_URL": feishu.url,
               "FEISHU_VERIFICATION_TOKEN": TOKEN, "FEISHU_ENCRYPT_KEY": KEY, "FEISHU_BOT_OPEN_ID": "ou_bot",
               "LLM_BASE_URL": llm.url, "LLM_RATE_PER_MINUTE": "0", "LOG_LEVEL": "WARNING"}
    # PostgreSQL + Redis, as in production: the queued job stays in Redis and is run below, in this process.
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    environ["DATABASE_URL"] = sa.engine.make_url(PG).set(database=name).render_as_string(hide_password=False)
    environ["REDIS_URL"] = REDIS
    redis_lib.Redis.from_url(REDIS).flushdb()
    app = create_app(environ)
    try:
        with app.app_context():
            from flask_migrate import upgrade

            from app.ai.models import LLMCall
            from app.inbox.models import InboundEvent
            from app.inbox.tasks import process_event
            from app.kb.service import import_dir

            upgrade()
            import_dir(ROOT / "tests" / "data" / "kb", author="bench")
            client = app.test_client()
            stop_flood = threading.Event()
            flooders = [threading.Thread(target=flood, args=(app, w, stop_flood), daemon=True) for w in range(opts.flood)]
            for thread in flooders:
                thread.start()
            added, acks = [], []
            next_at = time.perf_counter()
            for n in range(opts.events + 10):
                if opts.rate:
                    next_at += 1 / opts.rate
                    time.sleep(max(0.0, next_at - time.perf_counter()))
                event_id, body, headers = signed_event(QUESTIONS[n % len(QUESTIONS)], n)
                started = time.perf_counter()
                response = client.post("/webhook/feishu", data=body, headers=headers)
                acked = time.perf_counter()
                assert response.status_code == 200, response.data
                pk = db.session.execute(sa.select(InboundEvent.id).where(InboundEvent.event_id == event_id)).scalar_one()
                looked_up = time.perf_counter()
                process_event(pk)
                done = time.perf_counter()
                db.session.remove()
                model_ms = db.session.execute(
                    sa.select(sa.func.sum(LLMCall.duration_ms)).where(LLMCall.request_id == event_id)).scalar_one()
                if n >= 10:  # warm-up
                    total = (acked - started + done - looked_up) * 1000
                    added.append(total - float(model_ms or 0))
                    acks.append((acked - started) * 1000)
            stop_flood.set()
            for thread in flooders:
                thread.join(timeout=10)
            cards = [m for m in feishu.messages() if m.msg_type == "interactive"]
            bulk = len([m for m in feishu.messages() if m.msg_type == "text"])
            print(f"database: {db.engine.dialect.name}, redis: yes; "
                  f"{len(added)} events, {len(cards)} cards; {opts.flood} bulk senders sent {bulk} messages; "
                  f"load average {os.getloadavg()[0]:.2f}")
            print(f"bot time around the model call: p50 = {statistics.median(added):.1f} ms  p99 = {pct(added, 99):.1f} ms")
            print(f"  of which webhook ack: p50 = {statistics.median(acks):.1f} ms  p99 = {pct(acks, 99):.1f} ms")
            for phase, values in spent.items():
                per_event = sum(values) / max(1, opts.events + 10)
                print(f"  {phase}: {per_event:.1f} ms per event (p50 per call {statistics.median(values or [0]):.1f} ms)")
            db.session.remove()
            db.engine.dispose()
    finally:
        llm.stop()
        feishu.stop()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        redis_lib.Redis.from_url(REDIS).flushdb()


if __name__ == "__main__":
    main()
