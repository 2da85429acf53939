"""load_config(environ): the only reader of the environment. Typed values, fail fast."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app import localtime
from app.errors import ConfigError
from app.local_defaults import generated_secret, instance_folder, inventory_path

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
    "FEISHU_LEGACY_CARD_CALLBACKS": "false",
    "EVENT_SWEEP_INTERVAL": "30",
    "EVENT_MAX_ATTEMPTS": "5",
    "EVENT_STALE_AFTER": "600",
    "OUTBOX_CLAIM_TIMEOUT": "90",
    "LLM_THINK": "false",
    "LLM_CONNECT_TIMEOUT": "3",
    "LLM_READ_TIMEOUT": "60",
    "LLM_SLOW_MS": "3000",
    "LLM_RATE_PER_MINUTE": "100",
    "LLM_TOKENS_PER_DAY": "0",
    "LLM_MEMORY_TURNS": "10",
    "LLM_MEMORY_TOKENS": "3000",
    "LLM_MEMORY_IDLE": "1800",
    "LLM_STREAM_INTERVAL_MS": "500",
    "LLM_TOOL_ROUNDS": "3",
    "LLM_MAX_TOOL_CALLS": "4",
    "LLM_MAX_TOKENS": "1024",
    "LLM_ANSWER_DEADLINE": "120",
    "RETENTION_EVENTS_DAYS": "30",
    "RETENTION_EXECUTION_OUTPUT_DAYS": "90",
    "RETENTION_LLM_CALLS_DAYS": "90",
    "RETENTION_INTERVAL": "3600",
    "ALERT_FINGERPRINT_FIELDS": "source,host,service,metric,severity",
    "ALERT_STORM_WINDOW": "10",
    "ALERT_STORM_THRESHOLD": "5",
    "ALERT_STORM_MAX": "1800",
    "ALERT_CARD_REFRESH": "5",
    "ALERT_TICK_INTERVAL": "5",
    "ALERT_REMEDIATION_GRACE": "300",
    "ALERT_MAX_PER_REQUEST": "1000",
    "SSH_KNOWN_HOSTS": "config/known_hosts",
    "SSH_CONNECT_TIMEOUT": "10",
    "SSH_COMMAND_TIMEOUT": "300",
    "SSH_OUTPUT_CAP": "65536",
    "SSH_PARALLEL": "10",
    "SSH_REUSE": "true",
    "APPROVAL_TIMEOUT": "1800",
    "EXECUTION_STALE_AFTER": "120",
    "EXECUTION_HEARTBEAT": "5",
    "EXECUTION_SWEEP_INTERVAL": "30",
    "DEPLOY_TIMEOUT": "3600",
    "PROMETHEUS_TIMEOUT": "10",
    "ALERT_GRAPH_REFRESH": "300",
    "ELASTICSEARCH_TIMEOUT": "10",
    "SIGNIN_MAX_FAILURES": "5",
    "SIGNIN_LOCKOUT": "900",
    "SIGNIN_ACCOUNT_BACKOFF": "2",
    "SIGNIN_ACCOUNT_LOCKOUT_MAX": "300",
    "ADMIN_SESSION_HOURS": "12",
    "TRUSTED_PROXIES": "127.0.0.1,::1",
    "FEISHU_ACCOUNTS_URL": "https://accounts.feishu.cn",
    "WORKER_METRICS_PORT": "0",
    "SELFMON_INTERVAL": "60",
    "SELFMON_SLOW_CALLS": "5",
    "SELFMON_ERRORS": "30",
    "READYZ_CHECK_MODEL": "false",
    "TIMEZONE": "Asia/Shanghai",
    "COMMAND_RATE_PER_MINUTE": "100",
    "COMMAND_RATE_PER_ROLE": "",
    "COMMAND_RATE_EXEMPT_ADMINS": "true",
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
    "FEISHU_TRANSPORT",
    "LLM_API_KEY",
    "ALERT_WEBHOOK_TOKEN",
    "PROMETHEUS_URL",
    "ELASTICSEARCH_URL",
    "FAULT_POINTS",
)

# Plain integer settings and the least value each may take.
INTEGERS: dict[str, int] = {
    "FEISHU_MAX_EVENT_AGE": 0,
    "EVENT_SWEEP_INTERVAL": 1,
    "EVENT_MAX_ATTEMPTS": 1,
    "EVENT_STALE_AFTER": 1,
    "OUTBOX_CLAIM_TIMEOUT": 1,
    "LLM_CONNECT_TIMEOUT": 1,
    "LLM_READ_TIMEOUT": 1,
    "LLM_SLOW_MS": 1,
    "LLM_RATE_PER_MINUTE": 0,
    "LLM_TOKENS_PER_DAY": 0,
    "LLM_MEMORY_TURNS": 0,
    "LLM_MEMORY_TOKENS": 0,
    "LLM_MEMORY_IDLE": 1,
    "LLM_STREAM_INTERVAL_MS": 0,
    "LLM_TOOL_ROUNDS": 1,
    "LLM_MAX_TOOL_CALLS": 1,
    "LLM_MAX_TOKENS": 16,
    "LLM_ANSWER_DEADLINE": 1,
    "RETENTION_EVENTS_DAYS": 0,
    "RETENTION_EXECUTION_OUTPUT_DAYS": 0,
    "RETENTION_LLM_CALLS_DAYS": 0,
    "RETENTION_INTERVAL": 60,
    "ALERT_STORM_WINDOW": 1,
    "ALERT_STORM_THRESHOLD": 1,
    "ALERT_STORM_MAX": 1,
    "ALERT_CARD_REFRESH": 1,
    "ALERT_TICK_INTERVAL": 1,
    "ALERT_REMEDIATION_GRACE": 1,
    "ALERT_MAX_PER_REQUEST": 1,
    "SSH_CONNECT_TIMEOUT": 1,
    "SSH_COMMAND_TIMEOUT": 1,
    "SSH_OUTPUT_CAP": 1024,
    "SSH_PARALLEL": 1,
    "APPROVAL_TIMEOUT": 1,
    "EXECUTION_STALE_AFTER": 1,
    "EXECUTION_HEARTBEAT": 1,
    "EXECUTION_SWEEP_INTERVAL": 1,
    "DEPLOY_TIMEOUT": 1,
    "PROMETHEUS_TIMEOUT": 1,
    "ALERT_GRAPH_REFRESH": 0,
    "ELASTICSEARCH_TIMEOUT": 1,
    "SIGNIN_MAX_FAILURES": 1,
    "SIGNIN_LOCKOUT": 1,
    "SIGNIN_ACCOUNT_BACKOFF": 1,
    "SIGNIN_ACCOUNT_LOCKOUT_MAX": 1,
    "WORKER_METRICS_PORT": 0,
    "SELFMON_INTERVAL": 1,
    "SELFMON_SLOW_CALLS": 1,
    "SELFMON_ERRORS": 1,
    "COMMAND_RATE_PER_MINUTE": 0,
}

BOOLEANS = ("LLM_THINK", "SSH_REUSE", "FEISHU_LEGACY_CARD_CALLBACKS", "READYZ_CHECK_MODEL", "COMMAND_RATE_EXEMPT_ADMINS")

LLM_PROVIDERS = ("ollama", "openai")
TRANSPORTS = ("webhook", "longconn")


def _public_url_configured(public_url: str) -> bool:
    """True when PUBLIC_URL names a host other than loopback (so Feishu could reach a webhook there)."""
    from ipaddress import ip_address
    from urllib.parse import urlparse

    host = (urlparse(public_url).hostname or "").lower()
    if not host or host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ip_address(host).is_loopback
    except ValueError:
        return True


def _transport(environ: Mapping[str, str], public_url: str) -> str:
    """FEISHU_TRANSPORT, or longconn unless PUBLIC_URL is a non-loopback address."""
    raw = _str(environ, "FEISHU_TRANSPORT")
    if raw is None:
        return "webhook" if _public_url_configured(public_url) else "longconn"
    if raw not in TRANSPORTS:
        raise ConfigError(f"environment: FEISHU_TRANSPORT: expected one of {TRANSPORTS}, got {raw!r}")
    return raw


def _int(environ: Mapping[str, str], name: str, *, minimum: int = 0) -> int:
    raw = environ.get(name, DEFAULTS[name])
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"environment: {name}: expected an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"environment: {name}: must be >= {minimum}, got {value}")
    return value


def _bool(environ: Mapping[str, str], name: str) -> bool:
    raw = (environ.get(name) or DEFAULTS[name]).strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"environment: {name}: expected true or false, got {raw!r}")


def _str(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, DEFAULTS.get(name))
    if value is None:
        return None
    value = value.strip()
    return value or None


_FINGERPRINT_FIELDS = ("source", "host", "service", "metric", "severity", "alertname")


def _fields(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of alert fields (for the generic alert fingerprint)."""
    raw = environ.get(name, DEFAULTS[name])
    fields = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = [f for f in fields if f not in _FINGERPRINT_FIELDS and not f.startswith("labels.")]
    if not fields or unknown:
        raise ConfigError(
            f"environment: {name}: expected a comma-separated list of {', '.join(_FINGERPRINT_FIELDS)}"
            f" or labels.NAME, got {raw!r}"
        )
    return fields


def _per_role(environ: Mapping[str, str], name: str) -> dict[str, int]:
    """`role=N,role=N` overrides of a per-minute limit (0 = no limit for that role)."""
    from app.inventory.schema import Role

    raw = environ.get(name, DEFAULTS[name]).strip()
    roles = [role.value for role in Role]
    overrides: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        role, sep, value = (x.strip() for x in part.partition("="))
        if not sep or role not in roles or not value.isdigit():
            raise ConfigError(
                f"environment: {name}: expected role=N pairs separated by commas (roles: {', '.join(roles)};"
                f" N a whole number, 0 = no limit), got {part!r}"
            )
        if role in overrides:
            raise ConfigError(f"environment: {name}: role {role!r} is given twice")
        overrides[role] = int(value)
    return overrides


def _is_embedded(database_url: str, redis_url: str | None) -> bool:
    return database_url.startswith("sqlite") and not redis_url


def _embedded_secret(database_url: str) -> str:
    """A SECRET_KEY for embedded mode, generated once and kept beside the SQLite file."""
    from app.infra.private_files import private_file, private_folder

    folder = private_folder(instance_folder(database_url))  # owner-only, as the database beside it
    secret = generated_secret(folder / "secret_key")[0]  # made owner-only; an older, wider file is tightened:
    private_file(folder / "secret_key")
    return secret


MIN_SECRET_LENGTH = 32
# Words that mark a value copied from an example or typed as a stand-in (compared case-insensitively,
# ignoring - and _): the shipped examples use such values on purpose, so they are refused here.
_PLACEHOLDER_WORDS = ("changeme", "replaceme", "placeholder", "example", "secretkey", "notasecret",
                      "yoursecret", "insecure", "password")


def _secret_problem(value: str) -> str | None:
    """Why value is too weak to sign sessions or the audit chain with, or None."""
    folded = value.lower().replace("-", "").replace("_", "")
    for word in _PLACEHOLDER_WORDS:
        if word in folded:
            return f"looks like a placeholder (contains {word!r}); generate one with " \
                   "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
    if len(value) < MIN_SECRET_LENGTH:
        return f"too short ({len(value)} characters, at least {MIN_SECRET_LENGTH} needed); generate one with " \
               "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
    if len(set(value)) < 8:
        return "too few different characters to be random"
    return None


def _check_secret(name: str, value: str | None) -> None:
    if value is None:
        return
    problem = _secret_problem(value)
    if problem:
        raise ConfigError(f"environment: {name}: {problem}")


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
    elif not embedded:  # embedded mode generates a strong one unless told otherwise on one machine
        _check_secret("SECRET_KEY", secret_key)
    if not embedded:
        _check_secret("AUDIT_KEY", _str(environ, "AUDIT_KEY"))

    inventory, inventory_notice = inventory_path(environ, embedded=embedded)

    provider = _str(environ, "LLM_PROVIDER") or "ollama"
    if provider not in LLM_PROVIDERS:
        raise ConfigError(f"environment: LLM_PROVIDER: expected one of {LLM_PROVIDERS}, got {provider!r}")

    config: dict[str, Any] = {name: _str(environ, name) for name in OPTIONAL}
    config.update({name: _int(environ, name, minimum=least) for name, least in INTEGERS.items()})
    config.update({name: _bool(environ, name) for name in BOOLEANS})
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
            "OPENCLAW_CONFIG": inventory,
            # Shown once on stderr by create_app: the example inventory stands in for a missing one.
            "OPENCLAW_CONFIG_NOTICE": inventory_notice,
            "FEISHU_BASE_URL": (_str(environ, "FEISHU_BASE_URL") or "").rstrip("/"),
            "LLM_PROVIDER": provider,
            "LLM_BASE_URL": _str(environ, "LLM_BASE_URL"),
            "LLM_MODEL": _str(environ, "LLM_MODEL"),
            "PUBLIC_URL": (_str(environ, "PUBLIC_URL") or "").rstrip("/"),
            "LOG_LEVEL": (_str(environ, "LOG_LEVEL") or "INFO").upper(),
            "ALERT_FINGERPRINT_FIELDS": _fields(environ, "ALERT_FINGERPRINT_FIELDS"),
            "SSH_KNOWN_HOSTS": _str(environ, "SSH_KNOWN_HOSTS"),
            # No pre-ping: it costs a round trip per request on the webhook's hot path; a
            # connection broken by a database restart fails once and the pool is invalidated.
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 1800},
            "MAX_CONTENT_LENGTH": 1024 * 1024,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": (_str(environ, "PUBLIC_URL") or "").startswith("https://"),
            # Admin web sessions last ADMIN_SESSION_HOURS.
            "PERMANENT_SESSION_LIFETIME": 3600 * _int(environ, "ADMIN_SESSION_HOURS", minimum=1),
            # Unset: the proxies gunicorn already trusts (FORWARDED_ALLOW_IPS), so one setting serves both.
            "TRUSTED_PROXIES": tuple(
                p.strip() for p in (
                    environ.get("TRUSTED_PROXIES") or environ.get("FORWARDED_ALLOW_IPS") or DEFAULTS["TRUSTED_PROXIES"]
                ).split(",") if p.strip()
            ),
            # "Sign in with Feishu" sends people to this host's authorize page (accounts.larksuite.com for Lark).
            "FEISHU_ACCOUNTS_URL": (_str(environ, "FEISHU_ACCOUNTS_URL") or "").rstrip("/"),
            # CSRF is checked by the /admin blueprint only (webhooks and the bearer-token API are exempt).
            # Upstream keys for the AI gateway's `models:` (api_key_env names one of these variables).
            "MODEL_API_KEYS": {k: v.strip() for k, v in environ.items() if k.endswith("_API_KEY") and v.strip()},
            "WTF_CSRF_CHECK_DEFAULT": False,
            "WTF_CSRF_TIME_LIMIT": None,
        }
    )
    config["COMMAND_RATE_PER_ROLE"] = _per_role(environ, "COMMAND_RATE_PER_ROLE")
    config["TIMEZONE"] = _str(environ, "TIMEZONE") or DEFAULTS["TIMEZONE"]
    if reason := localtime.check(config["TIMEZONE"]):
        raise ConfigError(f"environment: TIMEZONE: {reason}")
    config["FEISHU_TRANSPORT"] = _transport(environ, config["PUBLIC_URL"])
    if (config["FEISHU_APP_ID"] is None) != (config["FEISHU_APP_SECRET"] is None):
        raise ConfigError("environment: FEISHU_APP_ID/FEISHU_APP_SECRET: set both or neither")
    return config
