"""Fuzzing the site parsers with mutated simulator pages (hypothesis).

Pages of both markup generations (home, country listing, inbox, plus the login wall,
challenge, sign-in and error pages) are cut into tags and text, then mutated: elements
dropped, duplicated and reordered, the document cut anywhere, garbage bytes injected.
Every parser must return a classified page or raise `LayoutError` for a page it does not
understand, never anything else, never an *internal* LayoutError (a parser bug caught by the
guard), and never hang (hypothesis deadline per example).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.sim import SimOptions, Simulator, render
from crawler.sites.base import CountryPage, HomePage, InboxPage, PageKind
from crawler.sites.smstome import LayoutError, parse_country, parse_home, parse_inbox

BASE = "https://smstome.com"
FETCHED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TOKEN = re.compile(rb"(<[^>]*>)")
FUZZ = settings(
    max_examples=400,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples on every run: a failure is reproducible, CI is stable
)


@cache
def pages() -> dict[str, list[tuple[str, bytes]]]:
    """(url, html) of every page kind of both generations, from a small simulated world."""
    sim = Simulator(SimOptions(seed=4, countries=2, numbers_per_country=25, max_messages=30, frozen=True))
    now = sim.now()
    world = sim.world
    out: dict[str, list[tuple[str, bytes]]] = {"home": [], "country": [], "inbox": []}
    for redesign in (False, True):
        out["home"].append((BASE + "/", render.home(world, redesign).encode()))
    for c in world.countries:
        for page in (1, 2):
            out["country"].append((f"{BASE}/country/{c.slug}", render.country(c, page, now, BASE, 20, True).encode()))
        out["country"].append((f"{BASE}/country/{c.slug}", render.gate_country(c).encode()))
        busy = max(c.numbers, key=lambda n: len(n.messages))
        url = BASE + busy.path
        for page in (1, 2):
            out["inbox"].append((url, render.inbox(busy, page, now, BASE, 10, junk=sim.fault_rng, blank=None).encode()))
        out["inbox"].append((url, render.inbox(busy, 1, now, BASE, 10, blank=sim.fault_rng).encode()))
        out["inbox"].append((url, render.gate_inbox(busy).encode()))
    for kind in out:
        out[kind] += [
            (BASE + "/x", render.CHALLENGE.encode()),
            (BASE + "/x", render.sign_in().encode()),
            (BASE + "/x", render.error_page(503).encode()),
        ]
    return out


def mutate(data: st.DataObject, doc: bytes) -> bytes:
    tokens = [t for t in TOKEN.split(doc) if t]
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        if not tokens:
            break
        op = data.draw(st.sampled_from(["drop", "dup", "swap", "cut", "garbage", "text"]), label="op")
        i = data.draw(st.integers(0, len(tokens) - 1), label="at")
        j = min(len(tokens), i + data.draw(st.integers(1, 12), label="span"))
        if op == "drop":
            del tokens[i:j]
        elif op == "dup":
            tokens[i:i] = tokens[i:j] * data.draw(st.integers(1, 3), label="times")
        elif op == "swap":
            k = data.draw(st.integers(0, len(tokens) - 1), label="other")
            tokens[i], tokens[k] = tokens[k], tokens[i]
        elif op == "cut":
            joined = b"".join(tokens)
            tokens = [joined[: data.draw(st.integers(0, len(joined)), label="cut at")]]
        elif op == "garbage":
            tokens.insert(i, data.draw(st.binary(min_size=1, max_size=40), label="garbage"))
        else:
            tokens[i] = data.draw(st.text(max_size=30), label="text").encode("utf-8", "surrogatepass")
    return b"".join(tokens)


def check(kind: str, url: str, body: bytes, status: int) -> None:
    page: HomePage | CountryPage | InboxPage
    try:
        if kind == "home":
            page = parse_home(body, url, status=status)
        elif kind == "country":
            page = listing = parse_country(body, url, status=status)
            for n in listing.numbers:
                assert n.number.isdigit() and 7 <= len(n.number) <= 15
        else:
            page = inbox = parse_inbox(body, url, FETCHED, status=status)
            for m in inbox.messages:
                assert "\x00" not in m.sender + m.body + m.received_text
    except LayoutError as exc:
        assert not exc.internal, f"parser bug on mutated input: {exc}"
        assert "\n" not in str(exc) and len(str(exc)) < 2000
        return
    assert isinstance(page.kind, PageKind)


@pytest.mark.parametrize("kind", ["home", "country", "inbox"])
def test_mutated_pages_are_classified_or_layout_errors(kind: str) -> None:
    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        url, doc = data.draw(st.sampled_from(pages()[kind]), label="page")
        status = data.draw(st.sampled_from([200, 200, 404, 403, 503]), label="status")
        check(kind, url, mutate(data, doc), status)

    run()


@FUZZ
@given(body=st.binary(max_size=2000), kind=st.sampled_from(["home", "country", "inbox"]))
def test_random_bytes_are_classified_or_layout_errors(body: bytes, kind: str) -> None:
    check(kind, BASE + "/united-kingdom/phone/447700900121/sms/12001", body, 200)


def test_unmutated_pages_parse() -> None:
    """The fuzz corpus itself is read correctly (so the mutations start from real pages)."""
    kinds = {k: [] for k in ("home", "country", "inbox")}  # type: dict[str, list[PageKind]]
    for kind, docs in pages().items():
        for url, doc in docs[:-3]:
            if kind == "home":
                kinds[kind].append(parse_home(doc, url).kind)
            elif kind == "country":
                kinds[kind].append(parse_country(doc, url).kind)
            else:
                kinds[kind].append(parse_inbox(doc, url, FETCHED).kind)
    assert set(kinds["home"]) == {PageKind.OK}
    assert set(kinds["country"]) == {PageKind.OK, PageKind.GATED}
    assert set(kinds["inbox"]) == {PageKind.OK, PageKind.GATED}
