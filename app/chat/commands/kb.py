"""/kb: search the knowledge base, read an article, add one (title, then the text as the next message)."""
from __future__ import annotations

from app.chat.args import Args, Param, positive_int
from app.chat.registry import command
from app.chat.types import CommandContext, Reply, Role
from app.errors import UsageError
from app.kb import drafts
from app.kb import service as kb

SHOW_LIMIT = 3500


@command("kb search", usage="/kb search TEXT", read_only=True, params=(Param("text", rest=True),))
def kb_search(ctx: CommandContext, args: Args) -> Reply:
    """Search the knowledge base (Chinese or English)."""
    hits = kb.search(args["text"], limit=5)
    if not hits:
        return Reply.of_text(f"No knowledge-base article matches “{args['text']}”.")
    lines = [f"Knowledge base: {len(hits)} match(es) for “{args['text']}”"]
    lines += [f"{n}. #{hit.article_id} {hit.title}\n   {hit.snippet}" for n, hit in enumerate(hits, 1)]
    lines.append("Read one with /kb show ID.")
    return Reply.of_text("\n".join(lines))


@command("kb show", usage="/kb show ID", read_only=True, params=(Param("id", convert=positive_int),))
def kb_show(ctx: CommandContext, args: Args) -> Reply:
    """Show a knowledge-base article."""
    article = kb.get_article_or_raise(args["id"])
    body = article.body if len(article.body) <= SHOW_LIMIT else article.body[:SHOW_LIMIT] + "\n…(truncated)"
    tags = f"  tags: {', '.join(article.tags)}" if article.tags else ""
    return Reply.of_text(f"#{article.id} {article.title} (v{article.version}, {article.author}){tags}\n\n{body}")


def split_title(text: str) -> tuple[str, str]:
    """`TITLE` / `TITLE | TEXT` / `TITLE` then the text on the next lines: the title and the body (maybe empty)."""
    first, _, more = text.strip().partition("\n")
    title, sep, inline = first.partition("|")
    body = f"{inline}\n{more}" if sep else more
    return title.strip(), body.strip()


@command("kb add", mutating=True, usage="/kb add TITLE  (then send the text as your next message; or the text on the next lines; "
         "or /kb add TITLE | TEXT)", role=Role.OPERATOR, params=(Param("title", rest=True, verbatim=True),))
def kb_add(ctx: CommandContext, args: Args) -> Reply:
    """Add a knowledge-base article: the title on the first line, the markdown text below it or as your next message."""
    title, body = split_title(str(args["title"]))
    if not title:
        raise UsageError("the title goes on the first line, right after /kb add")
    if body:
        article = kb.add_article(title=title, body=body, author=ctx.open_id, chat_id=ctx.chat_id)
        return Reply.of_text(f"Saved #{article.id} {article.title}.")
    existing = kb.get_article_by_title(title)
    drafts.start(chat_id=ctx.chat_id, open_id=ctx.open_id, title=title.strip())
    what = f"a new version of #{existing.id}" if existing else "the article"
    return Reply.of_text(
        f"Send the text of “{title.strip()}” as your next message in this chat (markdown is fine); "
        f"it will be saved as {what}. /kb cancel drops it; it expires in {drafts.TTL // 60} minutes."
    )


@command("kb cancel", usage="/kb cancel", role=Role.OPERATOR)
def kb_cancel(ctx: CommandContext, args: Args) -> Reply:
    """Drop the article you started with /kb add."""
    title = drafts.take(chat_id=ctx.chat_id, open_id=ctx.open_id)
    return Reply.of_text(f"Dropped the draft “{title}”." if title else "You have no article draft here.")
