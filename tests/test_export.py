"""crawler.export: CSV / JSONL format, formula neutralisation, hostile text, streaming."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from crawler.export import HEADER, neutralise, safe_filename, write_csv, write_jsonl
from crawler.storage.queries import HistoryRow

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def row(body: str = "hello", sender: str = "Acme", **kw: object) -> HistoryRow:
    values: dict[str, object] = {
        "number": "447700900121", "country": "united-kingdom", "sender": sender,
        "received_at": T0, "received_at_min": T0 - timedelta(minutes=1),
        "received_at_max": T0 + timedelta(microseconds=5), "received_text": "3 minutes ago",
        "body": body, "first_seen_at": T0, "code": None, "service": None,
    }  # fmt: skip
    values.update(kw)
    return HistoryRow(**values)  # type: ignore[arg-type]


async def csv_text(rows: list[HistoryRow], raw: bool = False) -> str:
    out = io.BytesIO()
    await write_csv(rows, out, raw=raw)
    return out.getvalue().decode("utf-8")


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


async def test_csv_header_and_times() -> None:
    text = await csv_text([row(code="771204")])
    assert text.startswith(",".join(HEADER) + "\r\n")
    header, first = parse(text)
    assert header == list(HEADER)
    assert first[:3] == ["447700900121", "united-kingdom", "Acme"]
    assert first[3] == "2026-11-01T12:00:00+00:00"
    assert first[5] == "2026-11-01T12:00:00.000005+00:00"  # exports keep microseconds
    assert first[9:] == ["771204", ""]


async def test_csv_null_times_are_empty() -> None:
    (_, first) = parse(await csv_text([row(received_at=None, received_at_min=None, received_at_max=None)]))
    assert first[3:6] == ["", "", ""]


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
        ("+1 (555) 0100", "'+1 (555) 0100"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("+447700900121", "+447700900121"),  # a plain phone number is left alone
        ("+12345", "'+12345"),  # too short to be one
        ("+1234567890123456", "'+1234567890123456"),  # too long
        ("+447700900121\n=1", "'+447700900121\n=1"),
        ("a=b", "a=b"),
        ("", ""),
        ("G-771204", "G-771204"),
    ],
)
async def test_formula_neutralisation(cell: str, shown: str) -> None:
    assert neutralise(cell) == shown
    (_, first) = parse(await csv_text([row(body=cell, sender=cell)]))
    assert first[2] == shown and first[7] == shown
    (_, raw) = parse(await csv_text([row(body=cell, sender=cell)], raw=True))
    assert raw[2] == cell and raw[7] == cell


HOSTILE = [
    'quote " and "" double, comma, newline\nand\r\nCRLF',
    "nul \x00 byte",
    "rtl \u202eevil\u202c and zero\u200bwidth \ufeff bom",
    "\x1b[31mred\x1b[0m \x07 bell",
    "emoji 👍🏽 and 中文 and עברית",
    "x" * 100_000,
    "line1\u2028line2",
    "",
]


async def test_hostile_bodies_round_trip_csv() -> None:
    rows = [row(body=b, sender=b[:50]) for b in HOSTILE]
    got = parse(await csv_text(rows, raw=True))[1:]
    assert [r[7] for r in got] == HOSTILE
    assert [r[2] for r in got] == [b[:50] for b in HOSTILE]


async def test_lone_surrogates_csv_replaced_jsonl_exact() -> None:
    body = "bad \ud83d half and \udcff escape"
    (_, first) = parse(await csv_text([row(body=body)]))
    assert first[7] == "bad \ufffd half and \ufffd escape"
    out = io.BytesIO()
    await write_jsonl([row(body=body)], out)
    assert json.loads(out.getvalue().decode("utf-8"))["message"] == body


async def test_jsonl_one_valid_object_per_line() -> None:
    out = io.BytesIO()
    assert await write_jsonl([row(body=b) for b in HOSTILE], out) == len(HOSTILE)
    text = out.getvalue().decode("utf-8")
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == len(HOSTILE) + 1
    objs = [json.loads(line) for line in lines[:-1]]
    assert [o["message"] for o in objs] == HOSTILE
    assert list(objs[0]) == list(HEADER)
    assert "עברית" in text  # ensure_ascii=False: readable Unicode
    assert "\x1b" not in text and "\x00" not in text  # control characters escaped
    assert objs[0]["code"] is None and objs[0]["received_at"] == "2026-11-01T12:00:00+00:00"


async def test_text_stream_output() -> None:
    out = io.StringIO(newline="")
    await write_csv([row()], out)
    assert out.getvalue().startswith("number,country,")


class CountingSink(io.RawIOBase):
    """A binary stream that keeps only a byte count: memory measures the writer alone."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        n = len(data)  # type: ignore[arg-type]
        self.size += n
        return n


async def test_streaming_200k_rows_bounded_memory() -> None:
    produced = 0

    async def rows() -> AsyncIterator[HistoryRow]:
        nonlocal produced
        for i in range(200_000):
            produced += 1
            yield row(body=f"message {i} with some text to make it longer", code=str(i))

    sink = CountingSink()
    tracemalloc.start()
    try:
        count = await write_csv(rows(), sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == produced == 200_000
    assert sink.size > 200_000 * 100  # ~30 MB written ...
    assert peak < 2_000_000  # ... with a peak of a few hundred KB, not the whole file


async def test_writer_consumes_lazily() -> None:
    seen: list[int] = []

    async def rows() -> AsyncIterator[HistoryRow]:
        for i in range(1000):
            seen.append(i)
            yield row(body=str(i))

    sink = CountingSink()
    gen = rows()
    task = write_jsonl(gen, sink)
    assert seen == []  # nothing read before the writer runs
    await task
    assert len(seen) == 1000


@pytest.mark.parametrize(
    ("number", "country", "fmt", "expected"),
    [
        ("447700900121", "united-kingdom", "csv", "united-kingdom_447700900121.csv"),
        ("447700900121", "../../etc", "jsonl", "etc_447700900121.jsonl"),
        ("4477/00", "a/b\\c", "csv", "a-b-c_4477-00.csv"),
        ("..", "..", "csv", "unknown_unknown.csv"),
        ("1", "-rf", "csv", "rf_1.csv"),
        ("1", "côte-d'ivoire", "csv", "c-te-d-ivoire_1.csv"),
        ("1", "a\x00b", "csv", "a-b_1.csv"),
    ],
)
def test_safe_filename(number: str, country: str, fmt: str, expected: str) -> None:
    name = safe_filename(number, country, fmt)
    assert name == expected
    assert "/" not in name and "\\" not in name and ".." not in name
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name)


def test_safe_filename_recycled_and_bad_format() -> None:
    assert safe_filename("447700900121", "uk", "csv", sms_id=12) == "uk_447700900121_12.csv"
    with pytest.raises(ValueError, match="csv, jsonl"):
        safe_filename("1", "uk", "xlsx")
