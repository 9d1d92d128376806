"""The hosted smstome API's four endpoints (CONTRACT §6), answered from the archive, and /health.

Same names, parameters and envelope as the hosted API, so scripts written against it
work unchanged; fields are only ever added. Pages: 20 numbers or 10 messages, newest
first, and a page past the end is an empty list, never an error.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, text

from crawler.api import params as p
from crawler.api.app import ENGINES, success
from crawler.api.params import ApiError
from crawler.errors import NumberFormatError, NumberLookupError
from crawler.export import iso
from crawler.storage import queries as q
from crawler.storage.db import Engines
from crawler.storage.models import Country, Message, Number
from crawler.storage.search import Filters, count_matches, search_messages

NUMBERS_PER_PAGE = 20
RESULTS_PER_PAGE = q.PAGE_SIZE
COUNT_CAP = 10_000


def message_json(m: q.MessageItem) -> dict[str, Any]:
    """`from`, `received`, `message` as the hosted API names them, then what the archive adds.

    `received` is the best estimate as ISO-8601 UTC; the site's relative text ("3 minutes
    ago") goes stale the moment it is stored, so it is only the fallback.
    """
    return {
        "from": m.sender,
        "received": iso(m.received_at) or m.received_text,
        "message": m.body,
        "code": m.code,
        "service": m.service,
        "received_at": iso(m.received_at),
        "received_at_min": iso(m.received_at_min),
        "received_at_max": iso(m.received_at_max),
        "received_text": m.received_text,
        "first_seen_at": iso(m.first_seen_at),
    }


async def _check_country(engines: Engines, slug: str | None) -> None:
    if slug is None:
        return
    async with engines.reader.connect() as conn:
        if (await conn.execute(select(Country.id).where(Country.slug == slug))).first() is None:
            raise ApiError(404, f"country: {slug!r} is not in the archive; /list_countries lists the slugs")


async def _inbox(request: web.Request, engines: Engines, *, required: bool) -> q.NumberSummary | None:
    number = p.text(request, "number", required=required)
    sms_id = p.integer(request, "sms_id", default=None, high=2**31 - 1)
    country = p.text(request, "country")
    await _check_country(engines, country)
    if number is None:
        if sms_id is not None:
            raise ApiError(400, "sms_id: only meaningful together with number")
        return None
    try:
        return await q.find_number(engines, number, sms_id=sms_id, country=country)
    except NumberFormatError:
        raise ApiError(400, f"number: {number[:40]!r} is not a phone number; write it as +447700900121 or 447700900121") from None
    except NumberLookupError as exc:
        where = "".join(f" with {k} {v}" for k, v in (("sms_id", sms_id), ("country", country)) if v is not None)
        raise ApiError(404, f"number: {exc.number}{where} is not in the archive; /list_phone_numbers lists them") from None


async def list_countries(request: web.Request) -> web.Response:
    engines = request.app[ENGINES]
    summaries = await q.list_countries(engines)
    async with engines.reader.connect() as conn:
        urls = dict((await conn.execute(select(Country.slug, Country.url))).all())
    countries = [
        {"name": c.name, "slug": c.slug, "url": urls.get(c.slug), "calling_code": c.calling_code,
         "numbers": c.numbers, "messages": c.messages, "status": c.status}  # fmt: skip
        for c in summaries
    ]
    return success({"total": len(countries), "countries": countries})


async def list_phone_numbers(request: web.Request) -> web.Response:
    engines = request.app[ENGINES]
    country = p.text(request, "country")
    page = p.page(request)
    where = [] if country is None else [Country.slug == country]
    await _check_country(engines, country)
    async with engines.reader.connect() as conn:
        total = int((await conn.execute(
            select(func.count()).select_from(Number).join(Country, Country.id == Number.country_id).where(*where)
        )).scalar_one())  # fmt: skip
        rows = (await conn.execute(
            select(Number.number, Number.sms_id, Country.slug, Country.calling_code, Number.added_text,
                   Number.inbox_url, Number.first_seen_at, Number.status)
            .join(Country, Country.id == Number.country_id).where(*where)
            .order_by(Number.first_seen_at.desc(), Number.id.desc())  # newest first, as the site lists
            .limit(NUMBERS_PER_PAGE).offset((page - 1) * NUMBERS_PER_PAGE)
        )).all()  # fmt: skip
    numbers = [
        {"phone_number": "+" + r.number, "country_code": r.calling_code, "added": r.added_text,
         "number": r.number, "sms_id": r.sms_id, "sms_url": r.inbox_url, "country": r.slug,
         "first_seen_at": iso(r.first_seen_at), "status": r.status}  # fmt: skip
        for r in rows
    ]
    return success({"numbers": numbers, "page": page, "total_pages": max(1, math.ceil(total / NUMBERS_PER_PAGE)), "total": total})


def _inbox_json(n: q.NumberSummary) -> dict[str, Any]:
    return {"number": "+" + n.number, "sms_id": n.sms_id, "country": n.country}


async def get_messages(request: web.Request) -> web.Response:
    engines = request.app[ENGINES]
    inbox = await _inbox(request, engines, required=True)
    assert inbox is not None
    result = await q.messages_page(engines, inbox, p.page(request))
    return success({
        **_inbox_json(inbox), "messages": [message_json(m) for m in result.items],
        "page": result.page, "total_pages": result.total_pages, "total": result.total,
    })  # fmt: skip


async def search(request: web.Request) -> web.Response:
    engines = request.app[ENGINES]
    query = p.text(request, "query", required=True, limit=p.MAX_QUERY)
    assert query is not None
    start = p.page(request, "start_page")
    max_pages = p.integer(request, "max_pages", default=5, high=p.MAX_PAGES_SCANNED)
    assert max_pages is not None
    filters = Filters(
        sender=p.text(request, "sender"), service=p.text(request, "service"), has_code=p.flag(request, "has_code"),
        since=p.moment(request, "since"), until=p.moment(request, "until"),
    )  # fmt: skip
    inbox = await _inbox(request, engines, required=False)
    country = p.text(request, "country")
    if inbox is not None:
        return success(await _search_inbox(engines, inbox, query, filters, start, max_pages))
    if country is not None:
        async with engines.reader.connect() as conn:
            ids = (await conn.execute(
                select(Number.id).join(Country, Country.id == Number.country_id).where(Country.slug == country)
            )).scalars()  # fmt: skip
            filters = Filters(**{**_fields(filters), "number_ids": tuple(ids)})
    hits = await search_messages(
        engines, query, filters, limit=max_pages * RESULTS_PER_PAGE, offset=(start - 1) * RESULTS_PER_PAGE
    )
    total = await count_matches(engines, query, filters, cap=COUNT_CAP)
    results = [
        {"number": "+" + h.number, "country": h.country, "page": start + i // RESULTS_PER_PAGE, **message_json(h.message)}
        for i, h in enumerate(hits)
    ]
    more = " or more" if total >= COUNT_CAP else ""
    return success({
        "results": results, "pages_scanned": math.ceil(len(hits) / RESULTS_PER_PAGE),
        "total_pages_available": max(1, math.ceil(total / RESULTS_PER_PAGE)), "total_matches": total,
        "note": f"archive-wide search: {total}{more} messages match, newest first, {RESULTS_PER_PAGE} per page; "
                "give number= to search one inbox page by page",
    })  # fmt: skip


def _fields(f: Filters) -> dict[str, Any]:
    return {name: getattr(f, name) for name in f.__slots__}


async def _search_inbox(
    engines: Engines, inbox: q.NumberSummary, query: str, filters: Filters, start: int, max_pages: int
) -> dict[str, Any]:
    """The hosted API's behaviour: scan pages start..start+max_pages-1 of one inbox."""
    async with engines.reader.connect() as conn:
        seqs = (await conn.execute(
            select(Message.seq).where(Message.number_id == inbox.id).order_by(Message.seq.desc())
            .offset((start - 1) * RESULTS_PER_PAGE).limit(max_pages * RESULTS_PER_PAGE)
        )).scalars().all()  # fmt: skip
    page_of = {seq: start + i // RESULTS_PER_PAGE for i, seq in enumerate(seqs)}
    total_pages = max(1, math.ceil(inbox.messages / RESULTS_PER_PAGE))
    window = Filters(**{**_fields(filters), "number_ids": (inbox.id,), "seqs": (min(seqs), max(seqs))}) if seqs else None
    hits = await search_messages(engines, query, window, limit=len(seqs)) if window else []
    # Inbox order (page by page, newest first), as a client scanning pages would see them.
    found = sorted((h.message for h in hits), key=lambda m: -m.seq)
    scanned = math.ceil(len(seqs) / RESULTS_PER_PAGE)
    return {
        "results": [{**_inbox_json(inbox), "page": page_of[m.seq], **message_json(m)} for m in found],
        "pages_scanned": scanned, "total_pages_available": total_pages,
        "note": f"scanned {scanned} page(s) of {total_pages} of this inbox from page {start} "
                f"({RESULTS_PER_PAGE} messages a page, newest first)",
    }  # fmt: skip


async def health(request: web.Request) -> web.Response:
    engines = request.app[ENGINES]
    try:
        async with engines.reader.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise web.HTTPServiceUnavailable(reason="database unreachable") from exc
    return success({"status": "ok", "database": "ok"})


def install(app: web.Application) -> None:
    r = app.router
    r.add_get("/list_countries", list_countries)
    r.add_get("/list_phone_numbers", list_phone_numbers)
    r.add_get("/get_messages", get_messages)
    r.add_get("/search_messages", search)
    r.add_get("/health", health)
