"""Untrusted text inside Feishu card markdown: shown literally, with http(s) links only, and never a mention.

Escapes are markdown escapes (a backslash), not HTML entities, and only where a character could
start markup, so ordinary text such as known_hosts or 5*3 reads the same. A `<` that could open
a tag (`<at id=all>`, `<font>`, `<a href>`) becomes the full-width `＜`: no renderer reads a tag
or a mention in it, whatever its escaping rules. Alert summaries, runbook and generator links,
command output and the assistant's answers all reach cards through here.
"""
from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

SAFE_SCHEMES = ("http", "https")
FULLWIDTH_LT = "\uff1c"

_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
_MENTION = re.compile(r"<(?=\s*/?\s*at\b)", re.IGNORECASE)
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_BACKSLASH = re.compile(r"\\(?=[!-/:-@\[-`{-~])")  # only a backslash that would escape what follows
_ALWAYS = re.compile(r"([`*\[\]]|~(?=~)|(?<=~)~)")
_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")  # known_hosts is not emphasis
_BLOCK_START = re.compile(r"(?<=\n)([ \t]*)([#>+-])(?=\s|#|$)")
_ORDERED = re.compile(r"(?<=\n)([ \t]*\d+)\.(?=\s|$)")
_FENCE = re.compile(r"(```.*?(?:```|\Z))", re.DOTALL)
_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def _defuse_tags(text: str) -> str:
    text = _TAG_OPEN.sub(FULLWIDTH_LT, _MENTION.sub(FULLWIDTH_LT, text))
    return _ENTITY.sub(r"\\&", text)


def escape(text: str, *, starts_line: bool = False) -> str:
    """text shown literally in card markdown: no formatting, links, tags or mentions come out of it.

    Headings, lists and quotes only start a line: starts_line says the text itself begins one
    (a whole markdown element), else only its own line breaks are looked after.
    """
    text = _BACKSLASH.sub(r"\\\\", text)
    text = _ALWAYS.sub(r"\\\1", text)
    text = _UNDERSCORE.sub(r"\\_", text)
    text = ("\n" + text if starts_line else text)
    text = _ORDERED.sub(r"\1\\.", _BLOCK_START.sub(r"\1\\\2", text))
    return _defuse_tags(text[1:] if starts_line else text)


def safe_url(url: str | None) -> str | None:
    """url if it is an absolute http(s) URL (characters that could end a markdown link encoded), else None."""
    if not url or any(ord(c) < 0x20 or c == "\x7f" for c in url):
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES or not parts.netloc or "\\" in url:
        return None
    return quote(url, safe="/:?#[]@!$&'*+,;=%~._-")


def link(label: str, url: str | None) -> str:
    """A markdown link when url is a safe http(s) URL, else the label alone; the label is escaped."""
    safe = safe_url(url)
    return f"[{escape(label)}]({safe})" if safe else escape(label)


def _sanitize_prose(text: str) -> str:
    def relink(match: re.Match[str]) -> str:
        image, label, url = match.group(1), match.group(2), match.group(3)
        safe = safe_url(url)
        if image or safe is None:
            return label  # images and non-http(s) links keep only their words
        return f"[{label}]({safe})"

    return _defuse_tags(_LINK.sub(relink, text))


def sanitize(markdown: str) -> str:
    """Markdown written elsewhere (the model's answer) kept formatted, but without tags, mentions,
    images or links other than http(s). Code blocks stay verbatim except that they cannot hold a mention."""
    parts = _FENCE.split(markdown)
    return "".join(_MENTION.sub(FULLWIDTH_LT, part) if index % 2 else _sanitize_prose(part)
                   for index, part in enumerate(parts))


def code_safe(text: str) -> str:
    """Text going inside a code block: verbatim except that `<at` cannot become a mention."""
    return _MENTION.sub(FULLWIDTH_LT, text)


def unescape(markdown: str) -> str:
    """Card markdown's backslash escapes removed (code blocks left alone), for plain-text views of a card."""
    parts = _FENCE.split(markdown)
    return "".join(part if index % 2 else _UNESCAPE.sub(r"\1", part) for index, part in enumerate(parts))
