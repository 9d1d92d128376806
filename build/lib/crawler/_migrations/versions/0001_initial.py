"""initial schema: countries, numbers, messages, crawl_runs and the message_history view

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crawler.storage.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MESSAGE_HISTORY = """
CREATE VIEW message_history AS
SELECT
    c.slug            AS country,
    n.number          AS number,
    m.sender          AS sender,
    m.received_at     AS received_at,
    m.received_at_min AS received_at_min,
    m.received_at_max AS received_at_max,
    m.received_text   AS received_text,
    m.body            AS message,
    m.first_seen_at   AS first_seen_at,
    m.code            AS code,
    m.service         AS service,
    n.sms_id          AS sms_id,
    m.seq             AS seq
FROM messages m
JOIN numbers n ON n.id = m.number_id
JOIN countries c ON c.id = n.country_id
"""


def upgrade() -> None:
    op.create_table(
        "countries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("calling_code", sa.String(length=8), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("flag_url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_seen_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_countries")),
        sa.UniqueConstraint("slug", name=op.f("uq_countries_slug")),
    )
    op.create_table(
        "numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("country_id", sa.Integer(), nullable=False),
        sa.Column("sms_id", sa.Integer(), nullable=False),
        sa.Column("inbox_url", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("added_text", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_seen_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("walk_complete", sa.Boolean(), nullable=False),
        sa.Column("history_truncated", sa.Boolean(), nullable=False),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("top_seq", sa.Integer(), nullable=False),
        sa.Column("last_polled_at", UtcDateTime(), nullable=True),
        sa.Column("last_new_at", UtcDateTime(), nullable=True),
        sa.Column("next_due_at", UtcDateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["country_id"], ["countries.id"], name=op.f("fk_numbers_country_id_countries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_numbers")),
        sa.UniqueConstraint("number", "sms_id", name=op.f("uq_numbers_number_sms_id")),
    )
    op.create_index(op.f("ix_numbers_number"), "numbers", ["number"])
    op.create_index(op.f("ix_numbers_country_id"), "numbers", ["country_id"])
    op.create_index(op.f("ix_numbers_next_due_at"), "numbers", ["next_due_at"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("received_text", sa.String(length=100), nullable=False),
        sa.Column("fetched_at", UtcDateTime(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=True),
        sa.Column("received_at_min", UtcDateTime(), nullable=True),
        sa.Column("received_at_max", UtcDateTime(), nullable=True),
        sa.Column("first_seen_at", UtcDateTime(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("service", sa.String(length=40), nullable=True),
        sa.Column("gap_before", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["number_id"], ["numbers.id"], name=op.f("fk_messages_number_id_numbers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("number_id", "seq", name=op.f("uq_messages_number_id_seq")),
    )
    op.create_index("ix_messages_received_at", "messages", ["received_at"])
    op.create_index("ix_messages_sender", "messages", ["sender"])
    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("new_numbers", sa.Integer(), nullable=False),
        sa.Column("new_messages", sa.Integer(), nullable=False),
        sa.Column("inboxes_polled", sa.Integer(), nullable=False),
        sa.Column("empty_polls", sa.Integer(), nullable=False),
        sa.Column("gated", sa.Integer(), nullable=False),
        sa.Column("challenged", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_runs")),
    )
    op.execute(MESSAGE_HISTORY)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS message_history")
    op.drop_table("crawl_runs")
    op.drop_index("ix_messages_sender", table_name="messages")
    op.drop_index("ix_messages_received_at", table_name="messages")
    op.drop_table("messages")
    op.drop_index(op.f("ix_numbers_next_due_at"), table_name="numbers")
    op.drop_index(op.f("ix_numbers_country_id"), table_name="numbers")
    op.drop_index(op.f("ix_numbers_number"), table_name="numbers")
    op.drop_table("numbers")
    op.drop_table("countries")
