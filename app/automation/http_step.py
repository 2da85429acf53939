"""HTTP runbook steps: a request built from the inventory and validated arguments, sent once.

The plan holds the request with `${env:NAME}` references unresolved, so the plan
digest, the approval card, the audit log and the executions table never contain a
secret. `send()` resolves them from the environment at run time, sends the request
(no redirects followed: a secret header must not travel to another host), and masks
each resolved secret, then everything redact() recognises, in what it records.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import urllib3

from app.automation.argv import TemplateError
from app.automation.redact import MASK, redact
from app.automation.transport import Outcome, RunResult
from app.inventory.schema import ENV_REF, PLACEHOLDER, HttpCall

MIN_SECRET = 4  # shorter values are not masked one by one (they would mask ordinary words)


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP call as planned: arguments filled in, secrets still as ${env:NAME}."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: str | None  # JSON text
    expect: tuple[int, ...]
    timeout: float

    @property
    def host(self) -> str:
        """Where the call goes, as the card and the executions table name it."""
        return urlsplit(self.url).netloc[:64]

    def shell_line(self) -> str:
        return f"{self.method} {self.url}"

    def to_json(self) -> dict[str, Any]:
        return {"http": {"method": self.method, "url": self.url, "headers": [list(h) for h in self.headers],
                         "body": self.body, "expect": list(self.expect), "timeout": self.timeout}}


def _fill(text: str, values: Mapping[str, str | None], *, encode: bool) -> str:
    def value_of(match: Any) -> str:
        name = match.group(1)
        if name not in values:
            raise TemplateError(f"{{{name}}} is not a declared argument")
        value = values[name]
        if value is None:
            raise TemplateError(f"needs a value for {{{name}}}")
        return quote(value, safe="") if encode else value

    return PLACEHOLDER.sub(value_of, text)


def _fill_json(value: Any, values: Mapping[str, str | None]) -> Any:
    """The body with arguments filled into its strings; a string that is only an absent optional becomes null."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in values and values[whole.group(1)] is None:
            return None
        return _fill(value, values, encode=False)
    if isinstance(value, dict):
        return {key: _fill_json(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill_json(item, values) for item in value]
    return value


def build(call: HttpCall, values: Mapping[str, str | None]) -> HttpRequest:
    """The request for call with validated argument values (percent-encoded in the URL, one segment each).

    A value may not contain "${": secrets are resolved in the finished request at run time,
    so a value that read ${env:NAME} would otherwise send that variable wherever it lands.
    """
    for name in sorted(call.placeholders()):
        value = values.get(name)
        if value is not None and "${" in value:
            raise TemplateError(f"{name} may not contain '${{'")
    body = None if call.body is None else json.dumps(_fill_json(call.body, values), sort_keys=True,
                                                     ensure_ascii=False)
    headers = tuple(sorted((name, _fill(value, values, encode=False)) for name, value in call.headers.items()))
    return HttpRequest(call.method, _fill(call.url, values, encode=True), headers, body, tuple(call.expect),
                       float(call.timeout))


class MissingSecret(Exception):
    """A ${env:NAME} the step needs is not set in this process's environment."""


def _resolve(text: str, environ: Mapping[str, str], secrets: list[str]) -> str:
    def value_of(match: Any) -> str:
        name = match.group(1)
        value = environ.get(name)
        if value is None or value == "":
            raise MissingSecret(name)
        secrets.append(value)
        return value

    return ENV_REF.sub(value_of, text)


def _resolve_json(value: Any, environ: Mapping[str, str], secrets: list[str]) -> Any:
    if isinstance(value, str):
        return _resolve(value, environ, secrets)
    if isinstance(value, dict):
        return {key: _resolve_json(item, environ, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve_json(item, environ, secrets) for item in value]
    return value


def mask(text: str, secrets: list[str]) -> str:
    """text with each resolved secret replaced by *** (longest first), then redact()."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_SECRET:
            text = text.replace(secret, MASK)
    return redact(text)


def send(request: HttpRequest, *, output_cap: int, environ: Mapping[str, str] | None = None,
         session: requests.Session | None = None) -> RunResult:
    """Send request once; OK when the status is one of expect. Never raises for network problems."""
    environ = os.environ if environ is None else environ
    secrets: list[str] = []
    host = request.host
    try:
        headers = {name: _resolve(value, environ, secrets) for name, value in request.headers}
        body = None if request.body is None else json.dumps(_resolve_json(json.loads(request.body), environ,
                                                                          secrets))
    except MissingSecret as exc:
        return RunResult(host, Outcome.FAILED, error=f"environment variable {exc} is not set; nothing was sent")
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    started = time.monotonic()
    own = session is None
    session = session or requests.Session()  # no retry adapter: the call is sent exactly once
    headers.setdefault("User-Agent", "OpenClaw-runbook")
    try:
        response = session.request(request.method, request.url, headers=headers, data=body,
                                   timeout=(min(5.0, request.timeout), request.timeout), allow_redirects=False,
                                   stream=True)
        raw = response.raw.read(output_cap + 1, decode_content=True) if request.method != "HEAD" else b""
        response.close()
    except (requests.Timeout, urllib3.exceptions.TimeoutError):
        return RunResult(host, Outcome.TIMEOUT, error=f"no answer within {request.timeout:g}s",
                         elapsed=time.monotonic() - started)
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        reason = mask(f"{type(exc).__name__}: {exc}", secrets)[:500]
        return RunResult(host, Outcome.UNREACHABLE, error=reason, elapsed=time.monotonic() - started)
    finally:
        if own:
            session.close()
    elapsed = time.monotonic() - started
    text = raw[:output_cap].decode("utf-8", errors="replace")
    output = mask(f"HTTP {response.status_code} {response.reason or ''}".rstrip() + "\n" + text, secrets)
    if len(raw) > output_cap:
        output += "\n[output truncated]"
    if response.status_code in request.expect:
        return RunResult(host, Outcome.OK, exit_code=None, output=output, elapsed=elapsed, remote_seconds=elapsed)
    expected = " or ".join(str(code) for code in request.expect)
    return RunResult(host, Outcome.FAILED, output=output, elapsed=elapsed, remote_seconds=elapsed,
                     error=f"HTTP {response.status_code}, expected {expected}")
