"""A local stand-in for Feishu's OAuth endpoints: codes it issued become user tokens, tokens become people."""
from __future__ import annotations

import json
import secrets
import threading
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class FakeFeishuOAuth:
    """Serves /open-apis/authen/v2/oauth/token and /open-apis/authen/v1/user_info on a loopback port."""

    def __init__(self, *, app_id: str, app_secret: str) -> None:
        self.app_id, self.app_secret = app_id, app_secret
        self.codes: dict[str, dict[str, str]] = {}
        self.tokens: dict[str, dict[str, str]] = {}
        self.seen: list[dict[str, Any]] = []
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-feishu-oauth", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FakeFeishuOAuth:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def issue_code(self, open_id: str, name: str) -> str:
        """A one-time code, as the consent page would hand the browser."""
        code = secrets.token_hex(8)
        self.codes[code] = {"open_id": open_id, "name": name}
        return code

    def _reply(self, body: dict[str, Any], status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/open-apis/authen/v2/oauth/token" and request.method == "POST":
            body = request.get_json(silent=True) or {}
            self.seen.append(body)
            person = self.codes.pop(str(body.get("code")), None)  # codes work once
            if (body.get("client_id"), body.get("client_secret")) != (self.app_id, self.app_secret) or person is None:
                response = self._reply({"code": 20003, "error": "invalid_grant"}, 400)
            else:
                token = "u-" + secrets.token_hex(8)
                self.tokens[token] = person
                response = self._reply({"code": 0, "access_token": token, "token_type": "Bearer", "expires_in": 7200})
        elif request.path == "/open-apis/authen/v1/user_info":
            person = self.tokens.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
            response = (self._reply({"code": 0, "msg": "success", "data": person}) if person
                        else self._reply({"code": 99991668, "msg": "invalid access token"}, 401))
        else:
            response = self._reply({"code": 404, "msg": "not found"}, 404)
        return response(environ, start_response)
