"""Commands that read the archive: countries, numbers, messages, search, export.

Each one parses its options, calls one function of `crawler.storage.queries` (or
`crawler.export`) and prints. Text for the terminal goes through `clean()`: message
bodies are written by strangers, and escape sequences or bidi overrides in them must not
move the cursor, recolour the terminal or reorder what is shown. `--json` and exports
keep the exact text.
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from crawler.cli import AppContext, check_number, pass_app, with_archive
from crawler.export import FORMATS, iso, json_line, safe_filename, write_rows
from crawler.storage import queries as q
from crawler.storage.db import Engines

T = TypeVar("T")
NO_DATA = "no countries archived yet; run `crawler crawl` (or `crawler demo`) first"
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_DATE_ONLY = re.compile(r"\d{4}-?\d{2}-?\d{2}")
MAX_CELL = 50  # table view only; --json and exports keep everything


def clean(text: str | None, *, keep_newlines: bool = False) -> str:
    """`text` safe for a terminal: controls, bidi overrides and surrogates made inert."""
    out = []
    for ch in text or "":
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch in "\t\n\r\u2028\u2029":
            out.append(" ")
        elif ch in _BIDI:
            continue
        else:
            cat = unicodedata.category(ch)
            out.append("\ufffd" if cat in ("Cc", "Cs") else ch)
    return "".join(out)


def shown_time(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat(timespec="seconds")


def _cell(value: object) -> str:
    text = clean(str(value) if value is not None else "")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Plain aligned columns (widths in code points; wide CJK may drift, no dependency)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = [[h.upper() for h in headers], *cells]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def echo_json(obj: Any) -> None:
    click.echo(json_line(obj))


def _plain(obj: Any, *, skip: tuple[str, ...] = ("id",)) -> dict[str, Any]:
    """A result dataclass as JSON-ready fields (times as ISO-8601 UTC; no internal ids)."""
    values = ((name, getattr(obj, name)) for name in obj.__slots__ if name not in skip)
    return {k: iso(v) if isinstance(v, datetime) else v for k, v in values}


def _jsonable(item: q.MessageItem) -> dict[str, Any]:
    # Same names as the export: "from" and "message" (CONTRACT §4 calls the body "message").
    fields = _plain(item, skip=())
    head = {"seq": fields.pop("seq"), "from": fields.pop("sender")}
    body = fields.pop("body")
    return {**head, **fields, "message": body}


def _when(m: q.MessageItem) -> str:
    # Without a parsed time, the site's own text is only meaningful next to when we saw it.
    return shown_time(m.received_at) or f"{clean(m.received_text)} (seen {shown_time(m.first_seen_at)})"


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table.")


@click.command("countries")
@json_option
@pass_app
def countries_command(app: AppContext, as_json: bool) -> None:
    """List the archived countries with their number and message counts.

    Example: crawler countries --json
    """
    rows = with_archive(app.config.database.url, q.list_countries)
    if as_json:
        echo_json([_plain(c) for c in rows])
        return
    if not rows:
        click.echo(NO_DATA)
        return
    data = [(c.slug, c.name, c.calling_code or "", c.numbers, c.messages, c.status) for c in rows]
    click.echo(table(("slug", "name", "code", "numbers", "messages", "status"), data))


@click.command("numbers")
@click.option("--country", metavar="SLUG", help="Only this country (a slug from `crawler countries`).")
@json_option
@pass_app
def numbers_command(app: AppContext, country: str | None, as_json: bool) -> None:
    """List the archived numbers with message counts and when they were seen.

    Example: crawler numbers --country united-kingdom
    """
    rows = with_archive(app.config.database.url, lambda e: q.list_numbers(e, country))
    if as_json:
        echo_json([_plain(n) for n in rows])
        return
    if not rows:
        click.echo(NO_DATA if country is None else f"no numbers archived for {clean(country)} yet; run `crawler crawl --country {clean(country)}`")
        return
    data = [("+" + n.number, n.sms_id, n.country, n.messages, shown_time(n.first_seen_at), shown_time(n.last_seen_at), n.status) for n in rows]
    click.echo(table(("number", "sms_id", "country", "messages", "first_seen", "last_seen", "status"), data))


@click.command("messages")
@click.argument("number", callback=check_number)
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True, help="Page to show (10 messages each).")
@json_option
@pass_app
def messages_command(app: AppContext, number: str, page: int, as_json: bool) -> None:
    """Show a number's archived messages, newest first, 10 per page.

    NUMBER may be written +447700900121, 447700900121 or "44 7700 900121".

    Example: crawler messages +447700900121 --page 2
    """

    async def work(engines: Engines) -> q.MessagePage:
        return await q.messages_page(engines, await q.find_number(engines, number), page)

    result = with_archive(app.config.database.url, work)
    n = result.number
    if as_json:
        echo_json({"number": n.number, "country": n.country, "sms_id": n.sms_id, "page": result.page, "total_pages": result.total_pages, "total": result.total, "messages": [_jsonable(m) for m in result.items]})
        return
    click.echo(f"+{n.number} ({clean(n.country)}): page {result.page} of {result.total_pages} ({result.total} messages)")
    if not result.items:
        click.echo("no messages archived yet" if result.total == 0 else f"nothing on this page; the last page is {result.total_pages}")
    for m in result.items:
        code = f"  code {clean(m.code)}" if m.code else ""
        when = _when(m)
        click.echo(f"\n{when}  from {clean(m.sender)}{code}")
        for line in clean(m.body, keep_newlines=True).split("\n"):
            click.echo(f"    {line}")


if TYPE_CHECKING:
    _TimeBase = click.ParamType[datetime]
else:  # click < 8.5 has no generic ParamType at runtime
    _TimeBase = click.ParamType


class TimeType(_TimeBase):
    """An ISO date or time; naive means UTC. `end_of_day` makes a bare date inclusive."""

    name = "TIME"
    FORMS = "2026-11-01, 2026-11-01T12:00, 2026-11-01T12:00:00Z or 2026-11-01T12:00+02:00"

    def __init__(self, *, end_of_day: bool = False) -> None:
        self.end_of_day = end_of_day

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text[:40]!r} is not a date or time; use {self.FORMS} (no zone = UTC)", param, ctx)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        if self.end_of_day and _DATE_ONLY.fullmatch(text):
            parsed += timedelta(days=1, microseconds=-1)  # --until 2026-11-01 includes that day
        return parsed.astimezone(UTC)


@click.command("search")
@click.argument("query")
@click.option("--number", metavar="NUMBER", callback=check_number, help="Only this number's messages.")
@click.option("--sender", metavar="S", help="Only senders containing S (case-insensitive).")
@click.option("--service", metavar="NAME", help="Only messages from this service (e.g. Google; case-insensitive).")
@click.option("--has-code", is_flag=True, help="Only messages that carry a one-time code.")
@click.option("--since", type=TimeType(), metavar="T", help="Only messages received at or after T (ISO date/time, UTC if no zone).")
@click.option("--until", type=TimeType(end_of_day=True), metavar="T", help="Only messages received at or before T (a bare date includes that day).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many results.")
@json_option
@pass_app
def search_command(app: AppContext, query: str, number: str | None, sender: str | None, service: str | None, has_code: bool, since: datetime | None, until: datetime | None, limit: int, as_json: bool) -> None:
    """Search senders and message bodies across the archive (case-insensitive), newest first.

    Uses the full-text index (SQLite FTS5 trigram / PostgreSQL pg_trgm) for queries of 3+
    characters, so it stays fast on millions of messages.

    Example: crawler search "verification code" --sender google --has-code --since 2026-11-01
    """
    hits = with_archive(app.config.database.url, lambda e: q.search(
        e, query, number=number, sender=sender, service=service, has_code=True if has_code else None,
        since=since, until=until, limit=limit,
    ))  # fmt: skip
    if as_json:
        echo_json([{"number": h.number, "country": h.country, **_jsonable(h.message)} for h in hits])
        return
    if not hits:
        click.echo("no archived message matches")
        return
    data = [(_when(h.message), "+" + h.number, h.message.sender, h.message.code or "", h.message.body) for h in hits]
    click.echo(table(("received_at", "number", "from", "code", "message"), data))


def _open_tmp(path: Path) -> IO[bytes]:
    return open(path, "wb")  # closed by _export_to


def _finish(tmp: Path, path: Path, ok: bool) -> None:
    if ok:
        os.replace(tmp, path)
    else:
        tmp.unlink(missing_ok=True)


async def _export_to(path: Path, rows: Any, fmt: str, raw: bool) -> int:
    """Write to PATH.tmp, then rename: a failed export never looks like a complete file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        out = _open_tmp(tmp)
    except OSError as exc:
        raise click.FileError(str(path), exc.strerror or str(exc)) from None
    try:
        with out:
            count = await write_rows(rows, out, fmt, raw=raw)
        _finish(tmp, path, ok=True)
    except BaseException as exc:
        _finish(tmp, path, ok=False)
        if isinstance(exc, OSError):
            raise click.FileError(str(path), exc.strerror or str(exc)) from None
        raise
    return count


@click.command("export")
@click.argument("number", required=False, callback=check_number)
@click.option("-o", "--output", metavar="FILE", help="File to write ('-' or none: stdout); a directory with --all.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True, help="csv or JSON Lines.")
@click.option("--since", type=TimeType(), help="Only messages received at or after T (ISO date/time, UTC if no zone).")
@click.option("--until", type=TimeType(end_of_day=True), help="Only messages received at or before T (a bare date includes that day).")
@click.option("--all", "export_all", is_flag=True, help="Every archived number, one file each in the -o directory.")
@click.option("--raw", is_flag=True, help="CSV: do not prefix formula-like cells (=, +, -, @) with an apostrophe.")
@pass_app
def export_command(app: AppContext, number: str | None, output: str | None, fmt: str, since: datetime | None, until: datetime | None, export_all: bool, raw: bool) -> None:
    """Export a number's history, oldest first, as CSV or JSON Lines.

    \b
    Example: crawler export +447700900121 -o uk.csv --since 2026-11-01
    Example: crawler export --all -o exports/ --format jsonl
    """
    if export_all and number:
        raise click.UsageError("give either NUMBER or --all, not both")
    if export_all and output in (None, "-"):
        raise click.UsageError("--all writes one file per number: give a directory with -o DIR")
    if not export_all and not number:
        raise click.UsageError("give a NUMBER to export, or --all -o DIR for every number")
    if since is not None and until is not None and since > until:
        raise click.UsageError("--since is later than --until: nothing could match")

    async def one(engines: Engines) -> None:
        assert number is not None
        inbox = await q.find_number(engines, number)
        rows = q.iter_history(engines, inbox.id, since, until)
        if output in (None, "-"):
            sys.stdout.flush()  # nothing printed may land after the export
            await write_rows(rows, sys.stdout.buffer, fmt, raw=raw)
            return
        count = await _export_to(Path(output), rows, fmt, raw)
        click.echo(f"exported {count} messages of +{inbox.number} to {output}", err=True)

    async def every(engines: Engines) -> None:
        assert output is not None
        folder = Path(output)
        inboxes = await q.list_numbers(engines)
        recycled = _recycled(inboxes)
        total = 0
        for n in inboxes:
            name = safe_filename(n.number, n.country, fmt, sms_id=n.sms_id if n.number in recycled else None)
            total += await _export_to(folder / name, q.iter_history(engines, n.id, since, until), fmt, raw)
        click.echo(f"exported {total} messages of {len(inboxes)} numbers to {output}", err=True)

    if export_all:
        assert output is not None
        try:
            Path(output).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.FileError(output, exc.strerror or str(exc)) from None
        with_archive(app.config.database.url, every)
    else:
        try:
            with_archive(app.config.database.url, one)
        except BrokenPipeError:
            # `crawler export N | head`: the reader stopped early, which is not a failure.
            # Point stdout at /dev/null so the interpreter's final flush does not raise again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _recycled(inboxes: Sequence[q.NumberSummary]) -> set[str]:
    """Numbers with more than one inbox: their files also carry the sms_id."""
    seen: set[str] = set()
    twice: set[str] = set()
    for n in inboxes:
        (twice if n.number in seen else seen).add(n.number)
    return twice
