"""Sending a client's request to its model's upstream, falling back to the next model when one is down."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from app.gateway.catalog import Route
from app.gateway.errors import GatewayError, upstream_message
from app.gateway.governance import Governor, Slot

logger = logging.getLogger(__name__)

_session: requests.Session | None = None

# Gateway request fields an Ollama-native client sends in `options`, and their OpenAI names.
OLLAMA_OPTIONS = {"num_predict": "max_tokens", "temperature": "temperature", "top_p": "top_p", "stop": "stop",
                  "seed": "seed", "presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty"}


def session() -> requests.Session:
    """One pooled session per process, big enough for hundreds of concurrent streams; never retries a POST."""
    global _session
    if _session is None:
        made = requests.Session()
        made.headers["User-Agent"] = "OpenClaw-Gateway"
        # Upstreams are the team's own model servers: no proxy lookup in the environment on every request
        # (it walks os.environ each time, ~0.5 ms) and no cookie jar.
        made.trust_env = False
        adapter = HTTPAdapter(pool_connections=32, pool_maxsize=1024, max_retries=0)
        made.mount("http://", adapter)
        made.mount("https://", adapter)
        _session = made
    return _session


@dataclass
class Opened:
    """An upstream response with headers received (status 200), and what it took to get it."""

    route: Route
    response: requests.Response
    slot: Slot
    protocol: str  # the protocol spoken to the upstream: openai or ollama
    injected_usage: bool  # the gateway asked for stream usage the client did not ask for


def prepare(body: dict[str, Any], route: Route, client_protocol: str, stream: bool) -> tuple[str, dict[str, Any], bool]:
    """(upstream protocol, upstream body, usage injected): the client's body with what the gateway governs changed."""
    upstream_protocol = "ollama" if client_protocol == "ollama" and route.provider == "ollama" else "openai"
    out = dict(body)
    out["model"] = route.model
    if client_protocol == "ollama":
        options = dict(out.get("options") or {})
        for name, value in route.defaults.items():
            options.setdefault("num_predict" if name == "max_tokens" else name, value)
        out["options"] = options
        out["stream"] = stream
        if upstream_protocol == "openai":
            out = _openai_from_ollama(out)
    else:
        for name, value in route.defaults.items():
            if name not in out and not (name == "max_tokens" and "max_completion_tokens" in out):
                out[name] = value
    injected = False
    if upstream_protocol == "openai" and stream:
        stream_options = dict(out.get("stream_options") or {})
        if not stream_options.get("include_usage"):
            stream_options["include_usage"] = True
            injected = True
        out["stream_options"] = stream_options
    return upstream_protocol, out, injected


def _openai_from_ollama(body: dict[str, Any]) -> dict[str, Any]:
    """An Ollama /api/chat body as an OpenAI chat completion request (for upstreams that speak only OpenAI)."""
    messages = []
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            messages.append({k: v for k, v in message.items() if k in ("role", "content", "name", "tool_call_id")})
    out: dict[str, Any] = {"model": body["model"], "messages": messages, "stream": bool(body.get("stream"))}
    for name, target in OLLAMA_OPTIONS.items():
        if name in (body.get("options") or {}):
            out[target] = body["options"][name]
    if body.get("tools"):
        out["tools"] = body["tools"]
    if body.get("format") == "json":
        out["response_format"] = {"type": "json_object"}
    return out


def open_upstream(routes: dict[str, Route], route: Route, body: dict[str, Any], *, client_protocol: str,
                  stream: bool, governor: Governor, lease: str | None = None, held: Slot | None = None) -> Opened:
    """POST to route's upstream (then its fallbacks while one is unreachable, timed out or failing with 5xx).

    An upstream 4xx is the client's problem and is not retried elsewhere. GatewayError for the last failure.
    held is the primary upstream's slot when admission already took it.
    """
    chain = [route, *(routes[name] for name in route.fallbacks if name in routes)]
    failure: GatewayError | None = None
    for candidate in chain:
        slot = held if held is not None and candidate is route else governor.upstream(candidate, lease)
        protocol, payload, injected = prepare(body, candidate, client_protocol, stream)
        headers = {"Content-Type": "application/json"}
        if candidate.api_key:
            headers["Authorization"] = f"Bearer {candidate.api_key}"
        try:
            response = session().post(candidate.url(protocol), data=json.dumps(payload, ensure_ascii=False).encode(),
                                      headers=headers, timeout=candidate.timeout, stream=True)
        except requests.Timeout:
            slot.release()
            failure = GatewayError(504, f"model {candidate.name}: the upstream did not answer in time", code="upstream_timeout")
        except requests.RequestException as exc:
            slot.release()
            failure = GatewayError(502, f"model {candidate.name}: the upstream cannot be reached ({type(exc).__name__})",
                                   code="upstream_unreachable")
        else:
            if response.status_code == 200:
                return Opened(candidate, response, slot, protocol, injected)
            status = response.status_code
            try:
                text = response.text[:2000]
            except requests.RequestException:
                text = ""
            response.close()
            slot.release()
            failure = GatewayError(status if 400 <= status <= 599 else 502, upstream_message(status, text),
                                   code="upstream_error")
            if status < 500:
                raise failure
        logger.warning("gateway upstream failed", extra={"model": route.name, "upstream": candidate.name,
                                                         "error": failure.message})
    assert failure is not None
    raise failure
