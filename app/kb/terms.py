"""Text to index terms: English words (lower-cased, lightly stemmed) and Chinese character bigrams.

Chinese has no spaces, so overlapping bigrams stand in for words: "磁盘满了" gives
磁盘, 盘满, 满了. They need no dictionary, work the same on PostgreSQL and SQLite, and
BM25's idf keeps the meaningless ones (了, 的 ...) from mattering much.
"""
from __future__ import annotations

import re
from collections import Counter

_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9][a-z0-9_]*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
MAX_TERM = 64
STOPWORDS = frozenset(
    "a an and are as at be been but by can could do does did for from had has have how i if in into is it its "
    "me my of on or our should so than that the their them then there these they this to too us was we were "
    "what when where which while who why will with would you your".split()
)
# Question words that carry no topic: dropped from queries only, never from documents.
QUERY_STOP = frozenset({"怎么", "么办", "如何", "什么", "为什", "怎样", "哪些", "是否", "可以", "一下", "应该", "请问", "需要", "处理"})
TITLE_WEIGHT, TAG_WEIGHT = 3, 2


def _stem(word: str) -> str:
    """Plural and -ing/-ed endings off (pods/restarting/restarted -> pod/restart); deliberately light."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("ing") and len(word) > 6:
        return word[:-3]
    if word.endswith("ed") and len(word) > 5:
        return word[:-2]
    if word.endswith("s") and len(word) > 3 and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The index terms of text, in order, repeats kept."""
    out: list[str] = []
    for token in _TOKEN.findall(text.lower()):
        if _CJK.match(token):
            if len(token) == 1:
                out.append(token)
            else:
                out.extend(token[i:i + 2] for i in range(len(token) - 1))
        elif token not in STOPWORDS and len(token) > 1 or token.isdigit():
            out.append(_stem(token)[:MAX_TERM])
    return out


def query_terms(text: str) -> list[str]:
    """Distinct terms of a query, without question words."""
    seen: dict[str, None] = {}
    for term in terms(text):
        if term not in QUERY_STOP:
            seen[term] = None
    return list(seen)[:32]


def document_terms(*, title: str, body: str, tags: list[str]) -> tuple[Counter[str], int]:
    """Weighted term frequencies (title x3, tags x2) and the document length for BM25."""
    counts: Counter[str] = Counter(terms(body))
    for term in terms(title):
        counts[term] += TITLE_WEIGHT
    for term in terms(" ".join(tags)):
        counts[term] += TAG_WEIGHT
    return counts, sum(counts.values())
