"""Pure text helpers: PII masking, byte-accurate splitting, card fitting."""
from __future__ import annotations

import json
from typing import Any

import pytest

from app.feishu.text import CARD_LIMIT_BYTES, card_size, fit_card, mask_card, mask_pii, split_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call 13812345678 now", "call 138****5678 now"),
        ("+86 138 1234 5678", "+86 138****5678"),
        ("+86-138-1234-5678", "+86-138****5678"),
        ("+8613812345678", "+86138****5678"),
        ("电话13812345678请回电", "电话138****5678请回电"),
        ("tel:15900001111,", "tel:159****1111,"),
        ("+1 415 555 2671", "+1 4** *** 2671"),
        ("+44 20 7946 0958", "+44 ** **** 0958"),
        ("+14155552671", "+14*****2671"),
        ("mail a@example.com.", "mail a***@example.com."),
        ("first.last+tag@sub.example.co.uk", "f***@sub.example.co.uk"),
        ("13812345678@qq.com", "1***@qq.com"),
    ],
)
def test_mask_pii_masks_phones_and_emails(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-15 13:45:12",
        "2024-01-15T13:45:12+08:00 and 20240115T134512+0800",
        "epoch 1700000000 ms 1700000000123",
        "host 10.0.0.11:13800 and 192.168.100.200",
        "v1.13.5 build 1.13812345678",
        "sha 3f9a13812345678bc0 and deadbeef13912345678",
        "ou_84aad35d084aa403a838cf73ee18467 om_dc13264520392913993dd051dba21dcf",
        "id=a13812345678 and 138123456789 (12 digits)",
        "550e8400-e29b-41d4-a716-446655440000",
        "root@10.0.0.11 and deploy@web-3",
        "<at email=alice@example.com></at>",
        "count +5, offset +0800, +1 2024",
    ],
)
def test_mask_pii_leaves_timestamps_ips_versions_and_ids_alone(text: str) -> None:
    assert mask_pii(text) == text


def test_mask_pii_is_idempotent() -> None:
    text = "a@example.com +86 13812345678 +1 415 555 2671"
    assert mask_pii(mask_pii(text)) == mask_pii(text)


def test_mask_card_masks_text_but_not_urls_or_values() -> None:
    card = {
        "elements": [
            {"tag": "markdown", "content": "owner 13812345678"},
            {"tag": "div", "text": {"tag": "lark_md", "content": "bob@example.com"}},
            {"tag": "button", "url": "https://x/?tel=13812345678", "value": {"mail": "bob@example.com"}},
        ]
    }
    masked = mask_card(card)
    assert masked["elements"][0]["content"] == "owner 138****5678"
    assert masked["elements"][1]["text"]["content"] == "b***@example.com"
    assert masked["elements"][2] == card["elements"][2]
    assert card["elements"][0]["content"] == "owner 13812345678"  # input untouched


def test_split_text_is_lossless_and_splits_on_line_ends() -> None:
    lines = [f"line {i:03d} " + "x" * 40 for i in range(100)]
    text = "\n".join(lines)
    pieces = split_text(text, 1000)
    assert "".join(pieces) == text
    assert len(pieces) > 1
    assert all(len(p.encode()) <= 1000 for p in pieces)
    assert all(p.endswith("\n") for p in pieces[:-1])


@pytest.mark.parametrize("limit", [4, 5, 7, 100, 1001])
def test_split_text_never_cuts_a_multibyte_character(limit: int) -> None:
    text = ("告警：磁盘使用率 97% 🔥 " * 60) + "\n" + "é" * 300
    pieces = split_text(text, limit)
    assert "".join(pieces) == text
    assert all(0 < len(p.encode("utf-8")) <= limit for p in pieces)


def test_split_text_cuts_a_long_line_at_a_space() -> None:
    text = " ".join(["word"] * 100)
    pieces = split_text(text, 64)
    assert "".join(pieces) == text
    assert all(p.endswith(" ") for p in pieces[:-1])


def test_split_text_of_short_and_empty_text() -> None:
    assert split_text("hello\n", 100) == ["hello\n"]
    assert split_text("", 100) == []
    with pytest.raises(ValueError):
        split_text("x", 3)


def _big_card(size: int) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "header": {"title": {"tag": "plain_text", "content": "CPU high on web-3"}, "template": "red"},
        "body": {
            "elements": [
                {"tag": "markdown", "content": "**host** web-3"},
                {"tag": "markdown", "content": "```\n" + "log line \"quoted\" 告警\n" * (size // 24) + "```"},
                {"tag": "markdown", "content": "short tail " * 300},
            ]
        },
    }


def test_fit_card_returns_a_small_card_unchanged() -> None:
    card = _big_card(1000)
    assert fit_card(card) is card


def test_fit_card_truncates_the_longest_text_and_says_how_much() -> None:
    card = _big_card(80 * 1024)
    original = card["body"]["elements"][1]["content"]
    fitted = fit_card(card)
    assert card_size(fitted) <= CARD_LIMIT_BYTES
    assert json.loads(json.dumps(fitted, ensure_ascii=False)) == fitted
    elements = fitted["body"]["elements"]
    assert elements[0] == card["body"]["elements"][0]
    assert elements[2] == card["body"]["elements"][2]
    assert fitted["header"] == card["header"]
    truncated = elements[1]["content"]
    head, note = truncated.rsplit("\n\n", 1)
    omitted = int(note.removeprefix("(truncated: ").removesuffix(" bytes omitted)"))
    kept = head.removesuffix("\n```")
    assert original.startswith(kept)
    assert omitted == len(original.encode()) - len(kept.encode())
    assert head.count("```") % 2 == 0  # the code fence is closed again
    assert card_size(fitted) > CARD_LIMIT_BYTES - 2048  # cut only as much as needed


def test_fit_card_cuts_several_texts_when_one_is_not_enough() -> None:
    card = {"elements": [{"tag": "markdown", "content": "a" * 20000}, {"tag": "markdown", "content": "b" * 20000}]}
    fitted = fit_card(card, 10000)
    assert card_size(fitted) <= 10000
    assert all("bytes omitted)" in e["content"] for e in fitted["elements"])


def test_fit_card_refuses_a_card_without_text_to_cut() -> None:
    card = {"elements": [{"tag": "img", "img_key": "k" * 40000}]}
    with pytest.raises(ValueError):
        fit_card(card)
