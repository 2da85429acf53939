"""The gateway's HTTP surface: POST /v1/chat/completions, GET /v1/models (OpenAI) and POST /api/chat (Ollama)."""
from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import requests
from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context
from werkzeug.exceptions import RequestEntityTooLarge

from app.ai.metering import CallMeta, estimate_tokens, messages_text, write_call
from app.gateway import catalog, relay
from app.gateway.auth import Client, authenticate
from app.gateway.errors import GatewayError
from app.gateway.governance import RateLimited, Slot, TokenRevoked, get_governor
from app.gateway.meter import get_writer
from app.gateway.upstreams import Opened, open_upstream

logger = logging.getLogger(__name__)

bp = Blueprint("gateway", __name__)
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _body() -> dict[str, Any]:
    try:
        body = json.loads(request.get_data(cache=False) or b"null")
    except RequestEntityTooLarge:
        raise GatewayError(413, "The request body is too large.", code="request_too_large") from None
    except ValueError:
        raise GatewayError(400, "The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise GatewayError(400, "The request body must be a JSON object.", code="invalid_request")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise GatewayError(400, "`model` is required: one of GET /v1/models.", code="missing_model")
    if not isinstance(body.get("messages"), list):
        raise GatewayError(400, "`messages` must be a list.", code="invalid_messages")
    return body


def _limited(exc: RateLimited) -> GatewayError:
    return GatewayError(429, exc.user_message, code=exc.code, retry_after=exc.retry_after)


@bp.post("/v1/chat/completions")
def chat_completions() -> Response:
    """OpenAI chat completions, streamed (SSE) or whole."""
    return _handle("openai")


@bp.post("/api/chat")
def ollama_chat() -> Response:
    """Ollama's /api/chat (streams NDJSON unless "stream": false)."""
    return _handle("ollama")


@bp.get("/v1/models")
def models() -> Response:
    """The public model names this gateway serves."""
    try:
        authenticate(cached=False)
    except GatewayError as exc:
        return exc.response("openai")
    data = [{"id": name, "object": "model", "created": 0, "owned_by": "openclaw"} for name in catalog.routes()]
    return jsonify(object="list", data=data)


def _handle(protocol: str) -> Response:
    started = time.monotonic()
    try:
        client = authenticate()
        body = _body()
        stream = bool(body.get("stream", protocol == "ollama"))
        routes = catalog.routes()
        route = routes.get(body["model"])
        if route is None:
            raise GatewayError(404, f"The model `{body['model']}` does not exist; GET /v1/models lists the models.",
                               code="model_not_found")
        governor = get_governor()
        slot, upstream_slot = governor.admit(client.caller, route)
    except GatewayError as exc:
        return exc.response(protocol)
    except RateLimited as exc:
        logger.warning("gateway refused", extra={"user_id": client.caller.subject, "client": client.token_name,
                                                 "code": exc.code})
        return _limited(exc).response(protocol)
    except TokenRevoked:
        return GatewayError(401, "This API token has been revoked.", code="invalid_api_key").response(protocol)
    call = Call(protocol, body, route, client, slot, started, (request.headers.get("X-Request-ID") or "")[:160] or f"gw-{uuid.uuid4().hex}")
    try:
        opened = open_upstream(routes, route, body, client_protocol=protocol, stream=stream, governor=governor,
                               lease=slot.lease, held=upstream_slot)
    except (GatewayError, RateLimited) as exc:
        error = exc if isinstance(exc, GatewayError) else _limited(exc)
        call.finish(None, relay.Tally(started), error=error.message)
        return error.response(protocol)
    if not stream:
        return call.whole(opened)
    mimetype = "text/event-stream" if protocol == "openai" else "application/x-ndjson"
    return Response(stream_with_context(call.stream(opened)), mimetype=mimetype, headers=STREAM_HEADERS)


class Call:
    """One admitted gateway call: relays the answer, then meters it and gives its slots back."""

    def __init__(self, protocol: str, body: dict[str, Any], route: catalog.Route, client: Client, slot: Slot,
                 started: float, request_id: str) -> None:
        self.protocol, self.body, self.route, self.client, self.slot = protocol, body, route, client, slot
        self.started, self.request_id = started, request_id

    def tally(self) -> relay.Tally:
        return relay.Tally(self.started, input_estimate=estimate_tokens(messages_text(self.body.get("messages") or [])))

    def whole(self, opened: Opened) -> Response:
        tally = self.tally()
        strip = opened.route.think == "strip"
        try:
            raw = opened.response.content
            if self.protocol == "openai":
                out = relay.openai_whole(raw, tally, strip=strip)
            elif opened.protocol == "ollama":
                out = relay.ollama_whole(raw, tally, strip=strip)
            else:
                out = relay.ollama_from_openai_whole(raw, tally, model=self.route.name, strip=strip)
        except requests.RequestException as exc:
            error = GatewayError(504 if "timed out" in str(exc).lower() else 502,
                                 f"model {opened.route.name}: {relay.broken(exc)}", code="upstream_error")
            self.finish(opened, tally, error=error.message)
            return error.response(self.protocol)
        except (ValueError, KeyError, TypeError, AttributeError):
            error = GatewayError(502, f"model {opened.route.name}: the upstream sent a malformed answer", code="upstream_error")
            self.finish(opened, tally, error=error.message)
            return error.response(self.protocol)
        response = Response(out, mimetype="application/json")
        app = current_app._get_current_object()  # type: ignore[attr-defined]

        def meter() -> None:  # after the answer is on its way (the request context is gone by then)
            with app.app_context():
                self.finish(opened, tally)

        response.call_on_close(meter)
        return response

    def stream(self, opened: Opened) -> Iterator[bytes]:
        tally = self.tally()
        strip = opened.route.think == "strip"
        if self.protocol == "openai":
            events = relay.openai_stream(opened.response, tally, strip=strip, drop_usage=opened.injected_usage)
        elif opened.protocol == "ollama":
            events = relay.ollama_stream(opened.response, tally, strip=strip)
        else:
            events = relay.ollama_from_openai_stream(opened.response, tally, model=self.route.name, strip=strip)
        finished = False
        try:
            for event in events:
                yield event
                self.slot.touch()
                opened.slot.touch()
            finished = True
        finally:
            if not finished:
                tally.error = tally.error or "the client disconnected"
            self.finish(opened, tally, error=tally.error)

    def finish(self, opened: Opened | None, tally: relay.Tally, *, error: str | None = None) -> None:
        """Close the upstream (cancelling it if still running), count tokens, write the row and log line."""
        if opened is not None:
            opened.response.close()
        estimated = not tally.usage_reported and opened is not None
        if estimated:
            tally.input_tokens = tally.input_estimate or estimate_tokens(messages_text(self.body.get("messages") or []))
            tally.output_tokens = -(-tally.output_chars // 4)
        get_governor().settle([self.slot, *([opened.slot] if opened is not None else [])],
                              tally.input_tokens + tally.output_tokens)
        caller = self.client.caller
        meta = CallMeta(self.request_id, caller.subject, None, role=caller.role, client=self.client.token_name)
        served = opened.route if opened is not None else self.route
        write_call(meta=meta, provider=served.provider, model=self.route.name, upstream=served.name,
                   input_tokens=tally.input_tokens, output_tokens=tally.output_tokens, estimated=estimated,
                   duration_ms=(time.monotonic() - self.started) * 1000, ttft_ms=tally.ttft_ms,
                   slow_ms=int(current_app.config["LLM_SLOW_MS"]), error=error, sink=get_writer().put)
