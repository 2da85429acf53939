"""Alerts: ingest from monitors, dedup, route, notify, escalate and self-heal."""
