"""Runbooks with several steps: run, check (retried until it passes) and http, stopping at the first failure."""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
import sqlalchemy as sa
import yaml
from flask import Flask

from app.audit.models import AuditEvent
from app.automation import http_step
from app.automation.models import ExecutionHost, ExecutionStatus
from app.automation.plans import plan_run
from app.automation.transport import Outcome
from app.chat.registry import dispatch
from app.chat.types import CommandContext
from app.errors import ConfigError, UsageError
from app.infra.db import db
from app.inventory.loader import parse_inventory
from tests.automation.helpers import latest_execution
from tests.automation.sshd import free_port

TOKEN_ENV = "OPENCLAW_TEST_CI_TOKEN"
TOKEN = "ci-9f8e7d6c5b4a-secret"
OPS_CHAT = "oc_ops"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ApiServer:
    """A local HTTP server standing in for a CI/CD API: records each request; routes by path."""

    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _handler(server: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            server.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
            if self.path.startswith("/slow"):
                time.sleep(3)
            if self.path.startswith("/ok"):
                # Echo what was received, the secret in a field redact() would not recognise by name.
                status, payload = 201, {"queued": True, "seen": self.headers.get("Authorization", "").removeprefix("Bearer "),
                                        "body": body.decode()}
            elif self.path.startswith("/missing"):
                status, payload = 404, {"error": "no such job"}
            else:
                status, payload = 200, {"ok": True}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _answer

    return Handler


@pytest.fixture(scope="module")
def api() -> Iterator[ApiServer]:
    server = ApiServer(port=free_port())
    server.httpd = ThreadingHTTPServer(("127.0.0.1", server.port), _handler(server))
    server.httpd.daemon_threads = True
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def inventory(api: ApiServer, workdir: Path) -> dict[str, Any]:
    flaky = workdir / "flaky.sh"
    flaky.write_text(f'n=$(cat {workdir}/count 2>/dev/null || echo 0); n=$((n+1)); echo "$n" > {workdir}/count\n'
                     'echo "attempt $n"; [ "$n" -ge 3 ]\n')
    return {
        "users": [{"open_id": "ou_bob", "name": "Bob", "role": "operator"}],
        "hosts": {"local": {"transport": "local"}},
        "runbooks": {
            "trigger": {
                "role": "operator",
                "args": {"job": {"pattern": "^.+$"}, "ref": {}, "note": {"required": False}},
                "steps": [{"http": {
                    "method": "POST", "url": api.url + "/ok/{job}?ref={ref}",
                    "headers": {"Authorization": "Bearer ${env:" + TOKEN_ENV + "}"},
                    "json": {"ref": "{ref}", "note": "{note}", "by": "openclaw", "job": "{job}"}, "expect": 201,
                }}],
            },
            "not-found": {
                "hosts": ["local"],
                "steps": [{"run": f"touch {workdir}/before"},
                          {"http": {"url": api.url + "/missing"}},
                          {"run": f"touch {workdir}/after"}],
            },
            "slow": {"steps": [{"http": {"url": api.url + "/slow", "timeout": "1s"}}]},
            "flaky": {
                "hosts": ["local"],
                "steps": [{"run": "echo starting"},
                          {"check": f"sh {flaky}", "retries": 5, "interval": "1s", "timeout": "30s"},
                          {"http": {"method": "PUT", "url": api.url + "/done"}}],
            },
            "never-ready": {
                "hosts": ["local"],
                "steps": [{"check": "false", "retries": 2, "interval": "1s"},
                          {"run": f"touch {workdir}/after"}],
            },
            "legacy": {"hosts": ["local"], "run": "echo one step"},
        },
    }


@pytest.fixture
def steps_app(make_app: Callable[..., Flask], feishu_server: Any, api: ApiServer, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    feishu_server.add_chat(OPS_CHAT, members=("ou_bob",))
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory(api, tmp_path)))
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    api.seen.clear()
    application = make_app(OPENCLAW_CONFIG=str(path), FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret",
                           FEISHU_BASE_URL=feishu_server.url)
    application.config.update(EXECUTION_HEARTBEAT=0.2)
    with application.app_context():
        yield application
        db.session.remove()


@pytest.fixture
def run(steps_app: Flask, redis_client: redis_lib.Redis) -> Callable[[str], Any]:
    """Say a /run command as Bob, then run the queued job now."""
    from rq import SimpleWorker

    from app.infra import queue as queue_module

    def say(text: str) -> str:
        ctx = CommandContext(open_id="ou_bob", role=_role("ou_bob"), chat_id=OPS_CHAT, chat_type="group",
                             message_id="om_test", event_id=f"ev-{time.monotonic_ns()}")
        reply = dispatch(ctx, text).text or ""
        queue_module._worker_app = steps_app
        queues = list(steps_app.extensions[queue_module.EXTENSION].queues.values())
        SimpleWorker(queues, connection=redis_client).work(burst=True, with_scheduler=False)
        db.session.expire_all()
        return reply

    return say


def _role(open_id: str) -> Any:
    from app.users.service import role_of

    return role_of(open_id)


def rows(execution_id: int) -> list[ExecutionHost]:
    return list(db.session.scalars(sa.select(ExecutionHost).where(ExecutionHost.execution_id == execution_id)
                                   .order_by(ExecutionHost.id)))


def test_an_http_step_sends_the_declared_call_with_the_secret_and_records_it_redacted(
    run: Callable[[str], str], api: ApiServer, feishu_server: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    assert "queued" in run("/run trigger job=build-42 ref=release/1.2")
    execution = latest_execution()
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.summary
    [call] = api.seen
    assert (call.method, call.path) == ("POST", "/ok/build-42?ref=release%2F1.2")
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"  # resolved at run time
    assert call.headers["Content-Type"] == "application/json"
    assert json.loads(call.body) == {"ref": "release/1.2", "note": None, "by": "openclaw", "job": "build-42"}
    [row] = rows(execution.id)
    assert (row.step_name, row.outcome, row.host) == ("1. http", "ok", f"127.0.0.1:{api.port}")
    assert row.output.startswith("HTTP 201 Created\n") and '"queued": true' in row.output
    assert '"seen": "***"' in row.output  # the echoed secret is masked
    # The secret is nowhere: not in the database, the audit log, the logs or anything sent to Feishu.
    stored = json.dumps([[r.command, r.output, r.error] for r in rows(execution.id)])
    audit = json.dumps([a.details for a in db.session.scalars(sa.select(AuditEvent))], default=str)
    sent = json.dumps([m.__dict__ for m in feishu_server.messages()], default=str)
    for where in (stored, audit, execution.summary or "", caplog.text, sent):
        assert TOKEN not in where
    assert f"1. http on 127.0.0.1:{api.port}: POST {api.url}/ok/build-42?ref=release%2F1.2" in audit


def test_a_4xx_answer_fails_the_step_and_stops_the_runbook(run: Callable[[str], str], api: ApiServer,
                                                            tmp_path: Path) -> None:
    run("/run not-found")
    execution = latest_execution()
    assert execution.status is ExecutionStatus.FAILED
    assert [(r.step_name, r.outcome) for r in rows(execution.id)] == [("1. run", "ok"), ("2. http", "failed")]
    failed = rows(execution.id)[1]
    assert failed.error == "HTTP 404, expected 200" and "no such job" in failed.output
    assert (tmp_path / "before").exists() and not (tmp_path / "after").exists()  # stopped at the first failure
    assert "2. http" in (execution.summary or "") and "HTTP 404" in (execution.summary or "")


def test_an_http_step_that_gets_no_answer_in_time_times_out(run: Callable[[str], str], api: ApiServer) -> None:
    started = time.monotonic()
    run("/run slow")
    execution = latest_execution()
    assert execution.status is ExecutionStatus.FAILED
    [row] = rows(execution.id)
    assert (row.outcome, row.error) == ("timeout", "no answer within 1s")
    assert len(api.seen) == 1  # sent once, never retried
    assert time.monotonic() - started < 2.9


def test_a_check_step_is_retried_until_it_passes_then_the_next_step_runs(
    run: Callable[[str], str], api: ApiServer, feishu_server: Any,
) -> None:
    run("/run flaky")
    execution = latest_execution()
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.summary
    assert [(r.step_name, r.outcome) for r in rows(execution.id)] == [
        ("1. run", "ok"), ("2. check", "ok"), ("3. http", "ok")]
    assert rows(execution.id)[1].output == "attempt 3\n"
    assert [(s.method, s.path) for s in api.seen] == [("PUT", "/done")]
    # The progress card names every step with its mark.
    [card] = [m for m in feishu_server.messages() if m.msg_type == "interactive"]
    final = json.dumps(card.updates[-1], ensure_ascii=False)
    for line in ("**1. run**  ✅ local", "**2. check**  ✅ local", f"**3. http**  ✅ 127.0.0.1:{api.port}"):
        assert line in final


def test_a_check_that_never_passes_fails_after_its_retries_and_stops(run: Callable[[str], str],
                                                                     tmp_path: Path) -> None:
    started = time.monotonic()
    run("/run never-ready")
    execution = latest_execution()
    assert execution.status is ExecutionStatus.FAILED
    [row] = rows(execution.id)
    assert (row.step_name, row.outcome, row.error) == ("1. check", "failed", "exit 1, after 3 attempts")
    assert 2.0 <= time.monotonic() - started < 10
    assert not (tmp_path / "after").exists()


def test_the_single_run_form_still_works_as_one_step(run: Callable[[str], str]) -> None:
    run("/run legacy")
    execution = latest_execution()
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert [(r.step_name, r.output) for r in rows(execution.id)] == [("run", "one step\n")]


@pytest.mark.parametrize("value", ["a;rm -rf /", "$(id)", "x`id`", "a\nb", "-rf", "../../admin", "a|b"])
def test_injection_attempts_in_arguments_are_refused_before_anything_runs(
    run: Callable[[str], str], api: ApiServer, value: str,
) -> None:
    reply = run(f"/run trigger job=ok ref='{value}'")
    assert "queued" not in reply
    assert api.seen == []


@pytest.mark.parametrize("value", ["${env:" + TOKEN_ENV + "}", "x${env:SECRET_KEY}", "${"])
def test_an_argument_cannot_name_an_environment_variable(run: Callable[[str], str], api: ApiServer,
                                                         value: str) -> None:
    reply = run(f"/run trigger job='{value}' ref=main")
    assert "may not contain '${'" in reply and "queued" not in reply
    assert api.seen == []


@pytest.mark.parametrize("value", ["a?admin=1", "x/../../y", "@evil.example", "a#frag", "%2e%2e"])
def test_a_url_argument_stays_one_path_segment(steps_app: Flask, api: ApiServer, value: str) -> None:
    from app.inventory import get_inventory

    try:
        plan = plan_run(get_inventory(), "trigger", {"job": value, "ref": "main"})
    except UsageError:
        return  # refused outright is fine too
    [step] = plan.steps
    assert isinstance(step.command, http_step.HttpRequest)
    url = step.command.url
    assert url.startswith(f"{api.url}/ok/") and url.endswith("?ref=main")
    segment = url.removeprefix(f"{api.url}/ok/").removesuffix("?ref=main")
    assert "/" not in segment and "?" not in segment and "#" not in segment and "@" not in segment


def test_a_missing_secret_fails_the_step_without_sending_anything(
    run: Callable[[str], str], api: ApiServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    run("/run trigger job=b ref=main")
    execution = latest_execution()
    [row] = rows(execution.id)
    assert row.error == f"environment variable {TOKEN_ENV} is not set; nothing was sent"
    assert api.seen == []


def test_the_plan_holds_the_secret_reference_never_its_value(steps_app: Flask) -> None:
    from app.inventory import get_inventory

    plan = plan_run(get_inventory(), "trigger", {"job": "b", "ref": "main"})
    assert TOKEN not in json.dumps([s.to_json() for s in plan.steps])
    assert plan.describe() == [f"1. http on {plan.steps[0].command.host}: POST "  # type: ignore[union-attr]
                               f"{plan.steps[0].command.url}"]  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="runs nothing on hosts"):
        plan_run(get_inventory(), "trigger", {"job": "b", "ref": "main"}, host="local")


def test_masking_covers_secrets_redact_would_not_recognise() -> None:
    assert http_step.mask("echo plain-value-123 and more", ["plain-value-123"]) == "echo *** and more"
    assert http_step.mask("short ab", ["ab"]) == "short ab"  # too short to mask blindly


# -- the inventory: strict, each mistake named ----------------------------------------------------


def _load(runbook: dict[str, Any]) -> None:
    parse_inventory(yaml.safe_dump({"hosts": {"local": {"transport": "local"}}, "runbooks": {"rb": runbook}}),
                    "inv.yaml")


@pytest.mark.parametrize(("runbook", "reason"), [
    ({"run": "x", "steps": [{"run": "y"}]}, "runbooks.rb: a runbook has exactly one of run or steps"),
    ({}, "a runbook has exactly one of run or steps"),
    ({"steps": [{"run": "a", "check": "b"}]}, "a step has exactly one of run, check or http"),
    ({"steps": [{"run": "a", "retries": 3}]}, "retries only apply to a check step"),
    ({"steps": [{"http": {"url": "http://{host}/x"}}], "args": {"host": {}}},
     "placeholders may fill the path and query only, never the host"),
    ({"steps": [{"http": {"url": "ftp://x/y"}}]}, "url must start with http:// or https://"),
    ({"steps": [{"http": {"url": "https://user:pw@x/y"}}]}, "no credentials in the url"),
    ({"steps": [{"http": {"url": "https://x/y?t=${env:TOKEN}"}}]}, "secrets go in headers"),
    ({"steps": [{"http": {"url": "https://x/y", "headers": {"X-Key": "${env:FEISHU_APP_SECRET}"}}}]},
     "OpenClaw's own settings cannot be sent by a runbook"),
    ({"steps": [{"http": {"url": "https://x/y", "headers": {"Bad Name": "v"}}}]}, "is not a header name"),
    ({"steps": [{"http": {"url": "https://x/{job}"}}]}, "steps.0: {job} is not a declared argument"),
    ({"steps": [{"http": {"url": "https://x/y", "expect": 999}}]}, "runbooks.rb.steps.0.http.expect.0"),
    ({"steps": [{"http": {"url": "https://x/y", "method": "TRACE"}}]}, "runbooks.rb.steps.0.http.method"),
    ({"steps": [{"http": {"url": "https://x/y", "jsn": {}}}]}, "runbooks.rb.steps.0.http.jsn: unknown key"),
])
def test_bad_runbook_steps_are_refused_at_load_naming_the_key(runbook: dict[str, Any], reason: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(runbook)
    assert str(error.value).startswith("inv.yaml: ")
    assert reason in str(error.value)


def test_a_good_steps_runbook_loads() -> None:
    _load({"args": {"v": {}}, "hosts": ["local"], "steps": [
        {"run": "deploy {v}"}, {"check": "curl -fsS localhost/health", "retries": 10, "interval": "5s",
                                "timeout": "2m"},
        {"http": {"method": "POST", "url": "https://ci.example.com/job/{v}/build",
                  "headers": {"Authorization": "Bearer ${env:CI_TOKEN}"}, "json": {"version": "{v}"},
                  "expect": [200, 201], "timeout": "30s"}}]})


def test_send_reports_an_unreachable_api_without_raising() -> None:
    request = http_step.HttpRequest("GET", f"http://127.0.0.1:{free_port()}/x", (), None, (200,), 2.0)
    result = http_step.send(request, output_cap=1024)
    assert result.outcome is Outcome.UNREACHABLE and result.error
