"""The archive's tables (SQLAlchemy 2 typed declarative). Migrations live in `migrations/`.

Identity of a message (CONTRACT §5): the site shows only relative times, so no time-based
key is stable across crawls. A message is identified by its position in its inbox:
`seq` counts the inbox's rows from the oldest one we hold (1 = oldest). The crawler
assigns it only once a walk is anchored (it reached the inbox's end, or rows already
stored), so two identical messages on the site are two rows with two `seq` values, and a
re-crawl at any later time maps every row it sees back to the same `seq`.
UNIQUE(number_id, seq) is the database's guarantee of "never twice".
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crawler.storage.types import UtcDateTime

# Named constraints from day one: alembic batch mode and autogenerate need names (STACK.md §3.2).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Country(Base):
    __tablename__ = "countries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    calling_code: Mapped[str | None] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(Text)
    flag_url: Mapped[str | None] = mapped_column(Text)
    # active | gone (left the home page) | gated (login wall) | challenged (Cloudflare)
    status: Mapped[str] = mapped_column(String(16), default="active")
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Number(Base):
    """One inbox: a phone number as one listing URL shows it (recycled numbers get a new sms_id)."""

    __tablename__ = "numbers"
    __table_args__ = (UniqueConstraint("number", "sms_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(16), index=True)
    country_id: Mapped[int] = mapped_column(ForeignKey("countries.id"), index=True)
    sms_id: Mapped[int] = mapped_column(Integer)
    inbox_url: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(200))
    added_text: Mapped[str | None] = mapped_column(String(100))
    # active | gone (left the listing / 404) | gated | challenged
    status: Mapped[str] = mapped_column(String(16), default="active")
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # True once a walk reached this inbox's end (or crawl.max_pages) and was stored:
    # from then on a pass stops where it meets stored rows.
    walk_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    history_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    top_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_polled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_new_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("number_id", "seq"),
        Index("ix_messages_received_at", "received_at"),
        Index("ix_messages_sender", "sender"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number_id: Mapped[int] = mapped_column(ForeignKey("numbers.id"))
    seq: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    body_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the body, for joins/dedupe reports
    received_text: Mapped[str] = mapped_column(String(100))
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime)  # site clock of the first sighting
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_at_min: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_at_max: Mapped[datetime | None] = mapped_column(UtcDateTime)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)  # our clock
    code: Mapped[str | None] = mapped_column(String(32))
    service: Mapped[str | None] = mapped_column(String(40))
    # True when rows between this one and the previous stored one could not be read
    # (crawl.max_pages cut a catch-up short, or the inbox was reset on the site).
    gap_before: Mapped[bool] = mapped_column(Boolean, default=False)


class CrawlRun(Base):
    """One crawl pass (or, for the daemon, one batch): what it cost and what it found."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # crawl | countries | numbers | inboxes
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    new_numbers: Mapped[int] = mapped_column(Integer, default=0)
    new_messages: Mapped[int] = mapped_column(Integer, default=0)
    inboxes_polled: Mapped[int] = mapped_column(Integer, default=0)
    empty_polls: Mapped[int] = mapped_column(Integer, default=0)
    gated: Mapped[int] = mapped_column(Integer, default=0)
    challenged: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|ok|failed|unreadable
    detail: Mapped[str | None] = mapped_column(Text)
