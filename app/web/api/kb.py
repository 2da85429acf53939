"""/api/v1/kb: list or search, get, create, update (a new version), versions."""
from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request

from app.inventory.schema import Role
from app.kb import service as kb
from app.kb.models import Article, ArticleVersion
from app.web.api import bp
from app.web.api.auth import current, requires
from app.web.api.common import iso, json_body, paged
from app.web.queries import kb as queries
from app.web.request_args import page_and_size


def article_json(article: Article, *, body: bool = True) -> dict[str, Any]:
    """An article as it reads now."""
    data = {"id": article.id, "title": article.title, "tags": list(article.tags or []), "author": article.author,
            "version": article.version, "created_at": iso(article.created_at), "updated_at": iso(article.updated_at)}
    if body:
        data["body"] = article.body
    return data


def version_json(version: ArticleVersion) -> dict[str, Any]:
    """One saved version."""
    return {"version": version.version, "title": version.title, "body": version.body,
            "tags": list(version.tags or []), "author": version.author, "created_at": iso(version.created_at)}


def _fields(body: dict[str, Any], *, creating: bool) -> tuple[str | None, str, list[str] | None]:
    title, text, tags = body.get("title"), body.get("body"), body.get("tags")
    if (creating and not isinstance(title, str)) or (title is not None and not isinstance(title, str)):
        abort(400, description="title must be a string")
    if not isinstance(text, str):
        abort(400, description="body must be a string")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        abort(400, description="tags must be a list of strings")
    return title, text, tags


@bp.get("/kb")
@requires(Role.USER)
def list_articles() -> Any:
    """Articles by last change; with ?q= the best matches instead (up to per_page)."""
    q = (request.args.get("q") or "").strip()
    page, per_page = page_and_size(default=20)
    if q:
        hits = kb.search(q[:200], limit=per_page) if page == 1 else []
        return jsonify(items=[{"id": h.article_id, "title": h.title, "score": round(h.score, 4),
                               "snippet": h.snippet, "tags": list(h.tags)} for h in hits],
                       page=page, per_page=per_page, has_next=False)
    return paged(queries.list_articles(page, per_page), lambda a: article_json(a, body=False))


@bp.get("/kb/<id:article_id>")
@requires(Role.USER)
def get_article(article_id: int) -> Any:
    """One article with its text."""
    return jsonify(article_json(kb.get_article_or_raise(article_id)))


@bp.get("/kb/<id:article_id>/versions")
@requires(Role.USER)
def list_article_versions(article_id: int) -> Any:
    """Every saved version, oldest first."""
    kb.get_article_or_raise(article_id)
    return jsonify(items=[version_json(v) for v in kb.list_versions(article_id)])


@bp.post("/kb")
@requires(Role.OPERATOR)
def create_article() -> Any:
    """Add an article: {"title", "body", "tags"?}."""
    title, text, tags = _fields(json_body(), creating=True)
    article = kb.add_article(title=title or "", body=text, tags=tags or [], author=current().actor)
    return jsonify(article_json(article)), 201


@bp.put("/kb/<id:article_id>")
@requires(Role.OPERATOR)
def update_article(article_id: int) -> Any:
    """Save a new version: {"body", "title"?, "tags"?}; missing title and tags stay as they are."""
    title, text, tags = _fields(json_body(), creating=False)
    article = kb.update_article(article_id=article_id, title=title, body=text, tags=tags, author=current().actor)
    return jsonify(article_json(article))
