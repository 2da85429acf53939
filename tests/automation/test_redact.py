"""redact(): every kind of secret is masked; ordinary text is left alone."""
from __future__ import annotations

import pytest

from app.automation.redact import MASK, redact

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACBqv3ZHc2VjcmV0a2V5bWF0ZXJpYWxub3R0b2JlbGVha2VkAAAAAAAAAAA=\n"
    "-----END OPENSSH PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("password=hunter2", "hunter2"),
        ("db password = hunter2 ok", "hunter2"),
        ("PASSWD: s3cr3t", "s3cr3t"),
        ("pwd=abc123", "abc123"),
        ("DB_PASSWORD=correct-horse", "correct-horse"),
        ("secret: 'two words'", "two words"),
        ('{"password": "hunter2", "user": "bob"}', "hunter2"),
        ("token=abcdef123456", "abcdef123456"),
        ("api_key: k-998877", "k-998877"),
        ("X-Api-Key: 1234abcd", "1234abcd"),
        ("access_key=AbCdEf0123", "AbCdEf0123"),
        ("private_key=MIIBOgIBAAJBAK", "MIIBOgIBAAJBAK"),
        ("client_secret: shh-1", "shh-1"),
        ("url?api_key=abc123&page=2", "abc123"),
        ("mysql --password hunter2 --host db", "hunter2"),
        ("mysql --password=hunter2", "hunter2"),
        ("Authorization: Bearer abcdefghijklmnop.qrs", "abcdefghijklmnop.qrs"),
        ("curl -H 'Authorization: Basic dXNlcjpwYXNzd29yZA=='", "dXNlcjpwYXNzd29yZA=="),
        (f"got token {JWT} from idp", JWT),
        ("aws key AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
        ("ASIAY34FZKBOKMUTVV7A temporary", "ASIAY34FZKBOKMUTVV7A"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("push with ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ now", "ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"),
        ("github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz0123456789", "github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz0123456789"),
        ("slack xoxb-1234567890-0987654321-abcdefghij", "xoxb-1234567890-0987654321-abcdefghij"),
        ("hook https://hooks.slack.com/services/T000/B000/XXXXXXXX", "T000/B000/XXXXXXXX"),
        ("glpat-abcdefghij0123456789", "glpat-abcdefghij0123456789"),
        ("sk-proj-abcdefghijklmnopqrstuvwx", "sk-proj-abcdefghijklmnopqrstuvwx"),
        ("postgres://app:s3cret@db.internal:5432/shop", "s3cret"),
        ("mysql://root:p@ss:w0rd@db/x", "p@ss:w0rd"),
        ("redis://:topsecret@cache:6379/0", "topsecret"),
        ("amqp://guest:guest-pass@mq//", "guest-pass"),
    ],
)
def test_each_kind_of_secret_is_masked(text: str, secret: str) -> None:
    result = redact(text)
    assert secret not in result
    assert MASK in result


def test_private_key_block_is_removed_whole() -> None:
    result = redact(f"before\n{PEM}\nafter")
    assert "b3BlbnNzaC1rZXkt" not in result and "QyNTUxOQ" not in result
    assert result.startswith("before\n-----BEGIN OPENSSH PRIVATE KEY-----\n***\n-----END OPENSSH PRIVATE KEY-----")
    assert result.endswith("after")


def test_unterminated_private_key_block_is_removed_to_the_end() -> None:
    result = redact("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtruncated")
    assert "MIIEow" not in result


def test_connection_string_keeps_user_and_host() -> None:
    assert redact("postgres://app:s3cret@db.internal:5432/shop") == "postgres://app:***@db.internal:5432/shop"


def test_bearer_header_keeps_the_scheme() -> None:
    assert redact("Authorization: Bearer abcdefghijklmnop") == "Authorization: Bearer ***"


@pytest.mark.parametrize(
    "text",
    [
        "Invalid password for user bob",
        "token expired, please log in",
        "Basic authentication failed",
        "max_tokens=5 passwords_file=/etc/x",
        "GET /api/v1/users 200 12ms",
        "commit 3f9a2c1d4e5b6a7980716253443526170819abcd",
        "https://example.com/path?page=2",
        "",
    ],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert redact(text) == text


def test_none_becomes_empty() -> None:
    assert redact(None) == ""


def test_redacting_twice_changes_nothing_more() -> None:
    once = redact(f"password=x1 token={JWT} postgres://a:b@h/d AKIAIOSFODNN7EXAMPLE")
    assert redact(once) == once


def test_every_secret_in_a_multiline_log_is_masked() -> None:
    log = "\n".join([
        "2026-11-21 app[1]: connecting postgres://shop:pg-pass-1@db:5432/shop",
        "2026-11-21 app[1]: DB_PASSWORD=pw-2 loaded",
        f"2026-11-21 app[1]: Authorization: Bearer {JWT}",
        "2026-11-21 app[1]: AWS AKIAIOSFODNN7EXAMPLE",
        PEM,
        "2026-11-21 app[1]: ready",
    ])
    result = redact(log)
    for secret in ("pg-pass-1", "pw-2", JWT, "AKIAIOSFODNN7EXAMPLE", "b3BlbnNzaC1rZXkt"):
        assert secret not in result
    assert result.endswith("ready")
