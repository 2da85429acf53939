"""/logs from Elasticsearch (ELASTICSEARCH_URL) against a stand-in speaking the real _search API."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from app.audit.models import AuditEvent
from app.audit.service import verify
from app.automation.models import ExecutionStatus
from app.automation.pool import POOL
from app.infra.db import db
from tests.automation.conftest import OPS_CHAT, Bot, inventory_for
from tests.automation.fake_es import FakeElasticsearch
from tests.automation.helpers import latest_execution
from tests.automation.sshd import SSHServer, free_port
from tests.automation.test_commands import SECRETS

NOW = datetime.now(UTC)


def stamp(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def doc(minutes_ago: float, message: str, host: str = "web-01", service: str = "nginx") -> dict[str, Any]:
    return {"@timestamp": stamp(minutes_ago), "host": {"name": host}, "service": {"name": service},
            "message": message, "log": {"level": "info"}}


@pytest.fixture(scope="session")
def fake_es() -> Iterator[FakeElasticsearch]:
    server = FakeElasticsearch().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def es_inventory(sshd: SSHServer) -> Path:
    inventory = inventory_for(sshd)
    inventory["services"]["applog"].update({"es_index": "app-logs", "es_service_field": "app"})
    path = sshd.workdir / "inventory-elasticsearch.yaml"
    path.write_text(yaml.safe_dump(inventory))
    return path


@pytest.fixture
def es_bot(make_app: Callable[..., Flask], feishu_server: Any, sshd: SSHServer, fake_es: FakeElasticsearch,
           es_inventory: Path) -> Iterator[Bot]:
    feishu_server.add_chat(OPS_CHAT, members=("ou_alice", "ou_bob", "ou_dave"))
    application = make_app(OPENCLAW_CONFIG=str(es_inventory), FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret",
                           FEISHU_BASE_URL=feishu_server.url, ELASTICSEARCH_URL=fake_es.url + "/",
                           ELASTICSEARCH_TIMEOUT="5")
    application.config.update(SSH_KNOWN_HOSTS=str(sshd.known_hosts), SSH_CONNECT_TIMEOUT=3)
    sshd.clear_calls()
    fake_es.clear()
    with application.app_context():
        yield Bot(application)
        db.session.remove()
    POOL.close_all()


def test_logs_query_shape_and_oldest_first_lines(es_bot: Bot, fake_es: FakeElasticsearch, sshd: SSHServer) -> None:
    fake_es.docs["logs-2026.11.21"] = [
        doc(1, "ready"), doc(3, "warming up"), doc(2, "listening on :80"), doc(4, "started"),
        doc(1.5, "other host", host="web-02"), doc(1.2, "other service", service="shop"),
        doc(600, "too old"),
    ]
    reply = es_bot.say("/logs nginx 3 --host web-01 --since 2h")
    assert reply.text is not None
    [request] = fake_es.requests
    assert request.path == "/logs-*/_search"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "size": 3,
        "sort": [{"@timestamp": {"order": "desc"}}],
        "_source": ["@timestamp", "host.name", "message"],
        "query": {"bool": {"filter": [
            {"term": {"service.name": "nginx"}},
            {"term": {"host.name": "web-01"}},
            {"range": {"@timestamp": {"gte": "now-7200s"}}},
        ]}},
    }
    body = reply.text.splitlines()
    assert body[0] == "== Elasticsearch (logs nginx)"
    assert body[1] == "# 3 of 4 matching lines from logs-*"
    assert body[2:] == [f"{stamp(3)} web-01 warming up", f"{stamp(2)} web-01 listening on :80",
                        f"{stamp(1)} web-01 ready"]
    execution = latest_execution()
    assert execution.status is ExecutionStatus.SUCCEEDED
    [row] = execution.hosts
    assert row.host == "(elasticsearch)" and row.command.startswith("elasticsearch logs")
    assert sshd.calls() == []  # nothing over SSH
    assert verify().ok


def test_index_and_service_field_come_from_the_inventory(es_bot: Bot, fake_es: FakeElasticsearch) -> None:
    fake_es.docs["app-logs"] = [{"@timestamp": stamp(1), "app": "applog", "host": {"name": "web-01"},
                                 "message": "hello from applog"}]
    reply = es_bot.say("/logs applog")
    assert reply.text is not None and "hello from applog" in reply.text
    [request] = fake_es.requests
    assert request.path == "/app-logs/_search"
    assert request.json["size"] == 100
    assert request.json["query"] == {"bool": {"filter": [{"term": {"app": "applog"}}]}}


def test_secrets_in_returned_messages_are_redacted(es_bot: Bot, fake_es: FakeElasticsearch) -> None:
    messages = [
        f"login user=bob password={SECRETS['password']}",
        f"api token={SECRETS['token']} accepted",
        f"Authorization: Bearer {SECRETS['bearer']}",
        f"session {SECRETS['jwt']}",
        f"aws {SECRETS['aws']} {SECRETS['aws_secret']}",
        f"db postgres://shop:{SECRETS['dsn']}@db:5432/shop",
        f"key -----BEGIN OPENSSH PRIVATE KEY-----\n{SECRETS['pem']}\n-----END OPENSSH PRIVATE KEY-----",
        f"git push {SECRETS['github']}",
    ]
    fake_es.docs["logs-app"] = [doc(10 - i, message) for i, message in enumerate(messages)]
    reply = es_bot.say("/logs nginx 50")
    assert reply.text is not None and "login user=bob" in reply.text and "git push" in reply.text
    stored = "\n".join(row.output or "" for row in latest_execution().hosts)
    audit_text = json.dumps([e.details for e in db.session.query(AuditEvent).all()])
    for name, secret in SECRETS.items():
        assert secret not in reply.text, name
        assert secret not in stored, name
        assert secret not in audit_text, name


@pytest.mark.parametrize("grep", [
    'say "hi"',
    '*',
    '"}},{"match_all":{}}]}}, "x": {"',
    'a\\b {c} [d] $e `f` | g; h && i $(j)',
    "OR message:* AND NOT",
])
def test_grep_is_sent_as_a_literal_phrase_value(es_bot: Bot, fake_es: FakeElasticsearch, grep: str) -> None:
    fake_es.docs["logs-app"] = [doc(2, f"before {grep} after"), doc(1, "unrelated line")]
    quoted = "'" + grep + "'"
    reply = es_bot.say(f"/logs nginx 5 --grep {quoted}")
    assert reply.text is not None, reply
    [request] = fake_es.requests
    filters = request.json["query"]["bool"]["filter"]
    assert filters == [{"term": {"service.name": "nginx"}}, {"match_phrase": {"message": grep}}]
    assert json.dumps(grep).encode() in request.body  # one JSON string value, encoder-escaped
    assert f"before {grep} after" in reply.text and "unrelated line" not in reply.text


def test_elasticsearch_errors_give_a_clear_reply(es_bot: Bot, fake_es: FakeElasticsearch) -> None:
    fake_es.docs["logs-app"] = [doc(1, "x")]
    fake_es.fail_with = 503
    reply = es_bot.say("/logs nginx")
    assert reply.text is not None
    assert "Elasticsearch HTTP 503: search_phase_execution_exception all shards failed" in reply.text
    assert latest_execution().status is ExecutionStatus.FAILED

    fake_es.fail_with = None
    es_bot.app.config["ELASTICSEARCH_URL"] = f"http://127.0.0.1:{free_port()}"
    reply = es_bot.say("/logs nginx --grep secret")
    assert reply.text is not None and "Elasticsearch unreachable" in reply.text
    execution = latest_execution()
    assert execution.status is ExecutionStatus.FAILED and "unreachable" in (execution.summary or "")


def test_a_missing_index_is_reported(es_bot: Bot, fake_es: FakeElasticsearch) -> None:
    reply = es_bot.say("/logs nginx")
    assert reply.text is not None and "HTTP 404: index_not_found_exception" in reply.text
