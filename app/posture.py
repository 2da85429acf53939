"""Settings that weaken security: logged once at start-up and shown on the admin overview."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)


def warnings(config: Mapping[str, Any]) -> list[str]:
    """One sentence per weakening setting in force, naming the setting."""
    found: list[str] = []
    # Without a verification token every push is refused anyway (Feishu intake is off): nothing to warn about.
    if config.get("FEISHU_VERIFICATION_TOKEN") and not config.get("FEISHU_ENCRYPT_KEY"):
        found.append(
            "FEISHU_ENCRYPT_KEY is not set: Feishu pushes are neither encrypted nor signed, and the"
            " verification token, the only check left, travels in every push."
        )
    if config.get("FEISHU_LEGACY_CARD_CALLBACKS"):
        found.append(
            "FEISHU_LEGACY_CARD_CALLBACKS is on: whoever learns the verification token can click"
            " Approve, Cancel or Acknowledge on a card as anyone."
        )
    return found


def log_warnings(config: Mapping[str, Any]) -> None:
    """Log each weakening setting as a warning (called once per process start)."""
    for text in warnings(config):
        logger.warning("insecure setting: %s", text, extra={"setting": text.split(" ", 1)[0]})
