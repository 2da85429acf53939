"""redact(text): mask secrets before text is stored, logged or sent. Pure, no I/O.

Order matters: whole private-key blocks go first (they contain base64 that the
token rules would only partly catch), then structured credentials (URLs, auth
headers, JWTs, vendor tokens), then generic key=value / key: value secrets.
"""
from __future__ import annotations

import re
from typing import Any

MASK = "***"

_PEM_BLOCK = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----.*?(?:-----END \1-----|\Z)", re.DOTALL
)
# scheme://user:password@host -> scheme://user:***@host
_URL_CREDENTIALS = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*:)([^\s/'\"]+)(?=@[^\s@/'\"]+)")
_BEARER = re.compile(r"\b((?i:bearer)\s+)([A-Za-z0-9\-._~+/]{8,}=*)")
# Basic credentials are base64: only mask a word that could be base64 (digit, capital, + / or =).
_BASIC = re.compile(r"\b((?i:basic)\s+)((?=[A-Za-z0-9+/]*[0-9A-Z+/])[A-Za-z0-9+/]{8,}={0,2})(?![\w+/=])")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_AWS_ACCESS_KEY = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b")
# A bare 40-character AWS secret access key is only recognisable next to an access key id.
_AWS_SECRET_BARE = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_VENDOR_TOKENS = re.compile(
    r"\b(?:"
    r"gh[pousr]_[A-Za-z0-9]{36,255}"            # GitHub classic tokens
    r"|github_pat_[A-Za-z0-9_]{22,255}"         # GitHub fine-grained tokens
    r"|xox[abposre]-[A-Za-z0-9-]{10,}"          # Slack tokens
    r"|xapp-[A-Za-z0-9-]{10,}"                  # Slack app-level tokens
    r"|glpat-[A-Za-z0-9_-]{20,}"                # GitLab personal access tokens
    r"|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"    # OpenAI / Anthropic style API keys
    r"|AIza[A-Za-z0-9_-]{35}"                   # Google API keys
    r")"
)
_SLACK_WEBHOOK = re.compile(r"(https://hooks\.slack\.com/services/)[A-Za-z0-9/]+")

_SECRET_WORDS = (
    r"pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key(?:[_-]?id)?"
    r"|private[_-]?key|authorization|credentials?|session[_-]?key|signing[_-]?key|encrypt(?:ion)?[_-]?key"
    r"|client[_-]?secret|secret[_-]?key|secret[_-]?access[_-]?key|auth"
)
# A key that ends in a secret word: DB_PASSWORD, aws_secret_access_key, X-Api-Key, "token".
_KEY = rf"[A-Za-z0-9_.-]*?(?:{_SECRET_WORDS})"
_VALUE = r"""(?:"(?P<dq>[^"\r\n]*)"|'(?P<sq>[^'\r\n]*)'|(?P<bare>[^\s,;&"'}\])]+))"""
# key=value, key: value, key => value, "key": "value" (JSON and YAML too)
_KEY_VALUE = re.compile(
    rf"""(?<![A-Za-z0-9_-])(?P<key>["']?{_KEY}["']?)(?P<sep>\s*(?:=>|=|:)\s*){_VALUE}""", re.IGNORECASE
)
# --password value, -p value is too ambiguous; only long flags named like secrets.
_FLAG_VALUE = re.compile(rf"""(?<![\w-])(?P<key>--{_KEY})(?P<sep>\s+){_VALUE}""", re.IGNORECASE)
_AUTH_SCHEMES = {"bearer", "basic", "digest", "token"}
_SECRET_KEY = re.compile(_KEY, re.IGNORECASE)


def _mask_value(match: re.Match[str]) -> str:
    name = next(group for group in ("dq", "sq", "bare") if match.group(group) is not None)
    value = match.group(name)
    if not value or value.startswith(MASK) or value.startswith("-") and match.group("sep").strip() == "":
        return match.group(0)  # empty, already masked, or "--password --next-flag"
    if value.lower() in _AUTH_SCHEMES:
        return match.group(0)  # "Authorization: Bearer ..." - the credential after the scheme is handled apart
    start, end = match.span(name)
    offset = match.start()
    whole = match.group(0)
    return whole[: start - offset] + MASK + whole[end - offset:]


def _pem(match: re.Match[str]) -> str:
    label = match.group(1)
    return f"-----BEGIN {label}-----\n{MASK}\n-----END {label}-----"


def redact_details(value: Any, key: str | None = None) -> Any:
    """A JSON-like structure with every string redacted, and the whole value of a key named like a secret masked."""
    if key is not None and isinstance(value, str | int | float) and not isinstance(value, bool) and value != "" \
            and _SECRET_KEY.fullmatch(key):
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_details(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_details(item) for item in value]
    return value


def redact(text: str | None) -> str:
    """text with every recognised secret replaced by ***; None becomes ''."""
    if not text:
        return ""
    text = _PEM_BLOCK.sub(_pem, text)
    text = _URL_CREDENTIALS.sub(lambda m: m.group(1) + MASK, text)
    text = _SLACK_WEBHOOK.sub(lambda m: m.group(1) + MASK, text)
    text = _JWT.sub(MASK, text)
    text = _VENDOR_TOKENS.sub(MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    text = _BASIC.sub(lambda m: m.group(1) + MASK, text)
    text = _KEY_VALUE.sub(_mask_value, text)
    text = _FLAG_VALUE.sub(_mask_value, text)
    if _AWS_ACCESS_KEY.search(text):
        text = _AWS_ACCESS_KEY.sub(MASK, text)
        text = _AWS_SECRET_BARE.sub(MASK, text)
    return text
