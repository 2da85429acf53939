"""Automation errors: each a BotError whose message can be shown to the person who asked."""
from __future__ import annotations

from app.errors import BotError


class PolicyDenied(BotError):
    """The policy refuses this action for this person (role, environment rule, self-approval)."""


class AutomationPaused(PolicyDenied):
    """The kill switch is on: mutating actions are refused until someone resumes automation."""


class ExecutionNotFound(BotError):
    """No execution has that id."""


class InvalidTransition(BotError):
    """The execution is not in a state that allows this (already approved, finished, expired...)."""


class DeployLocked(BotError):
    """Another deploy of the same app and environment is running."""
