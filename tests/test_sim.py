"""The simulator against SITE.md and CONTRACT.md section 7: real server, real client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp
import pytest
from click.testing import CliRunner
from selectolax.lexbor import LexborHTMLParser

from crawler.sim import Faults, SimOptions, Simulator, relative, running_simulator
from crawler.sim.command import sim_command
from tests.simfixtures import get, inbox_path_re, rows

P = LexborHTMLParser


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """Overrides the conftest one: the default world (4 countries x 25 numbers), frozen clock."""
    async with running_simulator(SimOptions(seed=7, frozen=True)) as s:
        yield s


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout, headers={"X-Crawler-Id": "test"}) as s:
        yield s


def numbers_of(sim: Simulator, slug: str) -> list[dict]:
    return [n for n in sim.truth()["numbers"] if n["country"] == slug]


def busiest(sim: Simulator, slug: str) -> dict:
    return max(numbers_of(sim, slug), key=lambda n: len(n["messages"]))


# ------------------------------------------------------------------------- world
def test_same_seed_same_world_other_seed_other_world() -> None:
    a = Simulator(SimOptions(seed=3, frozen=True)).truth()
    b = Simulator(SimOptions(seed=3, frozen=True)).truth()
    c = Simulator(SimOptions(seed=4, frozen=True)).truth()
    assert a == b
    assert a["numbers"] != c["numbers"]


def test_world_shape() -> None:
    t = Simulator(SimOptions(seed=5, frozen=True)).truth()
    assert [c["slug"] for c in t["countries"]] == ["united-kingdom", "finland", "poland", "belgium"]
    assert [c["generation"] for c in t["countries"]] == ["legacy", "redesign"] * 2
    assert len(t["numbers"]) == 100
    counts = [len(n["messages"]) for n in t["numbers"]]
    assert min(counts) == 0 and max(counts) > 30 and any(1 <= c <= 10 for c in counts)
    ids = [n["sms_id"] for n in t["numbers"]]
    assert len(set(ids)) == len(ids) and len({n["number"] for n in t["numbers"]}) == 100
    repeats_in_minute = 0
    for n in t["numbers"]:
        times = [datetime.fromisoformat(m["received_at"]) for m in n["messages"]]
        assert times == sorted(times, reverse=True) and len(set(times)) == len(times)
        for m1, m2, t1, t2 in zip(n["messages"], n["messages"][1:], times, times[1:], strict=False):
            same = (m1["sender"], m1["body"]) == (m2["sender"], m2["body"])
            repeats_in_minute += same and (t1 - t2).total_seconds() < 60
        assert all(m["body"] == m["body"].strip() and "  " not in m["body"] for m in n["messages"])
    assert repeats_in_minute >= 5  # adjacent exact repeats within a minute: dedupe must keep both
    bodies = {m["body"] for n in t["numbers"] for m in n["messages"]}
    assert any("<script>" in b for b in bodies) and any(b.startswith("=HYPERLINK") for b in bodies)
    assert any("\u200b" in b for b in bodies) and any("验证码" in b for b in bodies)
    redesign = [m["sender"] for n in t["numbers"] if n["country"] == "finland" for m in n["messages"]]
    assert redesign and all(s.endswith("XXX") for s in redesign)


def test_many_countries_get_letter_suffixes_and_big_worlds_are_fast() -> None:
    t0 = time.perf_counter()
    s = Simulator(SimOptions(countries=20, numbers_per_country=200, messages_per_number=50))
    assert time.perf_counter() - t0 < 8
    slugs = [c.slug for c in s.world.countries]
    assert slugs[11] == "united-kingdom-b" and len(set(slugs)) == 20
    assert s.world.message_count() == 200_000


def test_flat_fault_options_override_faults() -> None:
    o = SimOptions(faults=Faults(rate_junk=0.3), rate_slow=0.5, slow_seconds=0.05)
    assert (o.faults.rate_junk, o.faults.rate_slow, o.faults.slow_seconds) == (0.3, 0.5, 0.05)
    with pytest.raises(ValueError, match="probability"):
        SimOptions(rate_429=3)
    with pytest.raises(ValueError, match="unknown country"):
        Simulator(SimOptions(gated=("atlantis",)))


def test_relative_thresholds() -> None:
    cases = [(9.9, "just now", "just now"), (10, "10 seconds ago", "10 seconds ago"),
             (60, "1 minute ago", "a minute ago"), (150, "2 minutes ago", "2 mins ago"),
             (3600, "1 hour ago", "an hour ago"), (7300, "2 hours ago", "2 hrs ago"),
             (86400, "1 day ago", "yesterday"), (6.9 * 86400, "6 days ago", "6 days ago"),
             (7 * 86400, "1 week ago", "1 week ago"), (29 * 86400, "4 weeks ago", "4 weeks ago"),
             (30 * 86400, "1 month ago", "1 month ago"), (364 * 86400, "12 months ago", "12 months ago"),
             (730 * 86400, "2 years ago", "2 years ago")]
    for diff, legacy, redesign in cases:
        assert relative(diff) == legacy and relative(diff, redesign=True) == redesign


# ------------------------------------------------------------------------- pages
async def test_home_pages(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, html, headers = await get(http, sim.base_url + "/")
    assert status == 200 and "Receive SMS Online" in html
    doc = P(html)
    links = doc.css(".column.fields ul li a")
    assert [a.text().strip() for a in links][:2] == ["United Kingdom+44", "Finland+358"]
    assert len(doc.css('a[href="/country/united-kingdom"]')) == 2  # nav duplicate
    assert links[0].css_first("img").attributes["src"].startswith("/static/flags/")
    async with running_simulator(SimOptions(generation="redesign", frozen=True)) as red:
        _, html, _ = await get(http, red.base_url + "/")
        texts = {a.attributes["href"]: a.text().strip() for a in P(html).css('a[href^="/country/"]')}
        assert texts["/country/finland"] == "Finland +358"


async def test_country_pages_legacy(sim: Simulator, http: aiohttp.ClientSession) -> None:
    base = sim.base_url + "/country/united-kingdom"
    _, p1, _ = await get(http, base)
    _, p2, _ = await get(http, base + "?page=2")
    _, p3, _ = await get(http, base + "?page=3")
    cards1, cards2 = P(p1).css(".numview"), P(p2).css(".numview")
    assert (len(cards1), len(cards2)) == (20, 5)
    status, _, _ = await get(http, base + "?page=3")
    assert status == 200 and P(p3).css_first("section.container") and not P(p3).css(".numview")
    for bad in ("?page=0", "?page=abc", "?page=-3"):
        assert (await get(http, base + bad))[1] == p1
    widget = P(p2).css("div.pagination a")
    assert [a.text() for a in widget] == ["«", "1", "2"]
    assert P(p2).css_first("div.pagination a.active").attributes["href"] == "#"
    assert widget[1].attributes["href"] == f"{base}?page=1"  # absolute, own base URL
    truth = [n["number"] for n in numbers_of(sim, "united-kingdom")]  # newest added first
    shown = [a.text().strip().lstrip("+") for a in P(p1 + p2).css(".numview a.numbutton")]
    shown = [a.text().strip().lstrip("+") for a in P(p1).css(".numview a")] + [
        a.text().strip().lstrip("+") for a in P(p2).css(".numview a")]
    assert shown == truth
    card = cards1[0]
    assert card.css("div.row")[0].css_first("small").text() and "Added " in card.css("small")[1].text()
    for a in P(p1).css(".numview a"):
        assert inbox_path_re().match(urlsplit(a.attributes["href"]).path)
        assert a.attributes["href"].startswith(("/", sim.base_url))


async def test_country_pages_redesign_and_single_page(http: aiohttp.ClientSession) -> None:
    async with running_simulator(SimOptions(numbers_per_country=45, frozen=True)) as s:
        _, html, _ = await get(http, s.base_url + "/country/finland?page=2")
        doc = P(html)
        assert len(doc.css("article.cp-phone-card")) == 20
        hrefs = [a.attributes["href"] for a in doc.css(".pagination a")]
        assert "/country/finland?page=3" in hrefs and "#" in hrefs
        meta = doc.css_first(".cp-phone-card__meta").text()
        assert "Added " in meta and " ago" in meta or "yesterday" in meta
        assert doc.css_first("a.cp-phone-card__number").attributes["href"].startswith("/finland/phone/")
    async with running_simulator(SimOptions(numbers_per_country=5, frozen=True)) as s:
        _, html, _ = await get(http, s.base_url + "/country/poland")
        assert len(P(html).css(".numview")) == 5 and not P(html).css(".pagination")


async def test_whole_site_matches_truth(sim: Simulator, http: aiohttp.ClientSession) -> None:
    truth = sim.truth()
    for n in truth["numbers"]:
        got: list[tuple[str, str]] = []
        page = 1
        while True:
            status, html, _ = await get(http, f"{n['inbox_url']}?page={page}")
            assert status == 200
            r = rows(html)
            if not r:
                break
            assert len(r) <= 10
            got += [(a, c) for a, _, c in r]
            page += 1
        assert got == [(m["sender"], m["body"]) for m in n["messages"]], n["number"]
        assert page - 1 == -(-len(n["messages"]) // 10)


async def test_inbox_markup(sim: Simulator, http: aiohttp.ClientSession) -> None:
    n = busiest(sim, "united-kingdom")
    _, html, _ = await get(http, n["inbox_url"])
    doc = P(html)
    trs = doc.css("table.messagesTable tbody tr")
    assert len(trs) == 10 and all(len(tr.css("td")) == 3 for tr in trs)
    assert [th.text() for th in doc.css("table.messagesTable thead tr th")] == ["From", "Received", "Message"]
    assert doc.css_first("h1.title").text() == "+" + n["number"]
    assert "Region: " in html and "Added: " in html
    last = max(int(a.text()) for a in doc.css(".pagination a") if a.text().isdigit())
    assert last == -(-len(n["messages"]) // 10)
    status, past, _ = await get(http, f"{n['inbox_url']}?page={last + 1}")
    assert status == 200 and P(past).css_first("table.messagesTable tbody") is not None
    assert not P(past).css("table.messagesTable tbody tr")
    r = busiest(sim, "finland")
    _, html, _ = await get(http, r["inbox_url"])
    assert len(P(html).css("table.mp-table tbody tr")) == 10
    for path in ("/united-kingdom/phone/449999999999/sms/1", n["inbox_url"].rsplit("/", 1)[0] + "/1",
                 "/finland/phone/" + n["number"] + "/sms/" + str(n["sms_id"]), "/nope/x"):
        status, body, _ = await get(http, sim.base_url + path if path.startswith("/") else path)
        assert status == 404 and "Not Found" in body and "container" not in body
    status, robots, _ = await get(http, sim.base_url + "/robots.txt")
    assert status == 200 and "Allow: /" in robots and "Crawl-delay" not in robots
    assert (await get(http, sim.base_url + "/sign-in"))[0] == 200


# ------------------------------------------------------------------------- clock + arrivals
async def test_date_header_and_relative_texts_follow_the_clock(sim: Simulator,
                                                               http: aiohttp.ClientSession) -> None:
    n = busiest(sim, "united-kingdom")
    _, before, h1 = await get(http, n["inbox_url"])
    assert h1["Date"] == "Sun, 01 Nov 2026 12:00:00 GMT"
    sim.advance(3 * 86400 + 0.7)
    _, after, h2 = await get(http, n["inbox_url"])
    assert parsedate_to_datetime(h2["Date"]) - parsedate_to_datetime(h1["Date"]) == \
        (parsedate_to_datetime("Wed, 04 Nov 2026 12:00:00 GMT") - parsedate_to_datetime(h1["Date"]))
    assert [r[1] for r in rows(before)] != [r[1] for r in rows(after)]
    assert rows(before)[0][0] == rows(after)[0][0]
    async with http.post(sim.base_url + "/__clock__", json={"advance": 60}) as r:
        assert (await r.json())["now"].startswith("2026-11-04T12:01:00")


async def test_arrivals_materialise_lazily(http: aiohttp.ClientSession) -> None:
    async with running_simulator(SimOptions(frozen=True, arrivals_per_minute=30,
                                            numbers_per_hour=6)) as s:
        before = s.world.message_count()
        assert s.world.message_count() == before  # nothing until the clock moves
        s.advance(2 * 86400)
        t = s.truth()
        added = sum(len(n["messages"]) for n in t["numbers"]) - before
        assert 0.8 * 86400 < added < 1.2 * 86400
        assert 150 < len(t["numbers"]) - 100 < 450
        newest = max(t["numbers"], key=lambda n: n["messages"][0]["received_at"] if n["messages"] else "")
        _, html, _ = await get(http, newest["inbox_url"])
        assert rows(html)[0][0::2] == (newest["messages"][0]["sender"], newest["messages"][0]["body"])
        twin = Simulator(SimOptions(frozen=True, arrivals_per_minute=30, numbers_per_hour=6))
        twin.advance(86400)
        twin.advance(86400)
        assert twin.truth()["numbers"] == [{**n, "inbox_url": n["inbox_url"].replace(s.base_url, "")}
                                           for n in t["numbers"]]


async def test_add_messages_exact_repeats(sim: Simulator, http: aiohttp.ClientSession) -> None:
    n = numbers_of(sim, "united-kingdom")[0]
    added = sim.add_messages(n["number"], 4, repeat_ratio=1.0)
    assert len(added) == 4 and len({(m["sender"], m["body"]) for m in added}) == 1
    _, html, _ = await get(http, n["inbox_url"])
    top = [(a, c) for a, _, c in rows(html)[:4]]
    assert len(top) == 4 and len(set(top)) == 1
    async with http.post(sim.base_url + "/__arrive__",
                         json={"number": n["number"], "count": 2, "repeat_ratio": 0}) as r:
        body = await r.json()
        assert r.status == 200 and len(body["messages"]) == 2
    assert sim.truth()["numbers"][0]["messages"][0] == body["messages"][-1]
    async with http.post(sim.base_url + "/__arrive__", json={"number": "1", "count": 1}) as r:
        assert r.status == 400


# ------------------------------------------------------------------------- faults
async def test_status_faults(sim: Simulator, http: aiohttp.ClientSession) -> None:
    url = sim.base_url + "/country/united-kingdom"
    sim.set_faults(rate_429=1.0, retry_after=7)
    status, _, h = await get(http, url)
    assert status == 429 and h["Retry-After"] == "7" and "Date" in h
    sim.set_faults(rate_429=1.0, retry_after=0)
    assert "Retry-After" not in (await get(http, url))[2]
    sim.set_faults(Faults(rate_5xx=1.0))
    assert {(await get(http, url))[0] for _ in range(12)} <= {500, 502, 503}
    assert (await get(http, sim.base_url + "/__truth__"))[0] == 200  # control is never faulted
    sim.set_faults(Faults(rate_challenge=1.0, challenge_paths=("/country/",)))
    status, html, _ = await get(http, url)
    assert status == 403 and "<title>Just a moment...</title>" in html
    assert "Checking your browser" in html and "numview" not in html
    assert (await get(http, sim.base_url + "/"))[0] == 200
    sim.set_faults(Faults(rate_slow=1.0, slow_seconds=0.3))
    t0 = time.perf_counter()
    assert (await get(http, url))[0] == 200 and time.perf_counter() - t0 >= 0.3


async def test_connection_faults(sim: Simulator, http: aiohttp.ClientSession) -> None:
    url = sim.base_url + "/country/united-kingdom"
    sim.set_faults(Faults(rate_drop=1.0))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await get(http, url)
    sim.set_faults(Faults(rate_truncate=1.0))
    with pytest.raises(aiohttp.ClientPayloadError):
        await get(http, url)
    sim.set_faults(Faults(rate_stall=1.0))
    t0 = time.perf_counter()
    with pytest.raises(asyncio.TimeoutError):
        await get(http, url, timeout=aiohttp.ClientTimeout(total=0.5))
    assert time.perf_counter() - t0 < 3
    sim.set_faults(None)
    assert (await get(http, url))[0] == 200
    for _ in range(100):  # the stalled handler notices the client left on its next poll
        if sim.request_counts()["by_status"].get("stalled"):
            break
        await asyncio.sleep(0.02)
    counts = sim.request_counts()
    # aiohttp's client retries a GET once when a pooled connection dies, hence ">= 1".
    assert counts["by_status"]["dropped"] >= 1 and counts["by_status"]["stalled"] == 1
    assert counts["by_fault"]["truncate"] == 1 and counts["by_fault"]["stall"] == 1


async def test_content_faults(sim: Simulator, http: aiohttp.ClientSession) -> None:
    n = busiest(sim, "united-kingdom")
    f = busiest(sim, "finland")
    sim.set_faults(gated=("united-kingdom",))
    for url in (n["inbox_url"], sim.base_url + "/country/united-kingdom"):
        status, html, _ = await get(http, url)
        assert status == 200 and "log in" in html.lower() and 'href="/sign-in"' in html
        assert not rows(html) and "numview" not in html
    assert "Please log in to view messages for this number." in (await get(http, n["inbox_url"]))[1]
    assert rows((await get(http, f["inbox_url"]))[1])
    assert sim.truth()["countries"][0]["gated"] is True
    sim.set_faults(Faults(gate_all=True))
    assert not rows((await get(http, f["inbox_url"]))[1])
    sim.set_faults(Faults(rate_junk=1.0))
    _, html, _ = await get(http, n["inbox_url"])
    assert 'class="ad-slot">Advertisement' in html and len(rows(html)) == 10
    sim.set_faults(Faults(rate_404_content=1.0))
    status, html, _ = await get(http, n["inbox_url"])
    assert status == 404 and len(rows(html)) == 10
    sim.set_faults(Faults(rate_sse_blank=1.0))
    _, html, _ = await get(http, n["inbox_url"])
    assert any(r[0] == "" and r[2] == "" for r in rows(html))


async def test_faults_endpoint_and_determinism(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.post(sim.base_url + "/__faults__", json={"rate_429": 0.5, "gated": ["poland"]}) as r:
        assert r.status == 200 and (await r.json())["gated"] == ["poland"]
    assert sim.faults.rate_429 == 0.5 and sim.faults.is_gated("poland")
    for bad in ({"rate_429": 2}, {"bogus": 1}, {"gated": ["atlantis"]}):
        async with http.post(sim.base_url + "/__faults__", json=bad) as r:
            assert r.status == 400 and "error" in await r.json()
    async with http.post(sim.base_url + "/__faults__", json={"reset": True}) as r:
        assert (await r.json())["rate_429"] == 0
    outcomes = []
    for _ in range(2):
        async with running_simulator(SimOptions(seed=9, faults=Faults(rate_5xx=0.5))) as s:
            outcomes.append([(await get(http, s.base_url + "/"))[0] for _ in range(20)])
    assert outcomes[0] == outcomes[1] and len(set(outcomes[0])) > 1


# ------------------------------------------------------------------------- control + CLI
async def test_request_counter_and_log(sim: Simulator, http: aiohttp.ClientSession) -> None:
    n = busiest(sim, "poland")
    for path in ("/", "/country/poland", "/robots.txt", "/sign-in", "/missing/page"):
        await get(http, sim.base_url + path)
    await get(http, n["inbox_url"])
    await get(http, sim.base_url + "/__truth__")
    _, text, _ = await get(http, sim.base_url + "/__requests__?log=1")
    counts = json.loads(text)
    assert counts["total"] == 6
    assert counts["by_kind"] == {"home": 1, "country": 1, "inbox": 1, "robots": 1, "other": 2}
    assert counts["by_status"] == {"200": 5, "404": 1}
    assert counts["log"][0]["client"] == "test" and counts["log"][0]["path"] == "/"
    assert {"started", "finished", "status", "kind"} <= set(counts["log"][0])
    async with http.post(sim.base_url + "/__requests__/reset") as r:
        assert (await r.json())["total"] == 0
    assert "log" not in json.loads((await get(http, sim.base_url + "/__requests__"))[1])


async def test_truth_endpoint(sim: Simulator, http: aiohttp.ClientSession) -> None:
    t = json.loads((await get(http, sim.base_url + "/__truth__"))[1])
    assert t["now"].startswith("2026-11-01T12:00:00")
    assert set(t["countries"][0]) >= {"slug", "name", "calling_code", "generation", "gated"}
    n = t["numbers"][0]
    assert set(n) >= {"number", "country", "sms_id", "inbox_url", "gated", "messages"}
    assert n["inbox_url"].startswith(sim.base_url + "/united-kingdom/phone/")
    assert set(n["messages"][0]) == {"sender", "body", "received_at"} if n["messages"] else True


def test_cli_help_and_bad_values() -> None:
    runner = CliRunner()
    out = runner.invoke(sim_command, ["--help"])
    assert out.exit_code == 0 and "Example:" in out.output
    for flag in ("--rate-429", "--rate-stall", "--gated", "--challenge-path", "--frozen",
                 "--arrivals-per-minute", "--rate-sse-blank", "--rate-404-content"):
        assert flag in out.output
    bad = runner.invoke(sim_command, ["--rate-429", "2"])
    assert bad.exit_code == 2 and "--rate-429" in bad.output
    bad = runner.invoke(sim_command, ["--gated", "atlantis"])
    assert bad.exit_code == 2 and "atlantis" in bad.output
    bad = runner.invoke(sim_command, ["--start", "yesterday"])
    assert bad.exit_code == 2 and "ISO 8601" in bad.output
