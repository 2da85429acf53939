"""load_config: the only reader of the environment; typed values, defaults, fail fast with the name."""
from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from app.config import DEFAULTS, OPTIONAL, load_config
from app.errors import ConfigError
from tests.conftest import ROOT, TEST_SECRET_KEY


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative defaults (instance/, config/) land in a temporary directory, never in the repo."""
    monkeypatch.chdir(tmp_path)


def test_an_empty_environment_gives_the_documented_embedded_defaults(tmp_path: Path) -> None:
    config = load_config({})
    # instance/openclaw.db under the directory the process starts in
    assert config["DATABASE_URL"].startswith("sqlite:///")
    db_file = Path(config["DATABASE_URL"].removeprefix("sqlite:///"))
    assert db_file.resolve() == (tmp_path / "instance" / "openclaw.db").resolve()
    assert config["SQLALCHEMY_DATABASE_URI"] == config["DATABASE_URL"]
    assert config["REDIS_URL"] is None
    assert config["EMBEDDED"] is True
    assert config["OPENCLAW_CONFIG"] == "config/openclaw.yaml"
    assert config["FEISHU_BASE_URL"] == "https://open.feishu.cn"
    assert config["LLM_PROVIDER"] == "ollama"
    assert config["LLM_BASE_URL"] == "http://127.0.0.1:11434"
    assert config["LLM_MODEL"] == "qwen3:32b"
    assert config["PUBLIC_URL"] == "http://127.0.0.1:8000"
    assert config["FEISHU_MAX_EVENT_AGE"] == 0
    assert config["EVENT_SWEEP_INTERVAL"] == 30
    assert config["EVENT_MAX_ATTEMPTS"] == 5
    assert config["EVENT_STALE_AFTER"] == 600
    for name in ("FEISHU_APP_ID", "FEISHU_APP_SECRET", "FEISHU_VERIFICATION_TOKEN", "FEISHU_ENCRYPT_KEY",
                 "LLM_API_KEY", "ALERT_WEBHOOK_TOKEN", "PROMETHEUS_URL", "ELASTICSEARCH_URL"):
        assert config[name] is None, name
    assert config["SECRET_KEY"]
    assert (tmp_path / "instance" / "secret_key").is_file()


def test_embedded_mode_generates_a_secret_key_beside_the_sqlite_file_and_keeps_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/data/openclaw.db"
    first = load_config({"DATABASE_URL": url})
    key_file = tmp_path / "data" / "secret_key"
    assert key_file.read_text().strip() == first["SECRET_KEY"]
    assert len(first["SECRET_KEY"]) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_config({"DATABASE_URL": url})["SECRET_KEY"] == first["SECRET_KEY"]
    other = load_config({"DATABASE_URL": f"sqlite:///{tmp_path}/elsewhere/openclaw.db"})
    assert other["SECRET_KEY"] != first["SECRET_KEY"]


def test_an_explicit_secret_key_wins_over_the_generated_one(tmp_path: Path) -> None:
    config = load_config({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SECRET_KEY": "s3cret"})
    assert config["SECRET_KEY"] == "s3cret"
    assert not (tmp_path / "secret_key").exists()


def test_secret_key_is_required_with_postgresql() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({"DATABASE_URL": "postgresql+psycopg://u@db/openclaw"})


def test_secret_key_is_required_with_redis_even_on_sqlite(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "REDIS_URL": "redis://127.0.0.1:6379/0"})


def test_a_blank_secret_key_counts_as_missing() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({"DATABASE_URL": "postgresql://u@db/openclaw", "SECRET_KEY": "   "})


def test_production_settings_are_not_embedded() -> None:
    config = load_config({"DATABASE_URL": "postgresql://u@db/openclaw", "REDIS_URL": "redis://r:6379/0",
                          "SECRET_KEY": TEST_SECRET_KEY})
    assert config["EMBEDDED"] is False
    assert config["REDIS_URL"] == "redis://r:6379/0"


@pytest.mark.parametrize("url", ["postgres://u:p@db:5432/openclaw", "postgresql://u:p@db:5432/openclaw"])
def test_plain_postgres_urls_use_the_psycopg_3_driver(url: str) -> None:
    config = load_config({"DATABASE_URL": url, "SECRET_KEY": TEST_SECRET_KEY})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db:5432/openclaw"


@pytest.mark.parametrize("name", ["EVENT_SWEEP_INTERVAL", "EVENT_MAX_ATTEMPTS", "EVENT_STALE_AFTER",
                                  "FEISHU_MAX_EVENT_AGE"])
def test_a_value_that_is_not_an_integer_names_the_variable_and_the_value(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({name: "ten"})
    assert name in str(caught.value)
    assert "'ten'" in str(caught.value)
    assert "integer" in str(caught.value)


@pytest.mark.parametrize("name", ["EVENT_SWEEP_INTERVAL", "EVENT_MAX_ATTEMPTS", "EVENT_STALE_AFTER"])
def test_a_count_below_one_names_the_variable(name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_config({name: "0"})


def test_a_negative_max_event_age_is_refused_and_zero_turns_the_bound_off() -> None:
    with pytest.raises(ConfigError, match="FEISHU_MAX_EVENT_AGE"):
        load_config({"FEISHU_MAX_EVENT_AGE": "-1"})
    assert load_config({"FEISHU_MAX_EVENT_AGE": "0"})["FEISHU_MAX_EVENT_AGE"] == 0
    assert load_config({"FEISHU_MAX_EVENT_AGE": " 900 "})["FEISHU_MAX_EVENT_AGE"] == 900


def test_an_unknown_llm_provider_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="LLM_PROVIDER"):
        load_config({"LLM_PROVIDER": "skynet"})


def test_feishu_app_id_without_its_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="FEISHU_APP_ID"):
        load_config({"FEISHU_APP_ID": "cli_x"})
    with pytest.raises(ConfigError, match="FEISHU_APP_SECRET"):
        load_config({"FEISHU_APP_SECRET": "s"})


def test_empty_values_count_as_unset_and_values_are_trimmed() -> None:
    config = load_config({"FEISHU_ENCRYPT_KEY": "", "FEISHU_VERIFICATION_TOKEN": "  tok  ", "REDIS_URL": ""})
    assert config["FEISHU_ENCRYPT_KEY"] is None
    assert config["FEISHU_VERIFICATION_TOKEN"] == "tok"
    assert config["REDIS_URL"] is None


def test_trailing_slashes_are_dropped_from_base_urls() -> None:
    config = load_config({"FEISHU_BASE_URL": "https://open.larksuite.com/", "PUBLIC_URL": "https://bot.example/"})
    assert config["FEISHU_BASE_URL"] == "https://open.larksuite.com"
    assert config["PUBLIC_URL"] == "https://bot.example"
    assert config["SESSION_COOKIE_SECURE"] is True


def test_the_audit_key_is_derived_from_the_secret_key_but_differs_from_it_unless_set() -> None:
    derived = load_config({"SECRET_KEY": "k"})["AUDIT_KEY"]
    assert derived and derived != "k"
    assert load_config({"SECRET_KEY": "k"})["AUDIT_KEY"] == derived
    assert load_config({"SECRET_KEY": "other"})["AUDIT_KEY"] != derived
    assert load_config({"SECRET_KEY": "k", "AUDIT_KEY": "audit"})["AUDIT_KEY"] == "audit"


PRODUCTION = {"DATABASE_URL": "postgresql://u@db/openclaw", "REDIS_URL": "redis://r:6379/0"}


def _shipped_secret_key() -> str:
    found = re.search(r"^\s*SECRET_KEY:\s*(\S+)", (ROOT / "deploy/kubernetes/secret.yaml").read_text(), re.M)
    assert found
    return found.group(1)


@pytest.mark.parametrize("value", ["k", "CHANGE-ME", "changeme", "secret", "test-secret-key",
                                   "change-me-to-a-long-random-string-of-48-chars!!", "a" * 64,
                                   "please-replace-me-with-something-random-and-long-1234",
                                   "bench", "your-secret-key-goes-here-0123456789abcdef"])
def test_short_or_placeholder_secret_keys_are_refused_outside_embedded_mode(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({**PRODUCTION, "SECRET_KEY": value})
    message = str(caught.value)
    assert message.startswith("environment: SECRET_KEY:")
    assert "placeholder" in message or "too short" in message or "different characters" in message


def test_the_shipped_examples_carry_no_secret_key_that_would_be_accepted() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({**PRODUCTION, "SECRET_KEY": _shipped_secret_key()})
    example = (ROOT / ".env.example").read_text()
    assert re.search(r"^# SECRET_KEY=$", example, re.M)  # unset: docker compose refuses to start without one
    assert "${SECRET_KEY:?" in (ROOT / "docker-compose.yml").read_text()


def test_a_generated_secret_key_is_accepted_and_a_weak_audit_key_is_refused() -> None:
    import secrets

    strong = secrets.token_urlsafe(48)
    assert load_config({**PRODUCTION, "SECRET_KEY": strong})["SECRET_KEY"] == strong
    with pytest.raises(ConfigError, match="^environment: AUDIT_KEY: too short"):
        load_config({**PRODUCTION, "SECRET_KEY": strong, "AUDIT_KEY": "audit"})
    assert load_config({**PRODUCTION, "SECRET_KEY": strong, "AUDIT_KEY": strong + "x"})["AUDIT_KEY"] == strong + "x"


def test_embedded_mode_keeps_accepting_a_short_key_set_on_purpose(tmp_path: Path) -> None:
    config = load_config({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SECRET_KEY": "s3cret", "AUDIT_KEY": "a"})
    assert config["SECRET_KEY"] == "s3cret"


def test_the_log_level_is_upper_cased() -> None:
    assert load_config({"LOG_LEVEL": "debug"})["LOG_LEVEL"] == "DEBUG"


def test_env_example_lists_every_variable_the_app_reads() -> None:
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M))
    missing = (set(DEFAULTS) | set(OPTIONAL)) - listed
    assert not missing, f".env.example does not list {sorted(missing)}"


def test_env_example_shows_the_defaults_load_config_uses() -> None:
    example = (ROOT / ".env.example").read_text()
    for name, default in DEFAULTS.items():
        assert re.search(rf"^#?\s*{name}={re.escape(default)}\s*$", example, re.M), f"{name}={default}"
