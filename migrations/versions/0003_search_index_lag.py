"""SQLite: new messages wait in a queue and reach the search index in bulk

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

Why: FTS5 flushes its pending terms at every commit, so feeding `messages_fts` row by
row from a trigger made each small crawl transaction write a fresh index segment. That
was about 48 µs per stored message and capped inserts at ~20,000 rows/s; the same rows
indexed in one statement cost about 4 µs each.

Now the insert trigger only queues the new id in `messages_fts_pending`, and
`crawler.storage.search.index_pending` moves queued rows into the index in bulk (the
writer does it every few thousand rows and at the end of every pass). Search stays exact
meanwhile: its candidates are the index's hits plus every queued row, and the exact
substring check decides for both.

Delete and update triggers keep the two in step: a row still queued is only dequeued (it
was never indexed, and a contentless FTS5 table must never be asked to delete what it
does not hold); an indexed row is removed from the index, and an edited one re-queued.

PostgreSQL: nothing (pg_trgm's GIN indexes already buffer new entries).
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None



# 0002's spelling of an indexed row (the ß/ς folding), copied: a migration is a snapshot.
def _row(prefix: str) -> str:
    def fold(expr: str) -> str:
        return f"replace(replace(replace({expr}, 'ß', 'ss'), 'ẞ', 'ss'), 'ς', 'σ')"

    return f"{prefix}.id, {fold(prefix + '.body')}, {fold(prefix + '.sender')}"


_NOT_QUEUED = "NOT EXISTS (SELECT 1 FROM messages_fts_pending p WHERE p.id = old.id)"

UP = [
    "DROP TRIGGER IF EXISTS messages_fts_ai",
    "DROP TRIGGER IF EXISTS messages_fts_ad",
    "DROP TRIGGER IF EXISTS messages_fts_au",
    "CREATE TABLE messages_fts_pending (id INTEGER PRIMARY KEY)",
    "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts_pending(id) VALUES (new.id); END",
    "CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN "
    f"INSERT INTO messages_fts(messages_fts, rowid, body, sender) SELECT 'delete', {_row('old')} WHERE {_NOT_QUEUED}; "
    "DELETE FROM messages_fts_pending WHERE id = old.id; END",
    "CREATE TRIGGER messages_fts_au AFTER UPDATE OF body, sender ON messages BEGIN "
    f"INSERT INTO messages_fts(messages_fts, rowid, body, sender) SELECT 'delete', {_row('old')} WHERE {_NOT_QUEUED}; "
    "INSERT OR IGNORE INTO messages_fts_pending(id) VALUES (new.id); END",
]

DOWN = [
    f"INSERT INTO messages_fts(rowid, body, sender) SELECT {_row('m')} FROM messages m "
    "WHERE m.id IN (SELECT id FROM messages_fts_pending)",
    "DROP TRIGGER IF EXISTS messages_fts_au",
    "DROP TRIGGER IF EXISTS messages_fts_ad",
    "DROP TRIGGER IF EXISTS messages_fts_ai",
    "DROP TABLE IF EXISTS messages_fts_pending",
    # 0002's triggers
    "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN "
    f"INSERT INTO messages_fts(rowid, body, sender) VALUES ({_row('new')}); END",
    "CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN "
    f"INSERT INTO messages_fts(messages_fts, rowid, body, sender) VALUES ('delete', {_row('old')}); END",
    "CREATE TRIGGER messages_fts_au AFTER UPDATE OF body, sender ON messages BEGIN "
    f"INSERT INTO messages_fts(messages_fts, rowid, body, sender) VALUES ('delete', {_row('old')}); "
    f"INSERT INTO messages_fts(rowid, body, sender) VALUES ({_row('new')}); END",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in DOWN:
            op.execute(statement)
