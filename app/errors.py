"""The one error tree: every domain error is a BotError with a message fit for users."""
from __future__ import annotations


class BotError(Exception):
    """Something went wrong that the person asking should hear about in plain words."""

    def __init__(self, message: str, *, user_message: str | None = None) -> None:
        super().__init__(message)
        self.user_message = user_message or message


class ConfigError(BotError):
    """Configuration (environment or inventory file) is invalid; the process must not start."""


class UsageError(BotError):
    """A command was given arguments it cannot take."""


class PermissionDenied(BotError):
    """The sender's role is not enough for the action."""


class AuditWriteFailed(BotError):
    """The audit record could not be written, so the action it guards must not run."""
