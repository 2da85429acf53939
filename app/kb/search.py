"""The search index: postings kept in kb_terms, scored with BM25 in SQL (PostgreSQL and SQLite alike)."""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, text

from app.infra.db import db
from app.kb.models import Article, ArticleTerm
from app.kb.terms import document_terms, query_terms, terms

# Tuned with scripts/bench/kb.py (10k articles): less tf saturation than the usual 1.2 lets the
# title weighting count; stronger length normalisation keeps long articles from matching by bulk.
K1, B = 2.0, 0.9
MAX_QUERY_TERMS = 20


_stats: dict[str, tuple[float, int, float]] = {}  # engine url -> (read at, articles, average length)
STATS_TTL = 30.0  # seconds; N and avgdl move slowly, and counting them costs a scan of kb_articles


@dataclass(frozen=True)
class Hit:
    """One search result: the article, its score and the best matching snippet."""

    article_id: int
    title: str
    score: float
    snippet: str
    tags: tuple[str, ...] = ()
    matched: int = 0  # distinct query terms found in the article


def index_article(article: Article) -> None:
    """Replace the article's postings (call inside the transaction that saves it)."""
    counts, length = document_terms(title=article.title, body=article.body, tags=list(article.tags or []))
    article.doc_len = length
    _stats.clear()  # this process sees its own changes at once; others within STATS_TTL
    db.session.execute(delete(ArticleTerm).where(ArticleTerm.article_id == article.id))
    rows = [{"article_id": article.id, "term": term, "tf": tf, "doc_len": length} for term, tf in counts.items()]
    if rows:
        db.session.execute(insert(ArticleTerm), rows)


def _corpus_stats() -> tuple[int, float]:
    """Article count and average length, cached briefly per process."""
    key = str(db.engine.url)
    cached = _stats.get(key)
    if cached is not None and time.monotonic() - cached[0] < STATS_TTL:
        return cached[1], cached[2]
    total, avg_len = db.session.execute(select(func.count(Article.id), func.avg(Article.doc_len))).one()
    _stats[key] = (time.monotonic(), int(total or 0), float(avg_len or 1.0))
    return _stats[key][1], _stats[key][2]


def _idf(terms_: list[str]) -> tuple[dict[str, float], float]:
    """BM25 idf per query term that occurs anywhere, and the average document length."""
    total, avg_len = _corpus_stats()
    if not total:
        return {}, 1.0
    df = dict(db.session.execute(
        select(ArticleTerm.term, func.count()).where(ArticleTerm.term.in_(terms_)).group_by(ArticleTerm.term)
    ).all())
    idf = {t: math.log(1 + (total - n + 0.5) / (n + 0.5)) for t, n in df.items()}
    # A long question's commonest terms add little but cost the most postings: keep the rarest.
    best = sorted(idf, key=idf.__getitem__, reverse=True)[:MAX_QUERY_TERMS]
    return {t: idf[t] for t in best}, float(avg_len or 1.0)


def _ranked(idf: dict[str, float], avg_len: float, limit: int) -> list[tuple[int, float, int]]:
    """Article ids and BM25 scores, best first, computed by the database."""
    values = ", ".join(f"(CAST(:t{i} AS VARCHAR(64)), CAST(:w{i} AS FLOAT))" for i in range(len(idf)))
    # score = idf * tf * (k1 + 1) / (tf + k1 * (1 - b) + k1 * b * doc_len / avgdl), in floats (numeric is slow)
    params: dict[str, object] = {"c1": K1 * (1 - B), "c2": K1 * B / avg_len, "limit": limit}
    for i, (term, weight) in enumerate(idf.items()):
        params[f"t{i}"], params[f"w{i}"] = term, weight * (K1 + 1)
    sql = text(
        f"WITH q(term, idf) AS (VALUES {values}) "
        "SELECT t.article_id, SUM(q.idf * t.tf / (t.tf + CAST(:c1 AS FLOAT) + CAST(:c2 AS FLOAT) * t.doc_len)) AS score, "
        "COUNT(*) AS matched "
        "FROM kb_terms t JOIN q ON q.term = t.term GROUP BY t.article_id ORDER BY score DESC, t.article_id LIMIT :limit"
    )
    return [(int(row[0]), float(row[1]), int(row[2])) for row in db.session.execute(sql, params)]


def snippet(body: str, wanted: set[str], width: int = 160) -> str:
    """The body line that holds most query terms, trimmed to about width characters."""
    lines = [line.strip() for line in body.splitlines() if line.strip() and not line.startswith("#")] or [body.strip()]
    best = max(lines, key=lambda line: len(wanted.intersection(terms(line))))
    best = re.sub(r"\s+", " ", best)
    return best if len(best) <= width else best[: width - 1] + "…"


def search(query: str, *, limit: int = 5, snippets: bool = True) -> list[Hit]:
    """The best articles for query (Chinese or English), with snippets unless told not to."""
    wanted = query_terms(query)
    if not wanted:
        return []
    idf, avg_len = _idf(wanted)
    if not idf:
        return []
    ranked = _ranked(idf, avg_len, limit)
    articles = {a.id: a for a in db.session.execute(select(Article).where(Article.id.in_([r[0] for r in ranked]))).scalars()}
    found = set(idf)
    return [Hit(i, articles[i].title, round(score, 3), snippet(articles[i].body, found) if snippets else "",
                tuple(articles[i].tags or ()), matched)
            for i, score, matched in ranked if i in articles]


def passages(article: Article, query: str, *, budget: int = 1200) -> str:
    """The article's paragraphs most related to query, in document order, within budget characters."""
    wanted = set(query_terms(query))
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", article.body) if p.strip()]
    scored = sorted(range(len(paragraphs)), key=lambda i: -len(wanted.intersection(terms(paragraphs[i]))))
    chosen: list[int] = []
    used = 0
    for index in scored:
        if used + len(paragraphs[index]) > budget and chosen:
            continue
        chosen.append(index)
        used += len(paragraphs[index])
    text_ = "\n\n".join(paragraphs[i] for i in sorted(chosen))
    return text_ if len(text_) <= budget else text_[:budget] + "…"
