"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out.

    PostgreSQL stores `timestamptz`. SQLite stores fixed-width ISO-8601 text
    (`2026-06-01T12:00:00.000000+00:00`): readable in a plain `sqlite3` session, sortable
    as text, and never silently stripped of its zone (STACK.md §2.6: SQLAlchemy's SQLite
    DateTime drops tzinfo, so one instant with two offsets became two rows).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return to_iso(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).astimezone(UTC)
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


@lru_cache(maxsize=4096)  # a walk's rows share a few instants (fetch time, "3 minutes ago")
def to_iso(value: datetime) -> str:
    """The one text form of a UTC instant that the SQLite archive uses. (Equal instants
    in other zones hash alike and have this same text, so the cache is exact.)"""
    return value.astimezone(UTC).isoformat(timespec="microseconds")
