"""Inbound events: recorded once, processed at least once, handled idempotently."""
