"""load_config(environ): the only reader of the environment. Typed values, fail fast."""
from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.errors import ConfigError

DEFAULTS: dict[str, str] = {
    "DATABASE_URL": "sqlite:///instance/openclaw.db",
    "OPENCLAW_CONFIG": "config/openclaw.yaml",
    "FEISHU_BASE_URL": "https://open.feishu.cn",
    "LLM_PROVIDER": "ollama",
    "LLM_BASE_URL": "http://127.0.0.1:11434",
    "LLM_MODEL": "qwen3:32b",
    "PUBLIC_URL": "http://127.0.0.1:8000",
    "LOG_LEVEL": "INFO",
    "FEISHU_MAX_EVENT_AGE": "0",
    "EVENT_SWEEP_INTERVAL": "30",
    "EVENT_MAX_ATTEMPTS": "5",
    "EVENT_STALE_AFTER": "600",
}

OPTIONAL = (
    "REDIS_URL",
    "SECRET_KEY",
    "AUDIT_KEY",
    "FEISHU_APP_ID",
    "FEISHU_APP_SECRET",
    "FEISHU_VERIFICATION_TOKEN",
    "FEISHU_ENCRYPT_KEY",
    "FEISHU_BOT_OPEN_ID",
    "LLM_API_KEY",
    "ALERT_WEBHOOK_TOKEN",
    "PROMETHEUS_URL",
    "ELASTICSEARCH_URL",
)

LLM_PROVIDERS = ("ollama", "openai")


def _int(environ: Mapping[str, str], name: str, *, minimum: int = 0) -> int:
    raw = environ.get(name, DEFAULTS[name])
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"environment: {name}: expected an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"environment: {name}: must be >= {minimum}, got {value}")
    return value


def _str(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, DEFAULTS.get(name))
    if value is None:
        return None
    value = value.strip()
    return value or None


def _is_embedded(database_url: str, redis_url: str | None) -> bool:
    return database_url.startswith("sqlite") and not redis_url


def _embedded_secret(database_url: str) -> str:
    """A SECRET_KEY for embedded mode, generated once and kept beside the SQLite file."""
    db_path = database_url.removeprefix("sqlite:///")
    folder = Path(db_path).parent if db_path and db_path != ":memory:" else Path("instance")
    folder.mkdir(parents=True, exist_ok=True)
    key_file = folder / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _normalise_database_url(url: str) -> str:
    """psycopg 3 for plain postgres URLs (the only driver we ship); relative SQLite paths made absolute.

    Flask-SQLAlchemy would otherwise resolve a relative SQLite path against the
    app's instance folder, not the working directory the user meant.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        return "sqlite:///" + str(Path(url.removeprefix("sqlite:///")).resolve())
    return url


def load_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read every setting from environ, typed; raise ConfigError naming the variable."""
    environ = os.environ if environ is None else environ
    database_url = _normalise_database_url(_str(environ, "DATABASE_URL") or DEFAULTS["DATABASE_URL"])
    redis_url = _str(environ, "REDIS_URL")
    embedded = _is_embedded(database_url, redis_url)

    secret_key = _str(environ, "SECRET_KEY")
    if not secret_key:
        if not embedded:
            raise ConfigError("environment: SECRET_KEY: required when using PostgreSQL or Redis")
        secret_key = _embedded_secret(database_url)

    provider = _str(environ, "LLM_PROVIDER") or "ollama"
    if provider not in LLM_PROVIDERS:
        raise ConfigError(f"environment: LLM_PROVIDER: expected one of {LLM_PROVIDERS}, got {provider!r}")

    config: dict[str, Any] = {name: _str(environ, name) for name in OPTIONAL}
    config.update(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "EMBEDDED": embedded,
            "SECRET_KEY": secret_key,
            # The audit HMAC key defaults to one derived from SECRET_KEY, never SECRET_KEY itself.
            "AUDIT_KEY": _str(environ, "AUDIT_KEY")
            or hashlib.sha256(b"openclaw-audit:" + secret_key.encode()).hexdigest(),
            "OPENCLAW_CONFIG": _str(environ, "OPENCLAW_CONFIG"),
            "FEISHU_BASE_URL": (_str(environ, "FEISHU_BASE_URL") or "").rstrip("/"),
            "LLM_PROVIDER": provider,
            "LLM_BASE_URL": _str(environ, "LLM_BASE_URL"),
            "LLM_MODEL": _str(environ, "LLM_MODEL"),
            "PUBLIC_URL": (_str(environ, "PUBLIC_URL") or "").rstrip("/"),
            "LOG_LEVEL": (_str(environ, "LOG_LEVEL") or "INFO").upper(),
            "FEISHU_MAX_EVENT_AGE": _int(environ, "FEISHU_MAX_EVENT_AGE"),
            "EVENT_SWEEP_INTERVAL": _int(environ, "EVENT_SWEEP_INTERVAL", minimum=1),
            "EVENT_MAX_ATTEMPTS": _int(environ, "EVENT_MAX_ATTEMPTS", minimum=1),
            "EVENT_STALE_AFTER": _int(environ, "EVENT_STALE_AFTER", minimum=1),
            # No pre-ping: it costs a round trip per request on the webhook's hot path; a
            # connection broken by a database restart fails once and the pool is invalidated.
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 1800},
            "MAX_CONTENT_LENGTH": 1024 * 1024,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": (_str(environ, "PUBLIC_URL") or "").startswith("https://"),
        }
    )
    if (config["FEISHU_APP_ID"] is None) != (config["FEISHU_APP_SECRET"] is None):
        raise ConfigError("environment: FEISHU_APP_ID/FEISHU_APP_SECRET: set both or neither")
    return config
