"""Can OpenClaw reach what it depends on? One short, side-effect-free probe per dependency."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from sqlalchemy import text

from app.infra.db import db
from app.infra.http import shared_session
from app.infra.redis import get_redis

TIMEOUT = (2.0, 3.0)


@dataclass(frozen=True)
class Reach:
    name: str
    target: str  # what was asked (no credentials)
    state: str  # "ok", "error" or "not configured"
    detail: str = ""
    ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def _timed(name: str, target: str, probe: Any) -> Reach:
    started = time.monotonic()
    try:
        detail = probe() or ""
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return Reach(name, target, "error", f"{type(exc).__name__}: {str(exc)[:160]}",
                     round((time.monotonic() - started) * 1000, 1))
    return Reach(name, target, "ok", detail, round((time.monotonic() - started) * 1000, 1))


def _http(url: str, ok_statuses: tuple[int, ...] = (200,)) -> str:
    response = shared_session().get(url, timeout=TIMEOUT)
    if response.status_code not in ok_statuses:
        raise RuntimeError(f"HTTP {response.status_code}")
    return f"HTTP {response.status_code}"


def database() -> Reach:
    def probe() -> str:
        try:
            db.session.execute(text("SELECT 1"))
        finally:
            db.session.rollback()
        return db.engine.dialect.name

    return _timed("PostgreSQL" if db.engine.dialect.name == "postgresql" else "Database",
                  db.engine.url.render_as_string(hide_password=True).split("@")[-1], probe)


def redis() -> Reach:
    client = get_redis()
    if client is None:
        return Reach("Redis", "", "not configured", "embedded mode: jobs run in-process")
    return _timed("Redis", "REDIS_URL", lambda: "PONG" if client.ping() else "no PONG")


def model_upstream(config: dict[str, Any]) -> Reach:
    """The model server answers its model list (Ollama /api/tags, OpenAI-compatible /v1/models)."""
    base = (config.get("LLM_BASE_URL") or "").rstrip("/")
    if not base:
        return Reach("Model upstream", "", "not configured")
    if config.get("LLM_PROVIDER") == "openai":
        url = f"{base if base.endswith('/v1') else base + '/v1'}/models"
        headers = {"Authorization": f"Bearer {config['LLM_API_KEY']}"} if config.get("LLM_API_KEY") else {}
        return _timed("Model upstream", url, lambda: _get_with(url, headers))
    return _timed("Model upstream", f"{base}/api/tags", lambda: _http(f"{base}/api/tags"))


def _get_with(url: str, headers: dict[str, str]) -> str:
    response = shared_session().get(url, headers=headers, timeout=TIMEOUT)
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}")
    return f"HTTP {response.status_code}"


def feishu(config: dict[str, Any]) -> Reach:
    """The Feishu API host answers (and, with credentials, a tenant token is at hand)."""
    if not config.get("FEISHU_APP_ID"):
        return Reach("Feishu", config.get("FEISHU_BASE_URL", ""), "not configured")
    from app.feishu.wiring import get_client

    return _timed("Feishu", config["FEISHU_BASE_URL"], lambda: "token ok" if get_client().tenant_access_token()
                  else "no token")


def prometheus(config: dict[str, Any]) -> Reach:
    url = config.get("PROMETHEUS_URL")
    if not url:
        return Reach("Prometheus", "", "not configured")
    return _timed("Prometheus", url, lambda: _http(url.rstrip("/") + "/-/ready"))


def elasticsearch(config: dict[str, Any]) -> Reach:
    url = config.get("ELASTICSEARCH_URL")
    if not url:
        return Reach("Elasticsearch", "", "not configured")
    safe = url.split("@")[-1]
    return _timed("Elasticsearch", safe, lambda: _http(url.rstrip("/") + "/"))


def everything(app: Flask | None = None) -> list[Reach]:
    """Every dependency; the HTTP probes run in parallel so the page waits for the slowest only."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    config = dict(app.config)
    local = [database(), redis()]

    def in_context(probe: Any) -> Reach:
        with app.app_context():
            result: Reach = probe(config)
            return result

    with ThreadPoolExecutor(max_workers=4) as pool:
        remote = list(pool.map(in_context, (feishu, model_upstream, prometheus, elasticsearch)))
    return local + remote

