"""Limits with concurrent clients: rate, tokens per day, concurrency per user and per token, upstream queue, the bot."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from app.inventory.schema import Role
from tests.fakes.llm_server import FakeLLMServer, Script
from tests.gateway.conftest import Gateway, models_inventory
from tests.gateway.test_openai import ASK, _post, _wait_calls


def _gateway(serve: Callable[..., Gateway], llm_server: FakeLLMServer, tmp_path: Path, *,
             model: dict[str, Any] | None = None, limits: dict[str, Any] | None = None) -> Gateway:
    models = {"qwen3": {"provider": "openai", "base_url": llm_server.url, **(model or {})}}
    return serve(OPENCLAW_CONFIG=models_inventory(tmp_path, models, limits))


def _together(gw: Gateway, tokens: list[str], body: dict[str, Any] | None = None) -> list[requests.Response]:
    with ThreadPoolExecutor(len(tokens)) as pool:
        return list(pool.map(lambda t: _post(gw, t, body or ASK), tokens))


def test_rate_limit_is_429_with_retry_after(serve: Callable[..., Gateway], llm_server: FakeLLMServer, tmp_path: Path) -> None:
    gw = _gateway(serve, llm_server, tmp_path, limits={"limits": {"requests_per_minute": 3}})
    token = gw.token()
    statuses = sorted(r.status_code for r in _together(gw, [token] * 5))
    assert statuses == [200, 200, 200, 429, 429]
    refused = _post(gw, token, ASK)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"] == {"message": "Rate limit reached: 3 requests per minute. Try again shortly.",
                                       "type": "rate_limit_error", "param": None, "code": "rate_limit_exceeded"}
    other = gw.token("other")  # another person has their own allowance
    assert _post(gw, other, ASK).status_code == 200


def test_concurrency_cap_per_user_default_is_five(serve: Callable[..., Gateway], llm_server: FakeLLMServer,
                                                  tmp_path: Path) -> None:
    gw = _gateway(serve, llm_server, tmp_path)
    llm_server.responder = lambda body: Script(hang_before=0.6)
    token = gw.token()
    results = _together(gw, [token] * 8)
    assert sorted(r.status_code for r in results) == [200] * 5 + [429] * 3
    refused = next(r for r in results if r.status_code == 429)
    assert refused.json()["error"]["code"] == "concurrency_exceeded" and refused.headers["Retry-After"] == "1"
    assert _post(gw, token, ASK).status_code == 200  # the slots came back


def test_tokens_per_day_counts_what_was_used(serve: Callable[..., Gateway], llm_server: FakeLLMServer,
                                             tmp_path: Path) -> None:
    gw = _gateway(serve, llm_server, tmp_path, limits={"limits": {"tokens_per_day": 100}})
    token = gw.token()
    llm_server.responder = lambda body: Script(usage=(42, 7))
    assert [_post(gw, token, ASK).status_code for _ in range(3)] == [200, 200, 200]  # 0, 49, 98 used before each
    refused = _post(gw, token, ASK)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "tokens_exceeded"
    assert int(refused.headers["Retry-After"]) <= 86400


def test_role_and_user_overrides(serve: Callable[..., Gateway], llm_server: FakeLLMServer, tmp_path: Path) -> None:
    limits = {"limits": {"requests_per_minute": 1}, "roles": {"operator": {"requests_per_minute": 3}},
              "users": {"vip": {"requests_per_minute": 0}}}
    gw = _gateway(serve, llm_server, tmp_path, limits=limits)
    user, operator, vip = gw.token("u"), gw.token("op", Role.OPERATOR), gw.token("vip")
    assert [_post(gw, user, ASK).status_code for _ in range(2)] == [200, 429]
    assert [_post(gw, operator, ASK).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert [_post(gw, vip, ASK).status_code for _ in range(5)] == [200] * 5  # 0: unlimited


def test_a_token_can_have_tighter_limits_than_its_owner(serve: Callable[..., Gateway], llm_server: FakeLLMServer,
                                                        tmp_path: Path) -> None:
    gw = _gateway(serve, llm_server, tmp_path)
    narrow = gw.token("dev", name="ci", rate_per_minute=1)
    wide = gw.token("dev", name="ide")
    assert [_post(gw, narrow, ASK).status_code for _ in range(2)] == [200, 429]
    assert _post(gw, wide, ASK).status_code == 200
    rows = _wait_calls(gw, 2)
    assert sorted(r.client for r in rows) == ["ci", "ide"]


def test_upstream_cap_queues_then_refuses(serve: Callable[..., Gateway], llm_server: FakeLLMServer, tmp_path: Path) -> None:
    gw = _gateway(serve, llm_server, tmp_path, model={"max_concurrency": 1, "max_queue": 1, "queue_timeout": 5})
    llm_server.responder = lambda body: Script(hang_before=0.5)
    tokens = [gw.token(f"u{i}") for i in range(3)]  # three people: no per-user limit is involved
    results = _together(gw, tokens)
    assert sorted(r.status_code for r in results) == [200, 200, 429]
    refused = next(r for r in results if r.status_code == 429)
    assert refused.json()["error"]["code"] == "upstream_busy"
    assert len(llm_server.requests) == 2  # the queued request waited for the first and was then served


@pytest.fixture
def bot_app(make_app: Callable[..., Flask], feishu_server: Any, llm_server: FakeLLMServer, tmp_path: Path) -> Flask:
    models = {"qwen3": {"provider": "openai", "base_url": llm_server.url}}
    return make_app(FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret", FEISHU_BASE_URL=feishu_server.url,
                    LLM_PROVIDER="openai", LLM_MODEL="qwen3", LLM_BASE_URL=llm_server.url,
                    OPENCLAW_CONFIG=models_inventory(tmp_path, models, {"users": {"ou_alice": {"requests_per_minute": 2}}}))


def test_the_bots_assistant_shares_the_same_limits_and_metering(bot_app: Flask, llm_server: FakeLLMServer) -> None:
    from app.ai import service as ai
    from app.gateway.governance import RateLimited
    from app.infra.db import db

    gw = Gateway(bot_app, None)  # type: ignore[arg-type]
    with bot_app.test_request_context():
        asker = ai.Asker("ou_alice", "oc_1", "p2p", "admin")
        ai.answer(asker=asker, question="why is the disk full?")
        gw_token = gw.token("alice", Role.ADMIN, open_id="ou_alice")  # the same person's gateway token
        client = bot_app.test_client()
        answered = client.post("/v1/chat/completions", json=ASK, headers=gw.headers(gw_token))
        assert answered.status_code == 200
        answered.close()  # metering runs when the answer is closed
        from app.gateway.meter import get_writer

        get_writer().flush()
        with pytest.raises(RateLimited, match="2 requests per minute"):
            ai.answer(asker=asker, question="and now?")
        refused = client.post("/v1/chat/completions", json=ASK, headers=gw.headers(gw_token))
        assert refused.status_code == 429
        from sqlalchemy import select

        from app.ai.models import LLMCall

        rows = list(db.session.execute(select(LLMCall).order_by(LLMCall.id)).scalars())
        assert [(r.client, r.user_id, r.upstream) for r in rows] == [("bot", "ou_alice", "qwen3"), ("notebook", "ou_alice", "qwen3")]


def test_without_redis_limits_and_revocation_work_in_process(serve: Callable[..., Gateway], llm_server: FakeLLMServer,
                                                             tmp_path: Path) -> None:
    models = {"qwen3": {"provider": "openai", "base_url": llm_server.url}}
    gw = serve(OPENCLAW_CONFIG=models_inventory(tmp_path, models, {"limits": {"requests_per_minute": 2}}), REDIS_URL="")
    token = gw.token()
    assert [_post(gw, token, ASK).status_code for _ in range(3)] == [200, 200, 429]
    other = gw.token("other")
    assert _post(gw, other, ASK).status_code == 200
    with gw.app.app_context():
        from sqlalchemy import select

        from app.infra.db import db
        from app.users.models import ApiToken
        from app.users.tokens import revoke_token

        token_id = db.session.execute(select(ApiToken.id).where(ApiToken.name == "notebook").order_by(ApiToken.id.desc())).scalars().first()
        revoke_token(token_id=token_id, actor="test")
        db.session.remove()
    assert _post(gw, other, ASK).status_code == 401
