"""Knowledge-base services: add, update (new version), get, search, import a folder of markdown."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from app.audit import service as audit
from app.errors import BotError, UsageError
from app.infra.db import db, utcnow
from app.kb import search as index
from app.kb.models import Article, ArticleVersion

logger = logging.getLogger(__name__)

MAX_TITLE, MAX_BODY = 200, 100_000


class ArticleNotFound(BotError):
    """No knowledge-base article has that id."""


@dataclass
class ImportReport:
    """What kb import did: ids added, updated and left alone (content unchanged)."""

    added: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)


def _clean(title: str, body: str, tags: list[str] | tuple[str, ...]) -> tuple[str, str, list[str]]:
    title, body = title.strip(), body.strip()
    if not title or len(title) > MAX_TITLE:
        raise UsageError(f"an article needs a title of 1 to {MAX_TITLE} characters")
    if not body:
        raise UsageError("an article needs some text")
    if len(body) > MAX_BODY:
        raise UsageError(f"an article may have at most {MAX_BODY} characters")
    return title, body, sorted({t.strip().lower() for t in tags if t.strip()})


def _save_version(article: Article) -> None:
    db.session.add(ArticleVersion(article_id=article.id, version=article.version, title=article.title,
                                  body=article.body, tags=list(article.tags), author=article.author))


DRAFT, PUBLISHED = "draft", "published"


def add_article(*, title: str, body: str, author: str, tags: list[str] | tuple[str, ...] = (),
                source_path: str | None = None, chat_id: str | None = None, draft: bool = False) -> Article:
    """Create an article (version 1), index it unless it is a draft, audit and commit."""
    title, body, tag_list = _clean(title, body, tags)
    article = Article(title=title, body=body, tags=tag_list, author=author, source_path=source_path, version=1,
                      status=DRAFT if draft else PUBLISHED)
    db.session.add(article)
    db.session.flush()
    _save_version(article)
    if not draft:
        index.index_article(article)
    db.session.commit()
    audit.record(actor=author, action="kb.add", target=f"kb:{article.id}", chat_id=chat_id,
                 details={"title": title, "version": 1, "source_path": source_path, "status": article.status})
    return article


def publish_article(*, article_id: int, actor: str, chat_id: str | None = None) -> Article:
    """Make a draft searchable; publishing a published article changes nothing."""
    article = get_article_or_raise(article_id)
    if article.status == PUBLISHED:
        return article
    article.status = PUBLISHED
    article.updated_at = utcnow()
    index.index_article(article)
    db.session.commit()
    audit.record(actor=actor, action="kb.publish", target=f"kb:{article.id}", chat_id=chat_id,
                 details={"title": article.title, "version": article.version})
    return article


def update_article(*, article_id: int, body: str, author: str, title: str | None = None,
                   tags: list[str] | tuple[str, ...] | None = None, chat_id: str | None = None) -> Article:
    """Save a new version of an article (the old one stays in the history), reindex, audit and commit."""
    article = get_article_or_raise(article_id)
    title, body, tag_list = _clean(title or article.title, body, article.tags if tags is None else tags)
    article.title, article.body, article.tags, article.author = title, body, tag_list, author
    article.version += 1
    article.updated_at = utcnow()
    _save_version(article)
    if article.status != DRAFT:
        index.index_article(article)
    db.session.commit()
    audit.record(actor=author, action="kb.update", target=f"kb:{article.id}", chat_id=chat_id,
                 details={"title": title, "version": article.version})
    return article


def get_article(article_id: int) -> Article | None:
    """The article with this id, or None."""
    return db.session.get(Article, article_id)


def get_article_or_raise(article_id: int) -> Article:
    """The article with this id; ArticleNotFound otherwise."""
    article = get_article(article_id)
    if article is None:
        raise ArticleNotFound(f"no article {article_id}", user_message=f"No knowledge-base article #{article_id}.")
    return article


def get_article_by_title(title: str) -> Article | None:
    """The article with exactly this title (case-insensitive), or None."""
    return db.session.execute(
        select(Article).where(func.lower(Article.title) == title.strip().lower()).limit(1)
    ).scalar_one_or_none()


def list_versions(article_id: int) -> list[ArticleVersion]:
    """An article's versions, oldest first."""
    return list(db.session.execute(
        select(ArticleVersion).where(ArticleVersion.article_id == article_id).order_by(ArticleVersion.version)
    ).scalars())


def search(query: str, *, limit: int = 5) -> list[index.Hit]:
    """The best articles for query, Chinese or English."""
    return index.search(query, limit=limit)


_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)


def parse_markdown(path: Path) -> tuple[str, str, list[str]]:
    """Title (first `# ` heading, else the file name), body and tags (front matter `tags: a, b`)."""
    raw = path.read_text(encoding="utf-8")
    tags: list[str] = []
    front = _FRONT.match(raw)
    if front:
        raw = raw[front.end():]
        for line in front.group(1).splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "tags":
                tags = [t.strip(" []'\"") for t in value.split(",") if t.strip(" []'\"")]
    lines = raw.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# "):
            return line[2:].strip(), "\n".join(lines[:i] + lines[i + 1:]).strip(), tags
    return re.sub(r"[-_]+", " ", path.stem).strip(), raw.strip(), tags


def import_dir(folder: Path, *, author: str) -> ImportReport:
    """Import every *.md under folder; a file seen before (by path, else title) gets a new version if changed."""
    report = ImportReport()
    for path in sorted(folder.rglob("*.md")):
        rel = path.relative_to(folder).as_posix()
        title, body, tags = parse_markdown(path)
        existing = db.session.execute(select(Article).where(Article.source_path == rel)).scalar_one_or_none()
        existing = existing or get_article_by_title(title)
        if existing is None:
            report.added.append(add_article(title=title, body=body, author=author, tags=tags, source_path=rel).id)
            continue
        if existing.source_path is None:
            existing.source_path = rel
        if (existing.title, existing.body.strip(), list(existing.tags)) == (title, body.strip(), sorted({t.lower() for t in tags})):
            db.session.commit()
            report.unchanged.append(existing.id)
            continue
        report.updated.append(update_article(article_id=existing.id, title=title, body=body, tags=tags, author=author).id)
    logger.info("kb import", extra={"folder": str(folder), "added": len(report.added),
                                    "updated": len(report.updated), "unchanged": len(report.unchanged)})
    return report
