"""The outbox: every chat message the bot sends is stored first, then delivered (and retried) by key."""
