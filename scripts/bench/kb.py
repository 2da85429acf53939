"""Knowledge-base search benchmark: recall@3 on labelled questions, latency p50/p99 at 10,000 articles.

Two sets of questions are scored apart: `kb_questions.yaml`, the set the ranking was
tuned on, and `kb_questions_heldout.yaml`, written afterwards and never used for
tuning, so its figure says how search does on questions nobody fitted it to.

    .venv/bin/python scripts/bench/kb.py                 # PostgreSQL (a scratch database, dropped after)
    .venv/bin/python scripts/bench/kb.py --sqlite        # the embedded mode's SQLite
Environment: OPENCLAW_TEST_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test).
"""
from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.infra.db import db  # noqa: E402

BENCH_SECRET_KEY = "bench-only-7f3c9a1e5d2b8f6a4c0e9d7b3a1f5e8c"  # long enough for load_config outside embedded mode

DATA = ROOT / "tests" / "data"
PG = os.environ.get("OPENCLAW_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _vocabulary() -> tuple[list[str], list[str]]:
    """English words and Chinese two-character chunks, as often as they occur in the real articles."""
    en, zh = [], []
    for path in (DATA / "kb").rglob("*.md"):
        text = path.read_text(encoding="utf-8")
        en += re.findall(r"[a-z][a-z0-9_]+", text.lower())
        for run in re.findall(r"[\u4e00-\u9fff]+", text):
            zh += [run[i:i + 2] for i in range(0, len(run) - 1, 2)]
    return en, zh


def synthesise(count: int, seed: int = 7) -> None:
    """Add count articles made of the corpus vocabulary (half Chinese), indexed like real ones."""
    from app.kb.models import Article
    from app.kb.terms import document_terms

    rng = random.Random(seed)
    en, zh = _vocabulary()
    batch = 500
    for start in range(0, count, batch):
        articles, terms_rows = [], []
        for n in range(start, min(start + batch, count)):
            words = en if n % 2 else zh
            sep = " " if n % 2 else ""
            title = sep.join(rng.choices(words, k=rng.randint(3, 6)))
            body = "\n\n".join(sep.join(rng.choices(words, k=rng.randint(20, 40))) for _ in range(rng.randint(3, 5)))
            articles.append({"title": title[:200], "body": body, "tags": [], "author": "bench", "version": 1})
        rows = db.session.execute(sa.insert(Article).returning(Article.id, Article.title, Article.body), articles).all()
        doc_lens = []
        for article_id, title, body in rows:
            counts, length = document_terms(title=title, body=body, tags=[])
            doc_lens.append({"i": article_id, "l": length})
            terms_rows += [{"article_id": article_id, "term": t, "tf": tf, "doc_len": length} for t, tf in counts.items()]
        _insert_terms(terms_rows)
        db.session.execute(sa.text("UPDATE kb_articles SET doc_len = :l WHERE id = :i"), doc_lens)
        db.session.commit()


def _insert_terms(rows: list[dict[str, object]]) -> None:
    """Postings in bulk: COPY on PostgreSQL (seconds instead of minutes), executemany elsewhere."""
    from app.kb.models import ArticleTerm

    if db.engine.dialect.name != "postgresql":
        db.session.execute(sa.insert(ArticleTerm), rows)
        return
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy("COPY kb_terms (article_id, term, tf, doc_len) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((row["article_id"], row["term"], row["tf"], row["doc_len"]))


def evaluate(questions: list[dict[str, str]], ids: dict[str, int], repeat: int = 1) -> tuple[float, float, list[float], list[str]]:
    """recall@3, MRR@3, per-query latencies (ms) and the misses."""
    from app.kb.service import search

    hits3 = rr = 0.0
    latencies: list[float] = []
    misses = []
    for _ in range(repeat):
        for item in questions:
            started = time.perf_counter()
            found = [h.article_id for h in search(item["q"], limit=3)]
            latencies.append((time.perf_counter() - started) * 1000)
            want = ids[item["expect"]]
            if want in found:
                hits3 += 1
                rr += 1 / (found.index(want) + 1)
            elif _ == 0:
                misses.append(f"{item['q']!r} -> expected {item['expect']}, got {found}")
    n = len(questions) * repeat
    return hits3 / n, rr / n, latencies, misses


QUESTION_SETS = (("tuning", "kb_questions.yaml"), ("held-out", "kb_questions_heldout.yaml"))


def _is_chinese(item: dict[str, str]) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", item["q"]))


def _report(sets: dict[str, list[dict[str, str]]], ids: dict[str, int], where: str) -> None:
    """recall@3 and MRR@3 per question set (and its Chinese/English halves), then the misses."""
    for name, qs in sets.items():
        recall, mrr, _, misses = evaluate(qs, ids)
        zh = evaluate([q for q in qs if _is_chinese(q)], ids)[0]
        en = evaluate([q for q in qs if not _is_chinese(q)], ids)[0]
        print(f"{where}, {name} ({len(qs)} questions): recall@3 = {recall:.3f} (zh {zh:.3f}, en {en:.3f})  "
              f"MRR@3 = {mrr:.3f}")
        for miss in misses:
            print("  miss:", miss)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="store_true", help="benchmark on SQLite instead of PostgreSQL")
    parser.add_argument("--articles", type=int, default=10_000, help="total articles for the latency run")
    parser.add_argument("--repeat", type=int, default=5, help="passes over the questions for latency")
    parser.add_argument("--keep", help="PostgreSQL database name to keep (reused when it exists: no re-import)")
    opts = parser.parse_args()

    name = opts.keep or f"openclaw_bench_{uuid.uuid4().hex[:8]}"
    admin = None
    reuse = False
    if opts.sqlite:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    else:
        admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            reuse = bool(conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first())
            if not reuse:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.engine.make_url(PG).set(database=name).render_as_string(hide_password=False)
    environ = {"DATABASE_URL": url, "SECRET_KEY": BENCH_SECRET_KEY, "OPENCLAW_CONFIG": str(DATA / "inventory.yaml"), "LOG_LEVEL": "WARNING"}
    app = create_app(environ)
    try:
        with app.app_context():
            from flask_migrate import upgrade

            from app.kb.models import Article
            from app.kb.service import import_dir

            if not reuse:
                upgrade()
                import_dir(DATA / "kb", author="bench")
            ids = dict(db.session.execute(sa.select(Article.source_path, Article.id)).all())
            sets = {name: yaml.safe_load((DATA / file).read_text(encoding="utf-8")) for name, file in QUESTION_SETS}
            questions = [q for qs in sets.values() for q in qs]
            zh = [q for q in questions if _is_chinese(q)]
            print(f"database: {db.engine.dialect.name}; {len(ids)} articles, {len(questions)} questions ({len(zh)} Chinese)")
            _report(sets, ids, f"at {len(ids)} articles")
            started = time.perf_counter()
            if not reuse:
                synthesise(max(0, opts.articles - len(ids)))
            from app.kb import search as kb_search

            kb_search._stats.clear()  # the bulk load bypassed index_article, which would have done this
            total = db.session.execute(sa.select(sa.func.count(Article.id))).scalar_one()
            if db.engine.dialect.name == "postgresql":
                db.session.commit()
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(sa.text("VACUUM ANALYZE kb_terms"))  # what autovacuum does after a bulk load
                    conn.execute(sa.text("VACUUM ANALYZE kb_articles"))
            print(f"synthesised up to {total} articles in {time.perf_counter() - started:.1f}s")
            evaluate(questions, ids)  # warm-up
            _report(sets, ids, f"at {total} articles")
            lat = evaluate(questions, ids, repeat=opts.repeat)[2]
            print(f"search latency over {len(lat)} queries: p50 = {statistics.median(lat):.1f} ms  "
                  f"p99 = {pct(lat, 99):.1f} ms  max = {max(lat):.1f} ms")
            db.session.remove()
            db.engine.dispose()
    finally:
        if admin is not None and not opts.keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
