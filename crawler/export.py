"""Streaming CSV and JSON Lines writers for a number's history (`crawler export`).

Both take an (async) iterator of `HistoryRow` and write as they go, in chunks, so an
inbox of any size exports in constant memory. Output is always valid UTF-8:

- CSV (RFC 4180: `\\r\\n` row ends, QUOTE_MINIMAL) replaces lone surrogates with U+FFFD.
  A spreadsheet cannot show them anyway, and invalid bytes make Excel/LibreOffice reject
  or mis-decode the whole file. (The archive itself cannot hold them: SQLite and
  PostgreSQL refuse lone surrogates, so this only concerns rows from elsewhere.)
- JSONL keeps the exact text: `ensure_ascii=False` for readable Unicode, control
  characters escaped by json, and lone surrogates written as `\\udXXX` escapes, which
  `json.loads` turns back into the same string.

Formula neutralisation (CSV only, OWASP "CSV injection"): a cell that starts with
`= + - @ TAB CR` gets a leading `'`, so a spreadsheet shows it instead of running it.
A plain international number like `+447700900121` is left alone: it cannot run, and
users sort and join on it. `raw=True` writes every cell exactly as stored.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import IO, Any, cast

from crawler.storage.queries import FORMULA_START, HistoryRow, HistoryRows

HEADER = (
    "number", "country", "from", "received_at", "received_at_min", "received_at_max",
    "received_text", "message", "first_seen_at", "code", "service",
)  # fmt: skip
FORMATS = ("csv", "jsonl")
_PLAIN_PHONE = re.compile(r"\+\d{6,15}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CHUNK_ROWS = 256  # rows encoded per write: few syscalls, bounded buffer
_UNSAFE_NAME = re.compile(r"[^0-9A-Za-z._-]+")


def iso(value: datetime | None) -> str | None:
    """ISO-8601 UTC (`2026-11-01T12:00:00.123456+00:00`; microseconds only when non-zero)."""
    return None if value is None else value.astimezone(UTC).isoformat()


def neutralise(cell: str) -> str:
    """`cell` as a spreadsheet may safely open it (see the module docstring)."""
    if cell.startswith(FORMULA_START) and not _PLAIN_PHONE.fullmatch(cell):
        return "'" + cell
    return cell


def neutralised(cells: tuple[str | None, ...]) -> tuple[str | None, ...]:
    """`neutralise` of every cell that holds text."""
    return tuple(c if c is None or not c.startswith(FORMULA_START) else neutralise(c) for c in cells)


def row_values(row: HistoryRow) -> tuple[str | None, ...]:
    """The row's cells in HEADER order; times as ISO text, missing values as None."""
    return (
        row.number, row.country, row.sender, iso(row.received_at), iso(row.received_at_min),
        iso(row.received_at_max), row.received_text, row.body, iso(row.first_seen_at),
        row.code, row.service,
    )  # fmt: skip


def _replace_surrogates(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


def json_line(obj: Any) -> str:
    """One JSON document without newlines, valid UTF-8 whatever strings `obj` holds."""
    text = json.dumps(obj, ensure_ascii=False)
    # ensure_ascii=False leaves lone surrogates as raw code points, which no UTF-8
    # encoder accepts; JSON's own \\u escape keeps them exact.
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


async def _rows(rows: AsyncIterable[HistoryRow] | Iterable[HistoryRow]) -> AsyncIterator[HistoryRow]:
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            yield row
    else:
        for row in rows:
            yield row


class _Sink:
    """Writes text chunks to a binary stream (UTF-8) or a text stream, as given."""

    def __init__(self, out: IO[Any]) -> None:
        self._out = out
        self._text = isinstance(out, io.TextIOBase)

    def write(self, chunk: str) -> None:
        if not chunk:
            return
        if self._text:
            self._out.write(chunk)
        else:
            self._out.write(chunk.encode("utf-8"))

    def flush(self) -> None:
        self._out.flush()


async def write_csv(
    rows: AsyncIterable[HistoryRow] | Iterable[HistoryRow], out: IO[Any], *, raw: bool = False
) -> int:
    """Write the header and `rows` as CSV to `out`; returns the number of rows written.

    `out` is a binary stream (UTF-8 is written) or a text stream opened with
    `newline=""` (otherwise Windows doubles the `\\r`).
    """
    sink = _Sink(out)
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(HEADER)
    count = 0
    if isinstance(rows, HistoryRows) and rows.csv_ready:
        # Fastest path (SQLite): rows arrive as lines SQLite finished with this writer's
        # quoting and neutralisation; the rare rest as cells, finished here.
        sink.write(buf.getvalue())
        buf.seek(0)
        buf.truncate()
        inbox = await rows.inbox_cells()
        lead = _csv_line(writer, buf, inbox if raw else neutralised(inbox))
        lead = lead[: -len("\r\n")] + ","  # the line's first two cells, then SQLite's rest
        async for lines, hot in rows.csv_batches(raw):
            if not raw:
                for i in hot:
                    lines[i] = neutralised(cast("tuple[str | None, ...]", lines[i]))
            if all(isinstance(item, str) for item in lines):
                text = lead + lead.join(cast("list[str]", lines)) if lines else ""
            else:
                text = "".join(lead + i if isinstance(i, str) else _csv_line(writer, buf, i) for i in lines)
            # No surrogate check: text read from SQLite was decoded as strict UTF-8, so it
            # cannot hold any.
            sink.write(text)
            count += len(lines)
        sink.flush()
        return count
    if isinstance(rows, HistoryRows):
        # Fast path: rows come as cells, times already text; the csv module writes a
        # whole batch in C. Surrogates are replaced in the finished text (U+FFFD needs
        # no quoting and starts no formula, so this equals replacing per cell).
        async for batch, hot in rows.cell_batches():
            if not raw:
                for i in hot:
                    batch[i] = neutralised(batch[i])
            writer.writerows(batch)
            count += len(batch)
            text = buf.getvalue()
            sink.write(_replace_surrogates(text) if _SURROGATE.search(text) else text)
            buf.seek(0)
            buf.truncate()
        sink.flush()
        return count
    async for row in _rows(rows):
        cells = ["" if v is None else _replace_surrogates(v) for v in row_values(row)]
        writer.writerow(cells if raw else [neutralise(c) for c in cells])
        count += 1
        if count % _CHUNK_ROWS == 0:
            sink.write(buf.getvalue())
            buf.seek(0)
            buf.truncate()
    sink.write(buf.getvalue())
    sink.flush()
    return count


def _csv_line(writer: Any, buf: io.StringIO, cells: tuple[str | None, ...]) -> str:
    writer.writerow(cells)
    line = buf.getvalue()
    buf.seek(0)
    buf.truncate()
    return line


async def write_jsonl(rows: AsyncIterable[HistoryRow] | Iterable[HistoryRow], out: IO[Any]) -> int:
    """Write one JSON object per row (keys as the CSV header) to `out`; returns the count."""
    sink = _Sink(out)
    chunk: list[str] = []
    count = 0
    if isinstance(rows, HistoryRows):
        async for batch, _ in rows.cell_batches():
            sink.write("".join(json_line(dict(zip(HEADER, cells, strict=True))) + "\n" for cells in batch))
            count += len(batch)
        sink.flush()
        return count
    async for row in _rows(rows):
        chunk.append(json_line(dict(zip(HEADER, row_values(row), strict=True))) + "\n")
        count += 1
        if len(chunk) >= _CHUNK_ROWS:
            sink.write("".join(chunk))
            chunk.clear()
    sink.write("".join(chunk))
    sink.flush()
    return count


async def write_rows(
    rows: AsyncIterable[HistoryRow] | Iterable[HistoryRow], out: IO[Any], fmt: str, *, raw: bool = False
) -> int:
    """`write_csv` or `write_jsonl` by format name (`csv` | `jsonl`)."""
    if fmt == "csv":
        return await write_csv(rows, out, raw=raw)
    if fmt == "jsonl":
        return await write_jsonl(rows, out)
    raise ValueError(f"unknown export format {fmt!r}; allowed: {', '.join(FORMATS)}")


def _name_part(text: str) -> str:
    part = _UNSAFE_NAME.sub("-", text)
    part = re.sub(r"\.{2,}", ".", part).strip(".-")  # no "..", no hidden or option-like names
    return part[:80] or "unknown"


def safe_filename(number: str, country: str, fmt: str, *, sms_id: int | None = None) -> str:
    """`<country>_<number>[_<sms_id>].<fmt>` using only `[0-9A-Za-z._-]`.

    Never a path separator, never `..`, never starting with `.` or `-`. `sms_id` tells
    apart two inboxes of one recycled number.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; allowed: {', '.join(FORMATS)}")
    parts = [_name_part(country), _name_part(number)]
    if sms_id is not None:
        parts.append(_name_part(str(sms_id)))
    return "_".join(parts) + "." + fmt
