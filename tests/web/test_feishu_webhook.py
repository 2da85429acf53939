"""POST /webhook/feishu through the Flask test client: verify, record, queue, answer; then the worker."""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.audit.models import AuditEvent
from app.chat import registry
from app.chat.args import Args
from app.chat.types import CardAction, CardResponse, CommandContext, Reply, Role
from app.inbox.models import EventStatus, InboundEvent
from app.infra.db import db
from tests.queueing import drain_all, pending
from tests.pushes import (
    CARD_VECTOR_HEADERS,
    IM_VECTOR_EVENT_ID,
    IM_VECTOR_HEADERS,
    IM_VECTOR_MESSAGE_ID,
    LEGACY_CARD_HEADERS,
    card_action,
    encrypted_push,
    fixture_bytes,
    im_message,
    signed_headers,
)

ACK_BOUND = 1.0  # seconds; Feishu allows 3 s, the test client should be far below


def post(client: FlaskClient, raw: bytes, headers: dict[str, str] | None = None,
         content_type: str = "application/json; charset=utf-8") -> Any:
    """POST raw bytes to the webhook and check the answer came well within Feishu's 3 s."""
    started = time.perf_counter()
    response = client.post("/webhook/feishu", data=raw, headers=headers or {}, content_type=content_type)
    elapsed = time.perf_counter() - started
    assert elapsed < ACK_BOUND, f"webhook answered in {elapsed:.3f}s"
    return response


def events() -> list[InboundEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(InboundEvent).order_by(InboundEvent.id)))


def replies_to(feishu_server: Any, message_id: str) -> list[Any]:
    return [m for m in feishu_server.messages() if m.reply_to == message_id]


@pytest.fixture
def unique_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def register_card_action(unique_name: str) -> Iterator[Callable[..., list[CardAction]]]:
    """Register a card handler under a unique action name; it is removed after the test."""
    names: list[str] = []

    def register(response: CardResponse, *, role: Role = Role.USER, name: str = unique_name) -> list[CardAction]:
        calls: list[CardAction] = []

        @registry.card_action(name, role=role)
        def handler(ctx: CommandContext, action: CardAction) -> CardResponse:
            calls.append(action)
            return response

        names.append(name)
        return calls

    yield register
    for name in names:
        registry._card_actions.pop(name, None)


@pytest.fixture
def register_command() -> Iterator[Callable[..., None]]:
    """Register a throwaway chat command; it is removed after the test."""
    names: list[str] = []

    def register(name: str, *, role: Role, text: str = "ran") -> None:
        def handler(ctx: CommandContext, args: Args) -> Reply:
            """A throwaway command for tests."""
            return Reply.of_text(text)

        registry.command(name, usage=f"/{name}", role=role)(handler)
        names.append(name)

    yield register
    for name in names:
        registry._commands.pop(name, None)


# -- url_verification ------------------------------------------------------------------------


def test_a_plain_url_verification_is_answered_with_exactly_the_challenge(client: FlaskClient) -> None:
    raw = json.dumps({"challenge": "ajls384kdjxxxx", "token": "rvaYgkND1GOiu5MM0E1rncYC6PLtF7JV",
                      "type": "url_verification"}).encode()
    response = post(client, raw)
    assert response.status_code == 200
    assert response.get_json() == {"challenge": "ajls384kdjxxxx"}
    assert events() == []


def test_an_encrypted_url_verification_is_answered_with_exactly_the_decrypted_challenge(client: FlaskClient) -> None:
    response = post(client, fixture_bytes("url_verification_encrypted.json"))
    assert response.status_code == 200
    assert response.get_json() == {"challenge": "ajls384kdjx98XX"}
    assert events() == []


# -- the documented vector -------------------------------------------------------------------


def test_the_documented_encrypted_signed_event_is_accepted_and_recorded_once(app: Flask, client: FlaskClient) -> None:
    response = post(client, fixture_bytes("im_message_encrypted.json"), IM_VECTOR_HEADERS)
    assert response.status_code == 200
    [event] = events()
    assert event.event_id == IM_VECTOR_EVENT_ID
    assert event.message_id == IM_VECTOR_MESSAGE_ID
    assert event.event_type == "im.message.receive_v1"
    assert event.status == EventStatus.RECEIVED
    assert event.payload == json.loads(fixture_bytes("im_message_decrypted.json"))
    assert pending(app) == 1


def test_a_configured_age_bound_refuses_the_old_documented_event_and_records_nothing(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(FEISHU_MAX_EVENT_AGE="300")
    with app.app_context():
        response = post(app.test_client(), fixture_bytes("im_message_encrypted.json"), IM_VECTOR_HEADERS)
        assert response.status_code == 401
        assert "FEISHU_MAX_EVENT_AGE" in response.get_json()["error"]
        assert events() == []


# -- duplicates ------------------------------------------------------------------------------


def test_the_same_event_delivered_three_times_is_recorded_once_and_answered_once(
    app: Flask, client: FlaskClient, drain: Callable[[], int], feishu_server: Any,
) -> None:
    payload = im_message("/help", sender="ou_bob")
    bodies = set()
    for _ in range(3):
        # Each redelivery is encrypted with a fresh IV and signed with a fresh nonce, as the platform does.
        raw, headers = encrypted_push(payload)
        bodies.add(raw)
        assert post(client, raw, headers).status_code == 200
    assert len(bodies) == 3
    assert len(events()) == 1
    assert pending(app) == 1
    drain_all(app, drain)
    [event] = events()
    assert event.status == EventStatus.DONE
    assert len(replies_to(feishu_server, event.message_id)) == 1


def test_the_same_message_under_two_event_ids_is_handled_once(
    app: Flask, client: FlaskClient, drain: Callable[[], int], feishu_server: Any,
) -> None:
    message_id = f"om_{uuid.uuid4().hex}"
    for event_id in ("event-a-" + uuid.uuid4().hex, "event-b-" + uuid.uuid4().hex):
        raw, headers = encrypted_push(im_message("/help", message_id=message_id, event_id=event_id))
        assert post(client, raw, headers).status_code == 200
    assert len(events()) == 1
    drain_all(app, drain)
    assert len(replies_to(feishu_server, message_id)) == 1


# -- refusals: nothing recorded, nothing queued ---------------------------------------------


def test_malformed_json_gets_400_with_a_reason_and_nothing_is_recorded(app: Flask, client: FlaskClient) -> None:
    response = post(client, b'{"encrypt": "abc"', signed_headers(b'{"encrypt": "abc"'))
    assert response.status_code == 400
    assert response.is_json
    assert "JSON" in response.get_json()["error"]
    assert events() == []
    assert pending(app) == 0


def test_a_text_plain_content_type_gets_400_with_a_reason_and_nothing_is_recorded(
    app: Flask, client: FlaskClient,
) -> None:
    raw, headers = encrypted_push(im_message("/help"))
    response = post(client, raw, headers, content_type="text/plain")
    assert response.status_code == 400
    assert "Content-Type" in response.get_json()["error"]
    assert events() == []
    assert pending(app) == 0


def test_a_bad_signature_gets_401_and_nothing_is_recorded_or_queued(app: Flask, client: FlaskClient) -> None:
    raw, headers = encrypted_push(im_message("/help"))
    headers["X-Lark-Signature"] = "0" * 64
    response = post(client, raw, headers)
    assert response.status_code == 401
    assert "signature" in response.get_json()["error"]
    assert events() == []
    assert pending(app) == 0


def test_missing_signature_headers_get_401_and_nothing_is_recorded(app: Flask, client: FlaskClient) -> None:
    raw, _ = encrypted_push(im_message("/help"))
    assert post(client, raw).status_code == 401
    assert events() == []
    assert pending(app) == 0


def test_the_documented_tampered_body_gets_401_and_nothing_is_recorded(app: Flask, client: FlaskClient) -> None:
    response = post(client, fixture_bytes("im_message_tampered.json"), IM_VECTOR_HEADERS)
    assert response.status_code == 401
    assert events() == []
    assert pending(app) == 0


def test_a_wrong_verification_token_gets_401_and_nothing_is_recorded(app: Flask, client: FlaskClient) -> None:
    raw, headers = encrypted_push(im_message("/help", token="someone-elses-token"))
    assert post(client, raw, headers).status_code == 401
    assert events() == []
    assert pending(app) == 0


def test_without_a_configured_verification_token_every_push_gets_401(make_app: Callable[..., Flask]) -> None:
    app = make_app(FEISHU_VERIFICATION_TOKEN="")
    assert app.config["FEISHU_VERIFICATION_TOKEN"] is None
    with app.app_context():
        client = app.test_client()
        assert post(client, fixture_bytes("im_message_encrypted.json"), IM_VECTOR_HEADERS).status_code == 401
        assert post(client, fixture_bytes("url_verification_encrypted.json")).status_code == 401
        assert events() == []


def test_tampered_ciphertexts_get_one_answer_whether_or_not_the_padding_survived(
    app: Flask, client: FlaskClient,
) -> None:
    import base64

    raw = bytearray(base64.b64decode(json.loads(fixture_bytes("url_verification_encrypted.json"))["encrypt"]))
    answers = []
    for index in (0, -17):  # an IV byte (padding intact) and the byte that sets the padding
        changed = bytearray(raw)
        changed[index] ^= 0x01
        body = json.dumps({"encrypt": base64.b64encode(bytes(changed)).decode()}).encode()
        response = post(client, body)
        answers.append((response.status_code, response.get_data()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401
    assert events() == []
    assert pending(app) == 0


def test_raw_bodies_and_tokens_are_not_written_to_the_log(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    post(client, fixture_bytes("im_message_encrypted.json"), IM_VECTOR_HEADERS)
    post(client, fixture_bytes("im_message_tampered.json"), IM_VECTOR_HEADERS)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "AAECAwQFBgcICQoLDA0ODzksK1XH" not in logged
    assert "rvaYgkND1GOiu5MM0E1rncYC6PLtF7JV" not in logged
    assert "deploy api" not in logged


# -- the /help round trip --------------------------------------------------------------------


def test_help_from_a_group_mention_is_answered_at_the_fake_feishu_with_only_allowed_commands(
    app: Flask, client: FlaskClient, drain: Callable[[], int], feishu_server: Any, register_command: Callable[..., None],
) -> None:
    admin_only = f"zz-admin-{uuid.uuid4().hex[:8]}"
    register_command(admin_only, role=Role.ADMIN)
    payload = im_message("/help", sender="ou_bob", chat_type="group")
    message_id = payload["event"]["message"]["message_id"]
    raw, headers = encrypted_push(payload)
    assert post(client, raw, headers).status_code == 200
    assert replies_to(feishu_server, message_id) == []  # nothing is sent before the worker runs
    drain_all(app, drain)
    [reply] = replies_to(feishu_server, message_id)
    assert reply.msg_type == "text"
    assert "/help" in reply.text
    assert "(operator)" in reply.text  # ou_bob's role from the inventory
    assert admin_only not in reply.text
    [event] = events()
    assert event.status == EventStatus.DONE
    assert event.attempts == 1


def test_an_admin_sees_the_admin_only_command_in_help(
    app: Flask, client: FlaskClient, drain: Callable[[], int], feishu_server: Any, register_command: Callable[..., None],
) -> None:
    admin_only = f"zz-admin-{uuid.uuid4().hex[:8]}"
    register_command(admin_only, role=Role.ADMIN)
    payload = im_message("/help", sender="ou_alice", chat_type="p2p", mention_bot=False)
    raw, headers = encrypted_push(payload)
    assert post(client, raw, headers).status_code == 200
    drain_all(app, drain)
    [reply] = replies_to(feishu_server, payload["event"]["message"]["message_id"])
    assert admin_only in reply.text


def test_a_group_message_that_does_not_mention_the_bot_gets_no_reply(
    app: Flask, client: FlaskClient, drain: Callable[[], int], feishu_server: Any,
) -> None:
    payload = im_message("/help", sender="ou_bob", chat_type="group", mention_bot=False)
    raw, headers = encrypted_push(payload)
    assert post(client, raw, headers).status_code == 200
    drain_all(app, drain)
    assert feishu_server.messages() == []
    [event] = events()
    assert event.status == EventStatus.IGNORED


def test_a_message_from_an_unknown_user_gets_the_default_role(
    app: Flask, client: FlaskClient, drain: Callable[[], int], feishu_server: Any,
) -> None:
    payload = im_message("/help", sender="ou_stranger", chat_type="p2p", mention_bot=False)
    raw, headers = encrypted_push(payload)
    assert post(client, raw, headers).status_code == 200
    drain_all(app, drain)
    [reply] = replies_to(feishu_server, payload["event"]["message"]["message_id"])
    assert "(user)" in reply.text


def test_an_event_type_we_do_not_handle_is_acknowledged_and_ignored(
    app: Flask, client: FlaskClient, drain: Callable[[], int], feishu_server: Any,
) -> None:
    payload = {"schema": "2.0", "header": {"event_id": uuid.uuid4().hex, "event_type": "im.chat.disbanded_v1",
                                           "token": "rvaYgkND1GOiu5MM0E1rncYC6PLtF7JV", "app_id": "cli_test"},
               "event": {"chat_id": "oc_1"}}
    raw, headers = encrypted_push(payload)
    assert post(client, raw, headers).status_code == 200
    drain_all(app, drain)
    [event] = events()
    assert event.status == EventStatus.IGNORED
    assert feishu_server.messages() == []


# -- card callbacks --------------------------------------------------------------------------


def test_a_card_click_is_dispatched_to_its_handler_and_answered_with_a_toast(
    client: FlaskClient, register_card_action: Callable[..., list[CardAction]], unique_name: str,
) -> None:
    calls = register_card_action(CardResponse(toast="Acknowledged", toast_type="success"))
    payload = card_action({"action": unique_name, "incident": "INC-42"}, operator="ou_bob")
    raw = json.dumps(payload).encode()
    response = post(client, raw, signed_headers(raw))
    assert response.status_code == 200
    assert response.get_json() == {"toast": {"type": "success", "content": "Acknowledged"}}
    [action] = calls
    assert action.open_id == "ou_bob"
    assert action.value == {"action": unique_name, "incident": "INC-42"}
    assert action.message_id == "om_card_message"
    assert action.update_token == payload["event"]["token"]
    audit = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "card.action")).all()
    assert [a.target for a in audit] == [unique_name]


def test_an_encrypted_card_click_is_decrypted_and_answered_with_a_replacement_card(
    client: FlaskClient, register_card_action: Callable[..., list[CardAction]], unique_name: str,
) -> None:
    card = {"schema": "2.0", "body": {"elements": [{"tag": "markdown", "content": "done"}]}}
    calls = register_card_action(CardResponse(toast="Done", toast_type="info", card=card))
    raw, headers = encrypted_push(card_action({"action": unique_name}))
    response = post(client, raw, headers)
    assert response.status_code == 200
    assert response.get_json() == {"toast": {"type": "info", "content": "Done"},
                                   "card": {"type": "raw", "data": card}}
    assert len(calls) == 1


def test_the_same_card_click_twice_runs_the_handler_once_and_answers_empty_the_second_time(
    client: FlaskClient, register_card_action: Callable[..., list[CardAction]], unique_name: str,
) -> None:
    calls = register_card_action(CardResponse(toast="Acknowledged", toast_type="success"))
    raw = json.dumps(card_action({"action": unique_name}, event_id=uuid.uuid4().hex)).encode()
    first = post(client, raw, signed_headers(raw))
    second = post(client, raw, signed_headers(raw))
    assert first.get_json()["toast"]["content"] == "Acknowledged"
    assert second.status_code == 200
    assert second.get_json() == {}
    assert len(calls) == 1


def test_a_click_by_someone_without_the_role_gets_an_error_toast_naming_the_role(
    client: FlaskClient, register_card_action: Callable[..., list[CardAction]], unique_name: str,
) -> None:
    calls = register_card_action(CardResponse(toast="Restarted"), role=Role.OPERATOR)
    raw = json.dumps(card_action({"action": unique_name}, operator="ou_carol")).encode()  # auditor
    response = post(client, raw, signed_headers(raw))
    assert response.status_code == 200
    toast = response.get_json()["toast"]
    assert toast["type"] == "error"
    assert "operator" in toast["content"]
    assert calls == []
    denied = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "card.denied")).all()
    assert [(a.actor, a.target) for a in denied] == [("ou_carol", unique_name)]


def test_a_handler_that_raises_gets_an_error_toast_and_the_click_is_marked_failed(
    client: FlaskClient, unique_name: str,
) -> None:
    @registry.card_action(unique_name)
    def broken(ctx: CommandContext, action: CardAction) -> CardResponse:
        raise RuntimeError("boom")

    try:
        raw = json.dumps(card_action({"action": unique_name})).encode()
        response = post(client, raw, signed_headers(raw))
    finally:
        registry._card_actions.pop(unique_name, None)
    assert response.status_code == 200
    assert response.get_json()["toast"]["type"] == "error"
    [event] = events()
    assert event.status == EventStatus.FAILED
    assert "boom" in (event.last_error or "")


def test_the_documented_card_action_trigger_is_accepted_with_its_signature(client: FlaskClient) -> None:
    # Its value ({"cmd": "ack", ...}) names no registered action: a warning toast in the 3.3 shape.
    response = post(client, fixture_bytes("card_action_trigger.json"), CARD_VECTOR_HEADERS)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"toast"}
    assert body["toast"]["type"] in ("info", "success", "error", "warning")
    assert isinstance(body["toast"]["content"], str) and body["toast"]["content"]
    [event] = events()
    assert event.event_id == "f7984f25108f8137722bb63cee927e66"
    assert event.event_type == "card.action.trigger"


def test_the_documented_card_action_trigger_with_a_wrong_signature_gets_401(client: FlaskClient) -> None:
    headers = dict(CARD_VECTOR_HEADERS, **{"X-Lark-Signature": "f" * 64})
    assert post(client, fixture_bytes("card_action_trigger.json"), headers).status_code == 401
    assert events() == []


@pytest.fixture
def legacy_client(make_app: Callable[..., Flask], feishu_server: Any) -> Iterator[FlaskClient]:
    """A client of an app with FEISHU_LEGACY_CARD_CALLBACKS=true (off by default)."""
    application = make_app(FEISHU_APP_ID="cli_test", FEISHU_APP_SECRET="secret", FEISHU_BASE_URL=feishu_server.url,
                           FEISHU_LEGACY_CARD_CALLBACKS="true")
    with application.app_context():
        yield application.test_client()
        db.session.remove()


def test_a_forged_legacy_card_click_is_refused_by_default_and_nothing_runs(
    client: FlaskClient, register_card_action: Callable[..., list[CardAction]], unique_name: str,
) -> None:
    # Whoever knows only the verification token can compute the SHA-1 signature of a legacy callback.
    calls = register_card_action(CardResponse(toast="OK", toast_type="success"), role=Role.OPERATOR)
    raw = json.dumps({"open_id": "ou_alice", "user_id": "u", "open_message_id": "om_legacy", "tenant_key": "t",
                      "token": f"c-{uuid.uuid4().hex}", "action": {"value": {"action": unique_name}, "tag": "button"}},
                     separators=(",", ":")).encode()
    response = post(client, raw, signed_headers(raw, key="rvaYgkND1GOiu5MM0E1rncYC6PLtF7JV", legacy=True))
    assert response.status_code == 401
    assert "FEISHU_LEGACY_CARD_CALLBACKS" in response.get_json()["error"]
    assert calls == [] and events() == []
    assert post(client, fixture_bytes("legacy_card_callback.json"), LEGACY_CARD_HEADERS).status_code == 401


def test_the_legacy_sha1_card_callback_is_accepted_with_its_signature_when_enabled(legacy_client: FlaskClient) -> None:
    response = post(legacy_client, fixture_bytes("legacy_card_callback.json"), LEGACY_CARD_HEADERS)
    assert response.status_code == 200
    body = response.get_json()
    assert "toast" in body
    [event] = events()
    assert event.event_type == "card.action.trigger_v1"


def test_the_legacy_sha1_card_callback_with_a_wrong_signature_gets_401(legacy_client: FlaskClient) -> None:
    headers = dict(LEGACY_CARD_HEADERS, **{"X-Lark-Signature": "355c15dba5834b26496c7df9b2b1b7ea2c0e8b26"})
    response = post(legacy_client, fixture_bytes("legacy_card_callback.json"), headers)
    assert response.status_code == 401
    assert events() == []


def test_a_legacy_card_click_is_dispatched_and_answered_with_the_card_at_the_top_level(
    legacy_client: FlaskClient, register_card_action: Callable[..., list[CardAction]], unique_name: str,
) -> None:
    card = {"config": {"update_multi": True}, "elements": [{"tag": "div", "text": {"tag": "plain_text", "content": "ok"}}]}
    calls = register_card_action(CardResponse(toast="OK", toast_type="success", card=card))
    raw = json.dumps({"open_id": "ou_bob", "user_id": "u", "open_message_id": "om_legacy", "tenant_key": "t",
                      "token": f"c-{uuid.uuid4().hex}", "action": {"value": {"action": unique_name}, "tag": "button"}},
                     separators=(",", ":")).encode()
    response = post(legacy_client, raw, signed_headers(raw, key="rvaYgkND1GOiu5MM0E1rncYC6PLtF7JV", legacy=True))
    assert response.status_code == 200
    assert response.get_json() == {**card, "toast": {"type": "success", "content": "OK"}}
    assert [c.open_id for c in calls] == ["ou_bob"]
