"""Knowledge-base lists: articles by last change, one saved version."""
from __future__ import annotations

from sqlalchemy import select

from app.infra.db import db
from app.kb.models import Article, ArticleVersion
from app.web.queries.pages import Page, paginate


def list_articles(page: int, per_page: int) -> Page[Article]:
    """Articles, most recently changed first."""
    return paginate(select(Article).order_by(Article.updated_at.desc(), Article.id.desc()), page, per_page)


def get_version(article_id: int, version: int) -> ArticleVersion | None:
    """One saved version of an article, or None."""
    return db.session.execute(
        select(ArticleVersion).where(ArticleVersion.article_id == article_id, ArticleVersion.version == version)
    ).scalar_one_or_none()


def list_versions(article_id: int, page: int, per_page: int) -> Page[ArticleVersion]:
    """An article's saved versions, newest first."""
    query = select(ArticleVersion).where(ArticleVersion.article_id == article_id).order_by(ArticleVersion.version.desc())
    return paginate(query, page, per_page)
