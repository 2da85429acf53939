"""FakeFeishuServer: a local HTTP server speaking the Feishu server API of feishu-protocol.md section 4."""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.fakes.feishu_platform import PlatformExtras
from tests.fakes.feishu_state import ApiError, FakeChat, FeishuState, Reply, SentMessage

__all__ = ["FakeChat", "FakeFeishuServer", "RecordedRequest", "SentMessage"]

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"

_ROUTES = Map(
    [
        Rule(TOKEN_PATH, endpoint="token", methods=["POST"]),
        Rule("/open-apis/bot/v3/info", endpoint="bot_info", methods=["GET"]),
        Rule("/open-apis/im/v1/messages", endpoint="send", methods=["POST"]),
        Rule("/open-apis/im/v1/messages/<message_id>/reply", endpoint="reply", methods=["POST"]),
        Rule("/open-apis/im/v1/messages/<message_id>", endpoint="patch", methods=["PATCH"]),
        Rule(
            "/open-apis/im/v1/messages/<message_id>/urgent_<any(app,sms,phone):kind>",
            endpoint="urgent",
            methods=["PATCH"],
        ),
        Rule("/open-apis/interactive/v1/card/update", endpoint="delayed_update", methods=["POST"]),
        Rule("/open-apis/im/v1/chats", endpoint="create_chat", methods=["POST"]),
        Rule("/open-apis/im/v1/chats/<chat_id>/members", endpoint="add_members", methods=["POST"]),
        Rule("/open-apis/contact/v3/users/<user_id>", endpoint="get_user", methods=["GET"]),
        Rule("/callback/ws/endpoint", endpoint="ws_endpoint", methods=["POST"]),
        Rule("/open-apis/bot/v2/hook/<token>", endpoint="custom_bot", methods=["POST"]),
        Rule("/open-apis/im/v1/images", endpoint="images", methods=["POST"]),
    ]
)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it; `time` is time.monotonic() at arrival."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    json: Any
    body_size: int
    time: float
    status: int
    code: int | None
    log_id: str  # the x-tt-logid header of the answer


@dataclass
class _Rule:
    """An injected failure or delay for requests whose path contains `path_substring`."""

    path_substring: str
    times: int
    status: int = 200
    code: int | None = None
    msg: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class _QuietHandler(WSGIRequestHandler):
    """Request handler without werkzeug's per-request access log."""

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's signature
        """Drop access-log lines."""


class FakeFeishuServer(PlatformExtras, FeishuState):
    """Feishu on 127.0.0.1:<ephemeral port> in a background thread, recording every request."""

    def __init__(self, *, app_id: str = "cli_test", app_secret: str = "secret", **state: Any) -> None:
        super().__init__(app_id=app_id, app_secret=app_secret, **state)
        self.init_extras()
        self._records: list[RecordedRequest] = []
        self._rules: list[_Rule] = []
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to use as FEISHU_BASE_URL."""
        if self._server is None:
            raise RuntimeError("FakeFeishuServer is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def port(self) -> int:
        """The port it listens on."""
        if self._server is None:
            raise RuntimeError("FakeFeishuServer is not started")
        return int(self._server.server_port)

    def start(self, port: int = 0) -> FakeFeishuServer:
        """Listen on port (an ephemeral one by default) and serve in a daemon thread.

        Stopping and starting again on the same port keeps every message: an outage, as the bot sees it.
        """
        self._server = make_server("127.0.0.1", port, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-feishu", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeFeishuServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every request, message, token, chat, user and injected failure."""
        with self.lock:
            self.reset_state()
            self._records.clear()
            self._rules.clear()

    # -- test helpers ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self.lock:
            return list(self._records)

    def requests_to(self, path_substring: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path contains `path_substring` (and with this method)."""
        return [
            r for r in self.requests if path_substring in r.path and (method is None or r.method == method)
        ]

    def fail_next(
        self,
        path_substring: str,
        status: int = 429,
        code: int = 99991400,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
        msg: str = "request trigger frequency limit",
    ) -> None:
        """Answer the next `times` matching requests with this error instead of handling them."""
        hdrs = {"x-ogw-ratelimit-reset": "1"} if headers is None else dict(headers)
        if status == 429:
            hdrs.setdefault("x-ogw-ratelimit-limit", "50")
        with self.lock:
            self._rules.append(_Rule(path_substring, times, status, code, msg, hdrs))

    def delay_next(self, path_substring: str, seconds: float, times: int = 1) -> None:
        """Handle the next matching requests normally but answer only after `seconds`."""
        with self.lock:
            self._rules.append(_Rule(path_substring, times, delay=seconds))

    # -- WSGI --------------------------------------------------------------------------------

    def _take_rule(self, path: str) -> _Rule | None:
        with self.lock:
            for rule in self._rules:
                if rule.times > 0 and rule.path_substring in path:
                    rule.times -= 1
                    return rule
        return None

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        arrived = time.monotonic()
        raw = request.get_data()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        log_id = time.strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:20].upper()
        rule = self._take_rule(request.path)
        if rule is not None and rule.code is not None:
            reply = Reply(rule.status, {"code": rule.code, "msg": rule.msg}, rule.headers)
        else:
            reply = self._dispatch(request, body, len(raw))
        response = self._render(reply, log_id)
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.args.items()),
            headers={k.lower(): v for k, v in request.headers.items()},
            json=body,
            body_size=len(raw),
            time=arrived,
            status=reply.status,
            code=reply.payload.get("code") if isinstance(reply.payload, dict) else None,
            log_id=log_id,
        )
        with self.lock:
            self._records.append(record)
        if rule is not None and rule.delay:
            time.sleep(rule.delay)
        return response(environ, start_response)

    def _render(self, reply: Reply, log_id: str) -> Response:
        payload = reply.payload
        if isinstance(payload, dict) and payload.get("code"):
            payload = {
                **payload,
                "error": {
                    "log_id": log_id,
                    "troubleshooter": f"https://open.feishu.cn/search?log_id={log_id}&code={payload['code']}",
                },
            }
        text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
        mimetype = "text/plain" if isinstance(payload, str) else "application/json"
        response = Response(text, status=reply.status, mimetype=mimetype)
        response.headers["x-tt-logid"] = log_id
        for name, value in reply.headers.items():
            response.headers[name] = value
        return response

    def _dispatch(self, request: Request, body: Any, size: int) -> Reply:
        try:
            endpoint, args = _ROUTES.bind_to_environ(request.environ).match()
        except HTTPException as exc:
            return Reply(exc.code or 404, f"{exc.code} page not found")
        try:
            if endpoint == "token":
                return self.issue_token(body)
            if endpoint == "ws_endpoint":
                return self.api_ws_endpoint(body)
            if endpoint == "custom_bot":
                return self.api_custom_bot(body, size, args["token"])
            self.check_token(request.headers.get("Authorization"))
            if endpoint == "images":
                files = {name: item.read() for name, item in request.files.items()}
                return self.api_images(dict(request.form.items()), files)
            handler = getattr(self, f"api_{endpoint}")
            result: Reply = handler(body=body, size=size, query=dict(request.args.items()), **args)
            return result
        except ApiError as exc:
            return Reply(exc.status, {"code": exc.code, "msg": exc.msg})
