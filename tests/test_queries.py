"""crawler.storage.queries against a real SQLite archive file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from crawler.errors import CountryLookupError, CrawlerError, NumberFormatError, NumberLookupError
from crawler.storage import queries as q
from crawler.storage.db import Engines, open_archive

from .archive_factory import T0, ArchiveFactory, Msg, simple
from .helpers import throwaway_postgres


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engines(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engines]:
    if request.param == "sqlite":
        async with open_archive(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}") as e:
            yield e
        return
    async with throwaway_postgres("crawler_read") as url, open_archive(url) as e:
        yield e


@pytest.fixture
async def uk(engines: Engines) -> dict[str, int]:
    """Two countries; UK has a number with 25 messages and one recycled number."""
    f = ArchiveFactory(engines)
    uk = await f.country("united-kingdom", "United Kingdom", "44")
    await f.country("france", "France", "33")
    await f.country("empty-land", "Empty Land", None)
    n1 = await f.number(uk, "447700900121", sms_id=1)
    await f.messages(n1, simple(25))
    old = await f.number(uk, "447700900999", sms_id=5, last_seen_at=T0)
    new = await f.number(uk, "447700900999", sms_id=9, last_seen_at=T0 + timedelta(days=3))
    await f.messages(old, simple(2, sender="Old"))
    await f.messages(new, simple(1, sender="New"))
    fr = await f.number(2, "33612345678")
    await f.messages(fr, [Msg("Bank", "Votre code: 1234")])
    return {"n1": n1, "old": old, "new": new, "fr": fr}


async def test_empty_archive(engines: Engines) -> None:
    assert await q.list_countries(engines) == []
    assert await q.list_numbers(engines) == []
    with pytest.raises(CountryLookupError, match="none yet"):
        await q.list_numbers(engines, "france")


async def test_countries_counts(engines: Engines, uk: dict[str, int]) -> None:
    rows = {c.slug: c for c in await q.list_countries(engines)}
    assert list(rows) == ["empty-land", "france", "united-kingdom"]
    assert (rows["united-kingdom"].numbers, rows["united-kingdom"].messages) == (3, 28)
    assert (rows["france"].numbers, rows["france"].messages) == (1, 1)
    assert (rows["empty-land"].numbers, rows["empty-land"].messages) == (0, 0)
    assert rows["united-kingdom"].first_seen_at.utcoffset() == timedelta(0)


async def test_numbers_by_country(engines: Engines, uk: dict[str, int]) -> None:
    all_numbers = await q.list_numbers(engines)
    assert [n.number for n in all_numbers] == ["33612345678", "447700900121", "447700900999", "447700900999"]
    gb = await q.list_numbers(engines, "united-kingdom")
    assert [(n.number, n.sms_id, n.messages) for n in gb] == [
        ("447700900121", 1, 25), ("447700900999", 5, 2), ("447700900999", 9, 1)
    ]
    with pytest.raises(CountryLookupError, match="empty-land, france, united-kingdom"):
        await q.list_numbers(engines, "atlantis")


@pytest.mark.parametrize("text", ["+447700900121", "447700900121", "44 7700 900121", " +44 7700-900121 "])
async def test_find_number_forms(engines: Engines, uk: dict[str, int], text: str) -> None:
    assert (await q.find_number(engines, text)).id == uk["n1"]


async def test_find_number_picks_latest_inbox(engines: Engines, uk: dict[str, int]) -> None:
    assert (await q.find_number(engines, "+447700900999")).id == uk["new"]


async def test_find_number_errors(engines: Engines, uk: dict[str, int]) -> None:
    with pytest.raises(NumberLookupError, match=r"\+447700900000 is not in the archive"):
        await q.find_number(engines, "+447700900000")
    for bad in ("hello", "12", "+44 77x0", "'; DROP TABLE numbers; --"):
        with pytest.raises(NumberFormatError) as info:
            await q.find_number(engines, bad)
        assert isinstance(info.value, CrawlerError)
        assert "+447700900121, 447700900121 or 44 7700 900121" in str(info.value)
        assert "\n" not in str(info.value)


async def test_messages_pages(engines: Engines, uk: dict[str, int]) -> None:
    number = await q.find_number(engines, "447700900121")
    first = await q.messages_page(engines, number, 1)
    assert (first.page, first.total_pages, first.total) == (1, 3, 25)
    assert [m.seq for m in first.items] == list(range(25, 15, -1))  # newest first
    last = await q.messages_page(engines, number, 3)
    assert [m.body for m in last.items] == [f"message {i}" for i in range(5, 0, -1)]
    past = await q.messages_page(engines, number, 4)
    assert (past.items, past.total_pages, past.total) == ([], 3, 25)
    assert first.items[0].received_at == T0 + timedelta(minutes=25)
    assert first.items[0].received_at.tzinfo is not None  # type: ignore[union-attr]


async def test_messages_page_empty_inbox(engines: Engines) -> None:
    f = ArchiveFactory(engines)
    n = await f.number(await f.country(), "447700900555")
    page = await q.messages_page(engines, await q.find_number(engines, "447700900555"), 1)
    assert (page.items, page.total_pages, page.total, page.number.id) == ([], 1, 0, n)


async def _search_archive(engines: Engines) -> None:
    f = ArchiveFactory(engines)
    n = await f.number(await f.country(), "447700900121")
    await f.messages(n, [
        Msg("Google", "G-771204 is your Google verification code"),
        Msg("PayPal", "100% free offer"),
        Msg("Bank", "100 percent sure"),
        Msg("Shop", "use code_A now"),
        Msg("Shop", "use codeXA now"),
        Msg("ÄRZTE-Amt", "Ihr Termin beim Ärztezentrum"),
        Msg("Other", "back\\slash here"),
        Msg("Straße", "STRASSE und straße"),
    ])  # fmt: skip


async def test_search_case_insensitive_and_newest_first(engines: Engines) -> None:
    await _search_archive(engines)
    hits = await q.search(engines, "GOOGLE")
    assert [h.message.sender for h in hits] == ["Google"]
    hits = await q.search(engines, "shop")  # sender match
    assert [h.message.body for h in hits] == ["use codeXA now", "use code_A now"]
    assert hits[0].number == "447700900121" and hits[0].country == "united-kingdom"


async def test_search_non_ascii_case(engines: Engines) -> None:
    # SQLite's own LIKE/lower() fold ASCII only; the registered casefold function does Unicode.
    await _search_archive(engines)
    assert [h.message.sender for h in await q.search(engines, "ärzte")] == ["ÄRZTE-Amt"]
    assert [h.message.sender for h in await q.search(engines, "ÄRZTEZENTRUM")] == ["ÄRZTE-Amt"]
    assert [h.message.sender for h in await q.search(engines, "strasse")] == ["Straße"]


async def test_search_escapes_wildcards(engines: Engines) -> None:
    await _search_archive(engines)
    assert [h.message.body for h in await q.search(engines, "100%")] == ["100% free offer"]
    assert [h.message.body for h in await q.search(engines, "code_a")] == ["use code_A now"]
    assert [h.message.body for h in await q.search(engines, "back\\slash")] == ["back\\slash here"]
    assert await q.search(engines, "%") != []  # a literal percent sign exists
    assert await q.search(engines, "_x_") == []


async def test_search_filters_and_limit(engines: Engines) -> None:
    await _search_archive(engines)
    assert len(await q.search(engines, "e", limit=3)) == 3
    assert [h.message.sender for h in await q.search(engines, "code", sender="goo")] == ["Google"]
    assert await q.search(engines, "code", number="+44 7700 900121") != []
    with pytest.raises(NumberLookupError):
        await q.search(engines, "code", number="+33600000000")


async def test_iter_history_oldest_first_across_batches(engines: Engines, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(q, "HISTORY_BATCH", 7)
    f = ArchiveFactory(engines)
    n = await f.number(await f.country(), "447700900121")
    await f.messages(n, simple(30))
    rows = [r async for r in q.iter_history(engines, n)]
    assert [r.body for r in rows] == [f"message {i}" for i in range(1, 31)]
    assert rows[0].number == "447700900121" and rows[0].country == "united-kingdom"
    since, until = T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)
    window = [r.body async for r in q.iter_history(engines, n, since=since, until=until)]
    assert window == [f"message {i}" for i in range(10, 21)]


async def test_iter_history_is_lazy(engines: Engines, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(q, "HISTORY_BATCH", 10)
    f = ArchiveFactory(engines)
    n = await f.number(await f.country(), "447700900121")
    await f.messages(n, simple(100))
    it = q.iter_history(engines, n)
    first = await anext(it)
    # Rows added after the first batch was read still arrive: later batches are read on demand.
    await f.messages(n, simple(1, sender="Late", start=101))
    rest = [r async for r in it]
    assert first.body == "message 1" and rest[-1].sender == "Late" and len(rest) == 100


async def test_iter_history_null_times(engines: Engines) -> None:
    f = ArchiveFactory(engines)
    n = await f.number(await f.country(), "447700900121")
    await f.messages(n, [Msg("A", "no time"), *simple(1, start=2)])
    assert [r.body async for r in q.iter_history(engines, n)] == ["no time", "message 2"]
    assert [r.body async for r in q.iter_history(engines, n, since=T0)] == ["message 2"]
