"""full-text search index and one-time codes/services for rows stored before extraction

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05

SQLite: `messages_fts`, a contentless FTS5 table (trigram tokenizer, case-insensitive,
detail=none: the search re-checks every candidate exactly, so positions are not needed and
the index stays small) fed by triggers on `messages`. Triggers index a folded text (ß/ẞ ->
ss, ς -> σ) because the tokenizer's simple case folding lacks those full foldings;
`crawler.storage.search.fold` applies the same chain to queries.
Note for later migrations: a batch ALTER of `messages` on SQLite recreates the table and
drops these triggers; re-create them after such a step.

PostgreSQL: pg_trgm GIN indexes on lower(body) and lower(sender), which serve the
search's `lower(col) LIKE '%...%'` as it is. pg_trgm is a trusted extension (PostgreSQL
13+), so a database owner may create it; if it cannot be created the migration goes on
without the indexes (search still answers, by scanning) and says so in the log.

Codes: rows stored before extraction existed get `code`/`service` from crawler.extract,
in batches keyed by id so memory stays flat on a million rows.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
BATCH = 2000


def _fold(expr: str) -> str:
    return f"replace(replace(replace({expr}, 'ß', 'ss'), 'ẞ', 'ss'), 'ς', 'σ')"


def _row(prefix: str) -> str:
    return f"{prefix}.id, {_fold(prefix + '.body')}, {_fold(prefix + '.sender')}"


SQLITE_UP = [
    "CREATE VIRTUAL TABLE messages_fts USING fts5(body, sender, content='', detail=none, "
    "columnsize=0, tokenize='trigram case_sensitive 0')",
    "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN "
    f"INSERT INTO messages_fts(rowid, body, sender) VALUES ({_row('new')}); END",
    "CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN "
    f"INSERT INTO messages_fts(messages_fts, rowid, body, sender) VALUES ('delete', {_row('old')}); END",
    "CREATE TRIGGER messages_fts_au AFTER UPDATE OF body, sender ON messages BEGIN "
    f"INSERT INTO messages_fts(messages_fts, rowid, body, sender) VALUES ('delete', {_row('old')}); "
    f"INSERT INTO messages_fts(rowid, body, sender) VALUES ({_row('new')}); END",
    f"INSERT INTO messages_fts(rowid, body, sender) SELECT {_row('m')} FROM messages m",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS messages_fts_au",
    "DROP TRIGGER IF EXISTS messages_fts_ad",
    "DROP TRIGGER IF EXISTS messages_fts_ai",
    "DROP TABLE IF EXISTS messages_fts",
]
PG_INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_messages_body_trgm ON messages USING gin (lower(body) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_messages_sender_trgm ON messages USING gin (lower(sender) gin_trgm_ops)",
]
PG_DOWN = ["DROP INDEX IF EXISTS ix_messages_sender_trgm", "DROP INDEX IF EXISTS ix_messages_body_trgm"]


def _backfill(bind: sa.engine.Connection) -> None:
    from crawler.extract import detect_service, extract_code

    last = 0
    select = sa.text(
        "SELECT id, sender, body FROM messages WHERE id > :last AND (code IS NULL OR service IS NULL) "
        "ORDER BY id LIMIT :n"
    )
    update = sa.text(
        "UPDATE messages SET code = COALESCE(code, :code), service = COALESCE(service, :service) WHERE id = :id"
    )
    while True:
        rows = bind.execute(select, {"last": last, "n": BATCH}).all()
        if not rows:
            return
        changes = []
        for id_, sender, body in rows:
            code, service = extract_code(body, sender), detect_service(sender, body)
            if code is not None or service is not None:
                changes.append({"id": id_, "code": code, "service": service})
        if changes:
            bind.execute(update, changes)
        last = rows[-1][0]


def upgrade() -> None:
    bind = op.get_bind()
    _backfill(bind)
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        try:
            with bind.begin_nested():  # a failed CREATE EXTENSION must not abort the upgrade
                bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        except sa.exc.DBAPIError as exc:
            log.warning("pg_trgm is not available (%s); search will scan instead of using an index", exc.orig)
            return
        for statement in PG_INDEXES:
            op.execute(statement)


def downgrade() -> None:
    # Codes stay: the columns belong to 0001, and a wrong code is no worse than none.
    bind = op.get_bind()
    for statement in SQLITE_DOWN if bind.dialect.name == "sqlite" else PG_DOWN:
        op.execute(statement)
