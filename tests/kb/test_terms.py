"""Index terms: Chinese bigrams, English words with light stemming, question words dropped from queries."""
from __future__ import annotations

from app.kb.terms import document_terms, query_terms, terms


def test_chinese_runs_become_overlapping_bigrams() -> None:
    assert terms("磁盘满了") == ["磁盘", "盘满", "满了"]


def test_single_chinese_character_is_kept() -> None:
    assert terms("红 es") == ["红", "es"]


def test_english_words_are_lowercased_stemmed_and_stopwords_dropped() -> None:
    assert terms("The Pods are Restarting after restarts") == ["pod", "restart", "after", "restart"]


def test_mixed_text_keeps_both_scripts() -> None:
    assert terms("nginx 报 502") == ["nginx", "报", "502"]


def test_query_drops_question_words_and_repeats() -> None:
    assert query_terms("磁盘满了怎么办 磁盘") == ["磁盘", "盘满", "满了", "了怎"]


def test_title_and_tags_weigh_more_than_body() -> None:
    counts, length = document_terms(title="Redis memory", body="redis", tags=["cache"])
    assert counts["redis"] == 4 and counts["cache"] == 2 and length == sum(counts.values())
