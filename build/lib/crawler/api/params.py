"""Query-parameter parsing for the API: every problem is an ApiError naming the parameter."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

MAX_PAGE = 100_000
MAX_QUERY = 200
MAX_PAGES_SCANNED = 50
MAX_TEXT = 200  # any other free-text parameter (number, country, sender, service)


class ApiError(Exception):
    """A client mistake (4xx); the message is shown to the client as is."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def text(request: web.Request, name: str, *, required: bool = False, limit: int = MAX_TEXT) -> str | None:
    raw = request.query.get(name)
    value = raw.strip() if raw is not None else ""
    if not value:
        if required:
            raise ApiError(400, f"{name}: missing; this endpoint needs ?{name}=...")
        return None
    if len(value) > limit:
        raise ApiError(400, f"{name}: at most {limit} characters (got {len(value)})")
    return value


def integer(request: web.Request, name: str, *, default: int | None, low: int = 1, high: int = MAX_PAGE) -> int | None:
    value = text(request, name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise ApiError(400, f"{name}: must be a whole number from {low} to {high} (got {value[:20]!r})")
    return int(value)


def page(request: web.Request, name: str = "page") -> int:
    value = integer(request, name, default=1)
    assert value is not None
    return value


def flag(request: web.Request, name: str) -> bool | None:
    value = text(request, name)
    if value is None:
        return None
    lowered = value.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise ApiError(400, f"{name}: must be true or false (got {value[:20]!r})")


def moment(request: web.Request, name: str) -> datetime | None:
    value = text(request, name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "+"))  # '+' arrives as ' ' when unencoded
    except ValueError:
        raise ApiError(400, f"{name}: not an ISO-8601 date or time such as 2026-11-01T12:00:00Z") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
