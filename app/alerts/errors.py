"""Alert domain errors."""
from __future__ import annotations

from app.errors import BotError


class AlertParseError(BotError):
    """An alert payload is malformed; the message says what is wrong (answered with 400)."""


class AlertNotFound(BotError):
    """No alert has that id."""


class SilenceNotFound(BotError):
    """No active silence has that id."""
