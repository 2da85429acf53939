"""Feishu API failures, one class per way a caller can react (feishu-protocol.md 4.11)."""
from __future__ import annotations


class FeishuError(Exception):
    """A Feishu API call failed: non-zero body `code`, or no usable answer at all."""

    def __init__(self, code: int, msg: str, http_status: int = 0, log_id: str | None = None) -> None:
        super().__init__(f"Feishu error {code}: {msg} (http {http_status}, log_id {log_id})")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.log_id = log_id


class FeishuUnavailable(FeishuError):
    """The platform could not be reached or did not answer with a JSON envelope (code -1)."""


class FeishuAuthError(FeishuError):
    """Token missing, invalid or expired, or the app credentials are wrong."""


class FeishuPermissionError(FeishuError):
    """The app lacks a scope, an allow-listed IP, or the right to reach this user or chat."""


class FeishuRateLimited(FeishuError):
    """A frequency limit was hit; `retry_after` says how many seconds to wait."""

    def __init__(
        self,
        code: int,
        msg: str,
        http_status: int = 0,
        log_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, msg, http_status, log_id)
        self.retry_after = 1.0 if retry_after is None else float(retry_after)


class FeishuMessageTooLarge(FeishuError):
    """The request body is over the text (150 KB) or card (30 KB) limit."""


class FeishuNotFound(FeishuError):
    """The message or chat is gone: recalled, dissolved, or too old to update."""


FeishuGone = FeishuNotFound


class FeishuBadRequest(FeishuError):
    """The request itself is wrong (bad parameter, id or card JSON): a bug on our side."""


class FeishuBuzzQuota(FeishuError):
    """Buzz cannot be sent: too many unread buzzes or the SMS/phone quota is used up."""


AUTH_CODES = frozenset({99991661, 99991663, 99991671, 10014, 10015, 20002})
PERMISSION_CODES = frozenset(
    {99991672, 99991401, 230027, 230013, 41050, 230035, 230053, 230002, 230006, 230018, 230050,
     230052, 232011, 232017, 232024}
)
RATE_LIMIT_CODES = frozenset({99991400, 230020, 11232, 11233, 232019})
TOO_LARGE_CODES = frozenset({230025, 19036})
NOT_FOUND_CODES = frozenset({230011, 232009, 230031, 230111, 41012})
BAD_REQUEST_CODES = frozenset(
    {230001, 230099, 230034, 40001, 230012, 230028, 230071, 230072, 232020, 232022, 232043, 99992402}
)
BUZZ_QUOTA_CODES = frozenset({230023, 230024})
TOKEN_RETRY_CODES = frozenset({99991661, 99991663})

_CLASSES: tuple[tuple[frozenset[int], type[FeishuError]], ...] = (
    (AUTH_CODES, FeishuAuthError),
    (PERMISSION_CODES, FeishuPermissionError),
    (TOO_LARGE_CODES, FeishuMessageTooLarge),
    (NOT_FOUND_CODES, FeishuNotFound),
    (BAD_REQUEST_CODES, FeishuBadRequest),
    (BUZZ_QUOTA_CODES, FeishuBuzzQuota),
)


def error_for(
    code: int,
    msg: str,
    http_status: int = 0,
    log_id: str | None = None,
    retry_after: float | None = None,
) -> FeishuError:
    """The exception for a failed call; unknown codes give a plain FeishuError."""
    if code in RATE_LIMIT_CODES or http_status == 429:
        return FeishuRateLimited(code, msg, http_status, log_id, retry_after)
    for codes, cls in _CLASSES:
        if code in codes:
            return cls(code, msg, http_status, log_id)
    return FeishuError(code, msg, http_status, log_id)
