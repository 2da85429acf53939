"""Fixtures live in tests/fakes/fixtures.py (longconn, start_connector)."""
