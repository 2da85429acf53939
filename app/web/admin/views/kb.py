"""Knowledge base: list and search, read, add, edit (each save a new version), version history."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from app.errors import UsageError
from app.inventory.schema import Role
from app.kb import service as kb
from app.web.admin import bp
from app.web.admin.auth import requires
from app.web.admin.forms import ArticleForm
from app.web.admin.views.common import actor
from app.web.queries import kb as queries
from app.web.request_args import page_and_size


def _tags(raw: str | None) -> list[str]:
    return [t.strip() for t in (raw or "").split(",") if t.strip()]


@bp.route("/kb")
@requires(Role.USER)
def kb_list() -> str:
    """Articles by last change, or the best matches for ?q=."""
    q = (request.args.get("q") or "").strip()[:200]
    hits = kb.search(q, limit=20) if q else None
    page = None if q else queries.list_articles(*page_and_size())
    return render_template("admin/kb_list.html", q=q, hits=hits, page=page)


@bp.route("/kb/<id:article_id>")
@requires(Role.USER)
def kb_article(article_id: int) -> str:
    """One article as it reads now (or ?version=N), with its history."""
    article = kb.get_article(article_id)
    if article is None:
        abort(404)
    shown: Any = article
    if request.args.get("version", "").isdigit():
        shown = queries.get_version(article_id, int(request.args["version"]))
        if shown is None:
            abort(404)
    return render_template("admin/kb_article.html", article=article, shown=shown,
                           versions=queries.list_versions(article_id, *page_and_size(default=20)))


@bp.route("/kb/new", methods=["GET", "POST"])
@requires(Role.OPERATOR)
def kb_new() -> Any:
    """Add an article."""
    form = ArticleForm()
    if form.validate_on_submit():
        try:
            article = kb.add_article(title=form.title.data or "", body=form.body.data or "", author=actor(),
                                     tags=_tags(form.tags.data))
        except UsageError as exc:
            flash(exc.user_message, "error")
        else:
            flash(f"Article #{article.id} added.", "success")
            return redirect(url_for("admin.kb_article", article_id=article.id))
    return render_template("admin/kb_edit.html", form=form, article=None)


@bp.route("/kb/<id:article_id>/edit", methods=["GET", "POST"])
@requires(Role.OPERATOR)
def kb_edit(article_id: int) -> Any:
    """Edit an article; saving makes a new version, refused if someone saved in between."""
    article = kb.get_article(article_id)
    if article is None:
        abort(404)
    form = ArticleForm(obj=None if request.method == "POST" else article)
    if request.method == "GET":
        form.tags.data, form.version.data = ", ".join(article.tags or []), str(article.version)
    if form.validate_on_submit():
        if form.version.data != str(article.version):
            flash(f"Someone saved version {article.version} while you were editing; your text is below, "
                  "compare it with the current one before saving again.", "error")
            form.version.data = str(article.version)
            return render_template("admin/kb_edit.html", form=form, article=article), 409
        try:
            kb.update_article(article_id=article_id, title=form.title.data, body=form.body.data or "",
                              tags=_tags(form.tags.data), author=actor())
        except UsageError as exc:
            flash(exc.user_message, "error")
        else:
            flash(f"Saved version {article.version}.", "success")
            return redirect(url_for("admin.kb_article", article_id=article_id))
    return render_template("admin/kb_edit.html", form=form, article=article)


@bp.route("/kb/<id:article_id>/publish", methods=["POST"])
@requires(Role.OPERATOR)
def kb_publish(article_id: int) -> Any:
    """Make a draft (a postmortem draft) searchable."""
    from app.web.admin.forms import ActionForm

    if not ActionForm().validate_on_submit():
        abort(400, description="The form has expired; reload the page.")
    if kb.get_article(article_id) is None:
        abort(404)
    kb.publish_article(article_id=article_id, actor=actor())
    flash(f"Article #{article_id} published: search finds it now.", "success")
    return redirect(url_for("admin.kb_article", article_id=article_id))
