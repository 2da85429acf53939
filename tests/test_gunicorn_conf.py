"""gunicorn.conf.py: gunicorn's control socket (new in gunicorn 25) stays off unless asked for."""
from __future__ import annotations

import runpy

import pytest

from tests.conftest import ROOT


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    monkeypatch.delenv("GUNICORN_CONTROL_SOCKET", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_no_control_socket_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch)
    assert settings["control_socket_disable"] is True and "control_socket" not in settings


def test_a_control_socket_only_where_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch, GUNICORN_CONTROL_SOCKET="/run/openclaw/gunicorn.ctl")
    assert settings["control_socket_disable"] is False and settings["control_socket"] == "/run/openclaw/gunicorn.ctl"
