"""FeishuClient against the fake Feishu server (and local Redis DB 14 where tokens are shared)."""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests

from app.feishu.client import TOKEN_PATH, FeishuClient
from app.feishu.errors import (
    FeishuAuthError,
    FeishuBadRequest,
    FeishuBuzzQuota,
    FeishuError,
    FeishuMessageTooLarge,
    FeishuNotFound,
    FeishuPermissionError,
    FeishuRateLimited,
    FeishuUnavailable,
)
from app.feishu.text import CARD_LIMIT_BYTES, TEXT_LIMIT_BYTES
from app.feishu.token import KEY_PREFIX
from app.infra.http import make_session
from tests.fakes.feishu_server import FakeFeishuServer
from tests.feishu.procs import SEND_TEXTS, finish, spawn

APP_ID, APP_SECRET = "cli_test", "secret"


@pytest.fixture
def feishu(feishu_server: FakeFeishuServer) -> FeishuClient:
    """A client with in-process token cache and throttle."""
    return FeishuClient(feishu_server.url, APP_ID, APP_SECRET)


@pytest.fixture(params=["memory", "redis"])
def any_feishu(request: pytest.FixtureRequest, feishu_server: FakeFeishuServer) -> FeishuClient:
    """The same client once without Redis and once with Redis DB 14."""
    shared = request.getfixturevalue("feishu_redis") if request.param == "redis" else None
    return FeishuClient(feishu_server.url, APP_ID, APP_SECRET, redis=shared)


def _api_calls(server: FakeFeishuServer) -> list[Any]:
    return [r for r in server.requests if r.path != TOKEN_PATH]


# -- tenant_access_token ---------------------------------------------------------------------


def test_token_is_fetched_once_and_sent_on_every_call(
    any_feishu: FeishuClient, feishu_server: FakeFeishuServer
) -> None:
    for i in range(5):
        any_feishu.bot_info()
        any_feishu.send_text(f"oc_chat{i}", "hello")
    assert feishu_server.token_requests == 1
    calls = _api_calls(feishu_server)
    assert len(calls) == 10
    for call in calls:
        assert call.headers["authorization"] == "Bearer t-1"
        assert call.headers["content-type"] == "application/json; charset=utf-8"
        assert call.status == 200


def test_token_is_cached_in_redis_for_expire_minus_ten_minutes(
    feishu_server: FakeFeishuServer, feishu_redis: redis.Redis
) -> None:
    FeishuClient(feishu_server.url, APP_ID, APP_SECRET, redis=feishu_redis).bot_info()
    assert feishu_redis.get(KEY_PREFIX + APP_ID) == b"t-1"
    assert 6590_000 <= feishu_redis.pttl(KEY_PREFIX + APP_ID) <= 6600_000  # 7200 s - 600 s


def test_token_is_shared_with_another_process_through_redis(
    feishu_server: FakeFeishuServer, feishu_redis: redis.Redis
) -> None:
    FeishuClient(feishu_server.url, APP_ID, APP_SECRET, redis=feishu_redis).bot_info()
    finish([spawn(SEND_TEXTS, feishu_server.url, 0, "oc_child", 2)])
    assert feishu_server.token_requests == 1
    child_calls = feishu_server.requests_to("/im/v1/messages")
    assert [c.headers["authorization"] for c in child_calls] == ["Bearer t-1"] * 2
    assert feishu_server.texts() == ["oc_child #0", "oc_child #1"]


def test_processes_starting_together_fetch_the_token_only_once(
    feishu_server: FakeFeishuServer, feishu_redis: redis.Redis
) -> None:
    feishu_server.delay_next(TOKEN_PATH, 0.5)  # a slow refresh: the others must wait for it
    start_at = time.time() + 2.0
    finish([spawn(SEND_TEXTS, feishu_server.url, start_at, f"oc_p{i}", 1) for i in range(4)])
    assert feishu_server.token_requests == 1
    assert sorted(feishu_server.texts()) == [f"oc_p{i} #0" for i in range(4)]
    assert feishu_redis.get(KEY_PREFIX + APP_ID + ":lock") is None


@pytest.mark.parametrize("use_redis", [False, True])
def test_token_is_refreshed_before_it_expires(
    request: pytest.FixtureRequest, feishu_server: FakeFeishuServer, use_redis: bool
) -> None:
    feishu_server.token_lifetime = 3  # seconds; the client trusts it for 3 - 2 = 1 s
    shared = request.getfixturevalue("feishu_redis") if use_redis else None
    client = FeishuClient(feishu_server.url, APP_ID, APP_SECRET, redis=shared, token_margin=2, token_min_ttl=0.5)
    client.bot_info()
    client.bot_info()
    time.sleep(1.2)
    client.bot_info()
    assert feishu_server.token_requests == 2
    assert [c.headers["authorization"] for c in _api_calls(feishu_server)] == ["Bearer t-1"] * 2 + ["Bearer t-2"]
    assert all(c.code == 0 for c in feishu_server.requests)  # t-1 was never used after it expired


def test_rejected_token_is_dropped_and_the_call_retried_once(
    any_feishu: FeishuClient, feishu_server: FakeFeishuServer
) -> None:
    any_feishu.bot_info()
    feishu_server.expire_tokens()
    assert any_feishu.send_text("oc_ops", "after expiry") == ["om_1"]
    sends = feishu_server.requests_to("/im/v1/messages")
    assert [(s.headers["authorization"], s.code) for s in sends] == [("Bearer t-1", 99991663), ("Bearer t-2", 0)]
    assert sends[0].status == 400
    assert sends[0].json["uuid"] == sends[1].json["uuid"]
    assert feishu_server.token_requests == 2
    assert len(feishu_server.messages()) == 1


def test_token_rejected_twice_raises_auth_error(feishu: FeishuClient, feishu_server: FakeFeishuServer) -> None:
    feishu_server.fail_next("/bot/v3/info", status=400, code=99991663, headers={}, times=5, msg="invalid token")
    with pytest.raises(FeishuAuthError) as caught:
        feishu.bot_info()
    assert caught.value.code == 99991663
    assert len(feishu_server.requests_to("/bot/v3/info")) == 2
    assert feishu_server.token_requests == 2


def test_wrong_app_secret_is_an_auth_error(feishu_server: FakeFeishuServer) -> None:
    client = FeishuClient(feishu_server.url, APP_ID, "wrong-secret")
    with pytest.raises(FeishuAuthError) as caught:
        client.bot_info()
    assert caught.value.code == 10014
    assert _api_calls(feishu_server) == []


# -- rate limits and retries -------------------------------------------------------------------


def test_rate_limited_call_waits_for_the_reset_header_then_succeeds(
    feishu: FeishuClient, feishu_server: FakeFeishuServer
) -> None:
    feishu_server.fail_next("/bot/v3/info", headers={"x-ogw-ratelimit-reset": "1"})
    assert feishu.bot_info()["open_id"] == feishu_server.bot_open_id
    first, second = feishu_server.requests_to("/bot/v3/info")
    assert (first.status, first.code, second.code) == (429, 99991400, 0)
    assert second.time - first.time >= 1.0


def test_rate_limit_that_never_lifts_raises_after_max_retries(feishu_server: FakeFeishuServer) -> None:
    client = FeishuClient(feishu_server.url, APP_ID, APP_SECRET, max_retries=2)
    feishu_server.fail_next("/im/v1/messages", headers={"x-ogw-ratelimit-reset": "0.1"}, times=10)
    with pytest.raises(FeishuRateLimited) as caught:
        client.send_text("oc_ops", "hello")
    attempts = feishu_server.requests_to("/im/v1/messages")
    assert len(attempts) == 3
    assert len({a.json["uuid"] for a in attempts}) == 1
    assert (caught.value.code, caught.value.http_status, caught.value.retry_after) == (99991400, 429, 0.1)
    assert caught.value.log_id == attempts[-1].log_id
    assert feishu_server.messages() == []


def test_per_chat_limit_code_backs_off_without_a_header(feishu: FeishuClient, feishu_server: FakeFeishuServer) -> None:
    feishu_server.fail_next("/im/v1/messages", status=400, code=230020, headers={})
    assert len(feishu.send_text("oc_ops", "hello")) == 1
    first, second = feishu_server.requests_to("/im/v1/messages")
    assert second.time - first.time >= 0.5


def test_send_retried_after_a_lost_answer_reuses_its_uuid(feishu_server: FakeFeishuServer) -> None:
    client = FeishuClient(feishu_server.url, APP_ID, APP_SECRET, timeout=(2.0, 0.4))
    feishu_server.delay_next("/im/v1/messages", 1.0)  # delivered, but the answer comes too late
    ids = client.send_text("oc_ops", "deploy finished")
    attempts = feishu_server.requests_to("/im/v1/messages")
    assert len(attempts) == 2
    assert attempts[0].json["uuid"] == attempts[1].json["uuid"]
    assert [m.message_id for m in feishu_server.messages()] == ids  # delivered exactly once


def test_buzz_is_not_retried_after_a_lost_answer(feishu_server: FakeFeishuServer) -> None:
    client = FeishuClient(feishu_server.url, APP_ID, APP_SECRET, timeout=(2.0, 0.3))
    message_id = client.send_text("oc_ops", "disk full")[0]
    feishu_server.delay_next("urgent_app", 0.8)
    with pytest.raises(FeishuUnavailable):
        client.urgent(message_id, ["ou_alice"], "app")
    assert len(feishu_server.requests_to("urgent_app")) == 1


def test_an_answer_without_json_envelope_is_unavailable(feishu_server: FakeFeishuServer) -> None:
    client = FeishuClient(feishu_server.url + "/wrong-prefix", APP_ID, APP_SECRET)
    with pytest.raises(FeishuUnavailable) as caught:
        client.bot_info()
    assert (caught.value.code, caught.value.http_status) == (-1, 404)


@pytest.mark.parametrize(
    ("code", "status", "error_class"),
    [
        (99991672, 400, FeishuPermissionError),
        (99991401, 400, FeishuPermissionError),
        (230025, 400, FeishuMessageTooLarge),
        (230011, 400, FeishuNotFound),
        (232009, 400, FeishuNotFound),
        (230001, 400, FeishuBadRequest),
        (230099, 400, FeishuBadRequest),
        (230024, 400, FeishuBuzzQuota),
        (123456, 500, FeishuError),
    ],
)
def test_error_codes_raise_their_class_with_the_log_id(
    feishu: FeishuClient,
    feishu_server: FakeFeishuServer,
    caplog: pytest.LogCaptureFixture,
    code: int,
    status: int,
    error_class: type[FeishuError],
) -> None:
    feishu_server.fail_next("/im/v1/messages", status=status, code=code, headers={}, msg="nope")
    with caplog.at_level(logging.INFO, logger="app.feishu"), pytest.raises(FeishuError) as caught:
        feishu.send_text("oc_ops", "hello")
    (attempt,) = feishu_server.requests_to("/im/v1/messages")  # business errors are not retried
    assert type(caught.value) is error_class
    assert (caught.value.code, caught.value.msg, caught.value.http_status) == (code, "nope", status)
    assert caught.value.log_id == attempt.log_id
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures and getattr(failures[0], "log_id") == attempt.log_id
    assert getattr(failures[0], "code") == code
    assert "t-1" not in caplog.text and APP_SECRET not in caplog.text


# -- message content ----------------------------------------------------------------------------


def test_send_serialises_content_as_a_json_string(feishu: FeishuClient, feishu_server: FakeFeishuServer) -> None:
    message_id = feishu.send("ou_alice", "text", {"text": "磁盘告警 ✅"}, receive_id_type="open_id", uuid="u-1")
    (call,) = feishu_server.requests_to("/im/v1/messages")
    assert call.query == {"receive_id_type": "open_id"}
    assert isinstance(call.json["content"], str)
    assert json.loads(call.json["content"]) == {"text": "磁盘告警 ✅"}
    assert (call.json["receive_id"], call.json["msg_type"], call.json["uuid"]) == ("ou_alice", "text", "u-1")
    assert feishu_server.messages()[0].message_id == message_id


def test_send_text_masks_pii_before_it_leaves(feishu: FeishuClient, feishu_server: FakeFeishuServer) -> None:
    feishu.send_text("oc_ops", "on call: Bob 13812345678 bob@example.com, host 10.0.0.11:8080")
    assert feishu_server.texts() == ["on call: Bob 138****5678 b***@example.com, host 10.0.0.11:8080"]


@pytest.mark.parametrize(
    "line",
    ["2024-01-15 13:45:12 web-3 nginx: upstream timed out (110) after 10000 ms", '{"k": "v\\\\"}\t"\n\n'],
    ids=["log-lines", "escape-heavy"],
)
def test_long_text_is_split_into_messages_under_the_limit(
    feishu: FeishuClient, feishu_server: FakeFeishuServer, line: str
) -> None:
    text = "\n".join(f"{i:05d} {line}" for i in range(6000))
    ids = feishu.send_text("oc_logs", text)
    sends = feishu_server.requests_to("/im/v1/messages")
    assert len(ids) == len(sends) >= 3
    assert all(s.body_size <= TEXT_LIMIT_BYTES and s.code == 0 for s in sends)
    assert "".join(feishu_server.texts()) == text
    assert len({s.json["uuid"] for s in sends}) == len(sends)


def test_split_pieces_get_stable_uuids_derived_from_the_callers(
    feishu: FeishuClient, feishu_server: FakeFeishuServer
) -> None:
    text = "x" * 100_000 + "\n" + "y" * 100_000
    first = feishu.reply_text("om_user1", text, uuid="om_user1-0")
    again = feishu.reply_text("om_user1", text, uuid="om_user1-0")  # a redelivered event
    assert first == again and len(first) == 2
    assert len(feishu_server.messages()) == 2
    assert feishu_server.requests_to("/reply")[0].json["uuid"] == "om_user1-0"


def _alert_card(log_bytes: int) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "config": {"update_multi": True},
        "header": {"title": {"tag": "plain_text", "content": "CPU high on web-3"}, "template": "red"},
        "body": {
            "elements": [
                {"tag": "markdown", "content": "**owner** Bob 13812345678"},
                {"tag": "markdown", "content": '```\n' + 'line "quoted" 告警\n' * (log_bytes // 20) + '```'},
            ]
        },
    }


def test_oversize_card_is_truncated_with_a_note_and_still_sent(
    feishu: FeishuClient, feishu_server: FakeFeishuServer
) -> None:
    feishu.send_card("oc_ops", _alert_card(80 * 1024))
    (call,) = feishu_server.requests_to("/im/v1/messages")
    assert call.code == 0 and call.body_size <= CARD_LIMIT_BYTES
    card = json.loads(call.json["content"])
    owner, log = card["body"]["elements"]
    assert owner["content"] == "**owner** Bob 138****5678"
    assert log["content"].endswith("bytes omitted)")
    assert "(truncated: " in log["content"]
    assert card["header"] == _alert_card(0)["header"]


# -- round trips ----------------------------------------------------------------------------------


def test_bot_info_and_get_user(feishu: FeishuClient, feishu_server: FakeFeishuServer) -> None:
    assert feishu.bot_info()["open_id"] == "ou_bot_open_id_example"
    feishu_server.add_user("ou_alice", name="Alice", email="alice@example.com")
    assert feishu.get_user("ou_alice")["name"] == "Alice"
    (call,) = feishu_server.requests_to("/contact/v3/users/")
    assert call.query == {"user_id_type": "open_id", "department_id_type": "open_department_id"}
    with pytest.raises(FeishuNotFound):
        feishu.get_user("ou_nobody")


def test_reply_text_and_card_land_under_the_original(feishu: FeishuClient, feishu_server: FakeFeishuServer) -> None:
    original = feishu.send_text("oc_ops", "alert")[0]
    feishu.reply_text(original, "ack", in_thread=True, chat_id="oc_ops")
    feishu.reply_card(original, _alert_card(100))
    _, text_reply, card_reply = feishu_server.messages()
    assert (text_reply.reply_to, text_reply.in_thread, text_reply.chat_id, text_reply.text) == (
        original, True, "oc_ops", "ack"
    )
    assert (card_reply.msg_type, card_reply.reply_to, card_reply.in_thread) == ("interactive", original, False)
    assert card_reply.content["header"]["title"]["content"] == "CPU high on web-3"


def test_reply_to_a_recalled_message_is_not_found(feishu: FeishuClient, feishu_server: FakeFeishuServer) -> None:
    feishu_server.recall("om_gone")
    with pytest.raises(FeishuNotFound):
        feishu.reply_text("om_gone", "too late")


def test_update_card_and_delayed_update(feishu: FeishuClient, feishu_server: FakeFeishuServer) -> None:
    message_id = feishu.send_card("oc_ops", _alert_card(100))
    resolved = _alert_card(100) | {"header": {"title": {"tag": "plain_text", "content": "Resolved"}}}
    feishu.update_card(message_id, resolved)
    (patch,) = feishu_server.requests_to(f"/im/v1/messages/{message_id}", "PATCH")
    assert isinstance(patch.json["content"], str)
    assert feishu_server.messages()[0].updates[-1]["header"]["title"]["content"] == "Resolved"

    feishu.delayed_update_card("c-callback-token", resolved)
    (call,) = feishu_server.requests_to("/interactive/v1/card/update")
    assert isinstance(call.json["card"], dict)  # an object here, unlike message content
    assert feishu_server.card_updates[0][0] == "c-callback-token"
    assert feishu_server.card_updates[0][1]["header"]["title"]["content"] == "Resolved"


def test_update_card_is_throttled_to_five_per_second_per_message(
    feishu: FeishuClient, feishu_server: FakeFeishuServer
) -> None:
    message_id = feishu.send_card("oc_ops", _alert_card(100))
    for _ in range(6):
        feishu.update_card(message_id, _alert_card(100))
    patches = feishu_server.requests_to(f"/im/v1/messages/{message_id}", "PATCH")
    assert patches[5].time - patches[0].time >= 1.0


@pytest.mark.parametrize("kind", ["app", "sms", "phone"])
def test_urgent_buzzes_members_and_reports_invalid_ids(
    feishu: FeishuClient, feishu_server: FakeFeishuServer, kind: Any
) -> None:
    chat_id = feishu.create_chat("inc-42", user_open_ids=["ou_alice", "ou_bob"])
    message_id = feishu.send_text(chat_id, "P1 incident")[0]
    assert feishu.urgent(message_id, ["ou_alice", "ou_stranger"], kind) == ["ou_stranger"]
    (call,) = feishu_server.requests_to(f"urgent_{kind}", "PATCH")
    assert call.query == {"user_id_type": "open_id"}
    assert feishu_server.buzzes == [(message_id, kind, ["ou_alice"])]


def test_urgent_rejects_unknown_kinds_and_empty_lists(feishu: FeishuClient) -> None:
    with pytest.raises(ValueError):
        feishu.urgent("om_1", ["ou_alice"], "pigeon")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        feishu.urgent("om_1", [], "app")


def test_create_chat_is_idempotent_per_uuid_and_adds_members_beyond_fifty(
    feishu: FeishuClient, feishu_server: FakeFeishuServer
) -> None:
    users = [f"ou_user{i}" for i in range(60)]
    chat_id = feishu.create_chat("inc-43", user_open_ids=users, description="db down", uuid="inc-43")
    assert feishu.create_chat("inc-43", user_open_ids=users[:50], uuid="inc-43") == chat_id
    chat = feishu_server.chats[chat_id]
    assert (chat.name, chat.description, chat.members) == ("inc-43", "db down", set(users))
    create = feishu_server.requests_to("/im/v1/chats", "POST")[0]
    assert create.query == {"user_id_type": "open_id", "set_bot_manager": "false", "uuid": "inc-43"}
    assert len(create.json["user_id_list"]) == 50


def test_add_members_reports_ids_that_were_not_added(feishu: FeishuClient, feishu_server: FakeFeishuServer) -> None:
    feishu_server.add_chat("oc_ops", ["ou_alice"])
    result = feishu.add_members("oc_ops", ["ou_bob", "bogus"])
    assert result == {"invalid_id_list": [], "not_existed_id_list": ["bogus"], "pending_approval_id_list": []}
    assert feishu_server.chats["oc_ops"].members == {"ou_alice", "ou_bob"}


# -- transport -------------------------------------------------------------------------------------


@pytest.fixture
def hangup_server() -> Iterator[tuple[str, list[int]]]:
    """A TCP server that accepts and closes each connection without answering; counts accepts."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            conn.recv(65536)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    listener.close()


def test_session_retries_gets_but_never_posts(hangup_server: tuple[str, list[int]]) -> None:
    url, accepted = hangup_server
    session = make_session()
    with pytest.raises(requests.ConnectionError):
        session.get(url + "/x")
    gets = len(accepted)
    with pytest.raises(requests.ConnectionError):
        session.post(url + "/x", data=b"{}")
    assert gets == 3  # first try + 2 retries
    assert len(accepted) - gets == 1
