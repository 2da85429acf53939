"""Gateway errors in the caller's protocol: OpenAI's {"error": {message, type, param, code}} or Ollama's {"error": "..."}."""
from __future__ import annotations

import json
from typing import Any

from flask import Response

TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "invalid_request_error",
         408: "timeout_error", 413: "invalid_request_error", 429: "rate_limit_error", 504: "timeout_error"}


class GatewayError(Exception):
    """A refusal or an upstream failure, with the status the client gets."""

    def __init__(self, status: int, message: str, *, code: str | None = None, retry_after: int | None = None,
                 kind: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.retry_after = status, message, code, retry_after
        self.kind = kind or TYPES.get(status, "upstream_error" if status >= 500 else "invalid_request_error")

    def openai_body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": None, "code": self.code}}

    def response(self, protocol: str) -> Response:
        """The error as an HTTP response in protocol (openai or ollama)."""
        body = self.openai_body() if protocol == "openai" else {"error": self.message}
        response = Response(json.dumps(body, ensure_ascii=False), status=self.status, mimetype="application/json")
        if self.retry_after is not None:
            response.headers["Retry-After"] = str(self.retry_after)
        if self.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="openclaw"'
        return response


def upstream_message(status: int, text: str) -> str:
    """The upstream's own error message when its body carries one, else the start of the body."""
    try:
        payload = json.loads(text)
    except ValueError:
        return f"upstream answered HTTP {status}: {text[:200]}"
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    if isinstance(error, str) and error:
        return f"upstream answered HTTP {status}: {error[:300]}"
    return f"upstream answered HTTP {status}: {text[:200]}"
