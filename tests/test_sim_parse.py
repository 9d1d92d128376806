"""Property: parsing every page the simulator serves gives back exactly its truth.

For random seeds, generations and clock offsets, a reader that knows only the parsers (no
crawler logic) reads the whole simulated site over HTTP and must recover every country,
every number and every message (order, sender, body), with every true arrival time inside
the interval parsed from the relative text and the response's Date header.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.sim import SimOptions, running_simulator
from crawler.sites.base import PageKind
from crawler.sites.smstome import (
    country_url,
    home_url,
    page_url,
    parse_country,
    parse_home,
    parse_inbox,
)


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[bytes, int, datetime]:
    async with http.get(url) as r:
        return await r.read(), r.status, parsedate_to_datetime(r.headers["Date"])


async def _read_site(base: str) -> dict[str, Any]:
    seen: dict[str, Any] = {"countries": [], "numbers": {}}
    async with aiohttp.ClientSession() as http:
        body, status, _ = await _get(http, home_url(base))
        home = parse_home(body, home_url(base), status=status)
        assert home.kind is PageKind.OK
        seen["countries"] = [c.slug for c in home.countries]
        for c in home.countries:
            url: str | None = country_url(base, c.slug)
            numbers = []
            while url:
                body, status, _ = await _get(http, url)
                page = parse_country(body, url, status=status)
                assert page.kind in (PageKind.OK, PageKind.EMPTY), (url, page.kind)
                numbers += page.numbers
                url = page.pagination.next_url if page.pagination and page.numbers else None
            for n in numbers:
                msgs = []
                p = 1
                while True:
                    target = page_url(n.inbox_url, p)
                    body, status, fetched = await _get(http, target)
                    inbox = parse_inbox(body, target, fetched, status=status)
                    assert inbox.kind in (PageKind.OK, PageKind.EMPTY), (target, inbox.kind)
                    msgs += inbox.messages
                    if not inbox.messages or inbox.pagination is None or inbox.pagination.next_url is None:
                        break
                    p += 1
                seen["numbers"][n.number] = (c.slug, n.sms_id, msgs)
    return seen


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    generation=st.sampled_from(["legacy", "redesign", "mixed"]),
    offset=st.floats(0, 400 * 86400),
    quirks=st.booleans(),
)
def test_parsers_recover_the_simulators_truth(seed: int, generation: str, offset: float, quirks: bool) -> None:
    async def go() -> None:
        options = SimOptions(
            seed=seed, countries=2, numbers_per_country=22, max_messages=25, generation=generation,  # type: ignore[arg-type]
            frozen=True, quirks=quirks, repeat_ratio=0.4,
        )
        async with running_simulator(options) as sim:
            sim.advance(offset)
            assert sim.base_url
            seen = await _read_site(sim.base_url)
            truth = sim.truth()
        assert seen["countries"] == [c["slug"] for c in truth["countries"]]
        assert set(seen["numbers"]) == {n["number"] for n in truth["numbers"]}
        for n in truth["numbers"]:
            slug, sms_id, msgs = seen["numbers"][n["number"]]
            assert (slug, sms_id) == (n["country"], n["sms_id"])
            assert [(m.sender, m.body) for m in msgs] == [(m["sender"], m["body"]) for m in n["messages"]]
            for parsed, true in zip(msgs, n["messages"], strict=True):
                t = datetime.fromisoformat(true["received_at"])
                lo, hi = parsed.interval.earliest, parsed.interval.latest
                assert lo is not None and hi is not None and lo <= t <= hi, (parsed.received_text, t, lo, hi)

    asyncio.run(go())
