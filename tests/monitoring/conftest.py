"""Fixtures for the observability tests: the fake model server."""
from tests.fakes.llm_fixtures import llm_server  # noqa: F401 - fixture
