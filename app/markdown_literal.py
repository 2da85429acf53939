"""Text shown literally inside Feishu card markdown: escape only what markdown would read as syntax.

Feishu takes HTML entities for characters that must show literally. Escaping every
`_` or `#` made `known&#95;hosts` leak wherever cards are read as text; markdown
never reads an underscore inside a word (`known_hosts`) as emphasis, nor a `#` that
does not open a line followed by a space (`#12`) as a heading, so those stay as they are.
"""
from __future__ import annotations

import re

_ALWAYS = {"*": "&#42;", "~": "&#126;", "`": "&#96;", "[": "&#91;", "]": "&#93;", "<": "&lt;", ">": "&gt;"}
_HEADING = re.compile(r"#{1,6}(?:[ \t]|$)", re.MULTILINE)  # `#1` or `#tag` is no heading, `# x` is
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def _word(ch: str) -> bool:
    return ch.isalnum()


def literal(text: str) -> str:
    """text escaped for card markdown: emphasis, code, links, tags, headings and entities cannot start."""
    out: list[str] = []
    line_start = True
    for i, ch in enumerate(text):
        if ch in _ALWAYS:
            out.append(_ALWAYS[ch])
        elif ch == "&":
            out.append("&amp;" if _ENTITY.match(text, i) else "&")
        elif ch == "_":
            inside_word = 0 < i < len(text) - 1 and _word(text[i - 1]) and _word(text[i + 1])
            out.append("_" if inside_word else "&#95;")
        elif ch == "#" and line_start and _HEADING.match(text, i):
            out.append("&#35;")
        else:
            out.append(ch)
        if ch == "\n":
            line_start = True
        elif not ch.isspace():
            line_start = False
    return "".join(out)
