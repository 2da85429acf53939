"""Article (current version), ArticleVersion (history) and ArticleTerm (the search index)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.infra.db import UTCDateTime, db, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class Article(db.Model):  # type: ignore[name-defined]
    """A knowledge-base article as it reads now; `version` counts its ArticleVersion rows."""

    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), index=True)
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    author: Mapped[str] = mapped_column(String(128))
    source_path: Mapped[str | None] = mapped_column(String(512), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # "draft" articles (postmortem drafts) are kept but not searchable until someone publishes them.
    status: Mapped[str] = mapped_column(String(16), default="published", server_default="published")
    doc_len: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArticleVersion(db.Model):  # type: ignore[name-defined]
    """One saved version of an article (append-only history)."""

    __tablename__ = "kb_article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version", name="uq_kb_article_versions_article_id_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArticleTerm(db.Model):  # type: ignore[name-defined]
    """Postings: how often a term (English word or Chinese bigram) occurs in an article, weighted."""

    __tablename__ = "kb_terms"
    # Covering index: a query term's postings are read from the index alone (PostgreSQL and SQLite).
    __table_args__ = (Index("ix_kb_terms_term_postings", "term", "article_id", "tf", "doc_len"),)

    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), primary_key=True)
    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    tf: Mapped[int] = mapped_column(Integer)
    doc_len: Mapped[int] = mapped_column(Integer)  # copied from the article so scoring needs no join


class Draft(db.Model):  # type: ignore[name-defined]
    """A pending `/kb add TITLE` waiting for its text, kept here when there is no Redis (embedded mode)."""

    __tablename__ = "kb_drafts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(128))
    open_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("chat_id", "open_id", name="uq_kb_drafts_chat_id_open_id"),)
