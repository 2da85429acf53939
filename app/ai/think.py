"""Strip Qwen3 <think>...</think> blocks from model text, also when split across stream chunks."""
from __future__ import annotations

import re

OPEN, CLOSE = "<think>", "</think>"
_BLOCK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL)


def strip_think(text: str) -> str:
    """Text without think blocks; an unclosed <think> hides the rest, a stray </think> hides what precedes it."""
    if CLOSE in text and (OPEN not in text or text.index(CLOSE) < text.index(OPEN)):
        text = text.split(CLOSE, 1)[1]  # the template opened the block in the prompt: content starts inside it
    return _BLOCK.sub("", text).lstrip("\n") if OPEN in text or CLOSE in text else text


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of text that is a proper prefix of tag (a tag split across chunks)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkFilter:
    """Feed stream chunks in, get visible text out; holds back only what might be a split tag."""

    def __init__(self) -> None:
        self._buffer = ""
        self._inside = False
        self._started = False  # anything visible yet (leading blank lines after a block are dropped)

    def feed(self, chunk: str) -> str:
        """The visible part of chunk (plus anything held back before that is now known to be text)."""
        self._buffer += chunk
        out: list[str] = []
        while self._buffer:
            if self._inside:
                end = self._buffer.find(CLOSE)
                if end < 0:
                    keep = _partial_suffix(self._buffer, CLOSE)
                    self._buffer = self._buffer[len(self._buffer) - keep:] if keep else ""
                    break
                self._buffer = self._buffer[end + len(CLOSE):]
                self._inside = False
                continue
            start = self._buffer.find(OPEN)
            stray = self._buffer.find(CLOSE)
            if stray >= 0 and (start < 0 or stray < start) and not self._started:
                self._buffer = self._buffer[stray + len(CLOSE):]  # block opened by the chat template
                continue
            if start >= 0:
                out.append(self._buffer[:start])
                self._buffer = self._buffer[start + len(OPEN):]
                self._inside = True
                continue
            keep = max(_partial_suffix(self._buffer, OPEN), _partial_suffix(self._buffer, CLOSE) if not self._started else 0)
            out.append(self._buffer[: len(self._buffer) - keep])
            self._buffer = self._buffer[len(self._buffer) - keep:] if keep else ""
            break
        return self._visible("".join(out))

    def _visible(self, text: str) -> str:
        if not self._started:
            text = text.lstrip("\n")
            if text:
                self._started = True
        return text

    def flush(self) -> str:
        """What is left at the end of the stream (an unfinished tag is text; an unclosed block is not)."""
        rest = "" if self._inside else self._buffer
        self._buffer = ""
        return self._visible(rest)
