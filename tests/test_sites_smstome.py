"""smstome parsers against the pages of tests/fixtures/smstome/ (SITE.md §7 and §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.sites.base import Generation, InboxPage, Interval, PageKind, Pagination
from crawler.sites.smstome import (
    LayoutError,
    country_url,
    home_url,
    normalise_number,
    page_url,
    parse_country,
    parse_home,
    parse_inbox,
    parse_inbox_url,
)

FIXTURES = Path(__file__).parent / "fixtures" / "smstome"
SITE = "https://smstome.com"
INBOX = f"{SITE}/united-kingdom/phone/447700900121/sms/16121"
FETCHED = datetime(2026, 5, 13, 12, 0, 0, tzinfo=UTC)


def page(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def inbox(name: str, url: str = INBOX, **kwargs: Any) -> InboxPage:
    return parse_inbox(page(name), url, FETCHED, **kwargs)


# --------------------------------------------------------------------------- SITE.md §7


def test_home_legacy_sample() -> None:
    home = parse_home(page("home_legacy.html"), f"{SITE}/")
    assert (home.kind, home.generation) == (PageKind.OK, Generation.LEGACY)
    assert [c.slug for c in home.countries] == [
        "united-kingdom",
        "finland",
        "poland",
        "belgium",
        "netherlands",
        "slovenia",
    ]
    uk = home.countries[0]
    assert uk.title == "United Kingdom+44"
    assert uk.name == "United Kingdom"
    assert uk.calling_code == "44"
    assert uk.url == "https://smstome.com/country/united-kingdom"
    assert uk.flag_url == "https://smstome.com/static/flags/gb.svg"
    assert home.countries[5].calling_code == "386"


def test_country_legacy_sample_page_2_of_3() -> None:
    url = f"{SITE}/country/united-kingdom?page=2"
    result = parse_country(page("country_legacy_p2.html"), url)
    assert (result.kind, result.generation) == (PageKind.OK, Generation.LEGACY)
    assert len(result.numbers) == 3
    first = result.numbers[0]
    assert first.number == "447700900121"
    assert first.sms_id == 16121
    assert first.country_slug == "united-kingdom"
    assert first.inbox_url == INBOX
    assert first.location == "London"
    assert first.added_text == "Added 4 minutes ago"
    assert first.is_new is True
    assert [n.is_new for n in result.numbers] == [True, False, False]
    # relative href variant resolves against the page
    assert result.numbers[2].inbox_url == f"{SITE}/united-kingdom/phone/447700900123/sms/15990"
    assert result.pagination == Pagination(
        current=2, last=3, next_url=f"{SITE}/country/united-kingdom?page=3"
    )
    assert result.skipped == 0


def test_country_legacy_sample_as_page_3_stops_by_rule_a_and_b() -> None:
    body = page("country_legacy_p2.html").replace(b'href="#" class="active">2', b'href="#">2')
    body = body.replace(b'page=3">3</a>', b'page=3" class="active">3</a>', 1)
    result = parse_country(body, f"{SITE}/country/united-kingdom?page=3")
    assert result.pagination == Pagination(current=3, last=3, next_url=None)


def test_inbox_legacy_sample_page_1_of_4() -> None:
    result = inbox("inbox_legacy_p1.html")
    assert (result.kind, result.generation) == (PageKind.OK, Generation.LEGACY)
    assert len(result.messages) == 10
    assert result.skipped == 2  # the thead row and the colspan ad row
    assert result.degraded is False
    assert result.number == "447700900121"
    assert result.region == "London"
    assert result.added_text == "4 minutes ago"
    assert result.pagination == Pagination(current=1, last=4, next_url=f"{INBOX}?page=2")
    senders = [m.sender for m in result.messages]
    assert senders == [
        "ExampleBank",
        "447700900555",
        "SHOPCO",
        "Verify",
        "学习平台",
        "TAXIAPP",
        "447700900777",
        "PAYSVC",
        "MAILER",
        "NEWSBOT",
    ]
    by_sender = {m.sender: m for m in result.messages}
    assert by_sender["TAXIAPP"].body == "Code: 9044 Expires in 10 min"
    assert by_sender["SHOPCO"].body == "SHOPCO: code 5521"
    assert by_sender["Verify"].body == "\u200eG-771204 is your verification code."
    assert by_sender["学习平台"].body == "您的验证码为：306118，5分钟内有效。"
    assert by_sender["PAYSVC"].body == "One-time PIN 1 2 3 4 5 6"
    assert by_sender["ExampleBank"].received_text == "just now"
    assert by_sender["TAXIAPP"].interval == Interval(
        datetime(2026, 5, 13, 8, 0, 0, tzinfo=UTC), datetime(2026, 5, 13, 9, 0, 1, tzinfo=UTC)
    )
    assert by_sender["447700900777"].interval == Interval(
        FETCHED - timedelta(hours=48), FETCHED + timedelta(seconds=1)
    )


def test_inbox_resolution_widens_the_upper_bound() -> None:
    result = inbox("inbox_legacy_p1.html", resolution=timedelta(seconds=5))
    assert result.messages[1].interval == Interval(
        FETCHED - timedelta(minutes=2), FETCHED - timedelta(minutes=1) + timedelta(seconds=5)
    )


def test_redesign_country_card_fragment() -> None:
    result = parse_country(page("fragment_country_card_redesign.html"), f"{SITE}/country/finland")
    assert (result.kind, result.generation) == (PageKind.OK, Generation.REDESIGN)
    (number,) = result.numbers
    assert number.number == "358700900301"
    assert number.sms_id == 16240
    assert number.inbox_url == f"{SITE}/finland/phone/358700900301/sms/16240"
    assert number.added_text == "Added 12 minutes ago"
    assert number.is_new is True
    assert number.location is None
    assert result.pagination == Pagination(current=1, last=None, next_url=None)


def test_redesign_inbox_table_fragment_keeps_masked_senders() -> None:
    result = inbox("fragment_inbox_table_redesign.html")
    assert (result.kind, result.generation) == (PageKind.OK, Generation.REDESIGN)
    assert [(m.sender, m.body) for m in result.messages] == [
        ("447700900XXX", "Code 7730 for your sign-in"),
        ("ACMEXXX", "ACME: 118204 is your code"),
    ]


@pytest.mark.parametrize("name", ["fragment_gated.html", "gated_redesign.html"])
def test_login_wall_is_gated_on_every_page_kind(name: str) -> None:
    body = page(name)
    gated = inbox(name)
    assert (gated.kind, gated.generation, gated.messages) == (PageKind.GATED, Generation.NONE, ())
    assert gated.number == "447700900121"
    assert parse_country(body, f"{SITE}/country/united-kingdom").kind is PageKind.GATED
    assert parse_home(body, f"{SITE}/").kind is PageKind.GATED


@pytest.mark.parametrize("name", ["challenge_moment.html", "challenge_blocked.html"])
@pytest.mark.parametrize("status", [200, 403, 503])
def test_cloudflare_pages_are_challenged_at_any_status(name: str, status: int) -> None:
    body = page(name)
    assert inbox(name, status=status).kind is PageKind.CHALLENGED
    assert parse_country(body, f"{SITE}/country/usa", status=status).kind is PageKind.CHALLENGED
    assert parse_home(body, f"{SITE}/", status=status).kind is PageKind.CHALLENGED


# --------------------------------------------------------------------------- SITE.md §6 edge cases


def test_unknown_layout_raises_one_line_layout_error_naming_url() -> None:
    for parse in (
        lambda b: parse_inbox(b, INBOX, FETCHED),
        lambda b: parse_country(b, f"{SITE}/country/usa"),
        lambda b: parse_home(b, f"{SITE}/"),
    ):
        with pytest.raises(LayoutError) as info:
            parse(page("unknown_layout.html"))
        message = str(info.value)
        assert "\n" not in message
        assert "smstome.com" in message
        assert "no " in message  # says what was missing
        assert info.value.internal is False


def test_inbox_past_the_end_is_empty_not_an_error() -> None:
    result = inbox("inbox_past_end.html", url=f"{INBOX}?page=5")
    assert (result.kind, result.generation) == (PageKind.EMPTY, Generation.LEGACY)
    assert result.messages == ()
    assert result.pagination == Pagination(current=5, last=None, next_url=None)


def test_404_with_inbox_markup_parses_normally() -> None:
    result = inbox("inbox_legacy_p1.html", status=404)
    assert result.kind is PageKind.OK
    assert len(result.messages) == 10
    assert result.notes == ("HTTP 404 carried a usable inbox page",)


def test_404_without_markup_is_gone() -> None:
    assert inbox("not_found.html", status=404).kind is PageKind.GONE
    gone = parse_country(page("not_found.html"), f"{SITE}/country/atlantis", status=404)
    assert gone.kind is PageKind.GONE


@pytest.mark.parametrize("status", [200, 500, 410])
def test_other_statuses_without_markup_raise(status: int) -> None:
    with pytest.raises(LayoutError, match=f"HTTP {status}"):
        inbox("not_found.html", status=status)
    with pytest.raises(LayoutError):
        parse_home(page("not_found.html"), f"{SITE}/", status=status)


def test_sse_blanked_rows_degrade_the_page() -> None:
    result = inbox("inbox_sse_blanked.html")
    assert result.kind is PageKind.OK
    assert result.degraded is True
    assert result.blanked == 2
    assert [m.sender for m in result.messages] == ["VISIBLE"]


def test_junk_header_colspan_and_placeholder_rows_are_skipped_and_counted() -> None:
    result = inbox("inbox_junk_rows.html")
    assert [(m.sender, m.body, m.received_text) for m in result.messages] == [
        ("ONE", "first", "1 minute ago"),
        ("TWO", "second", "2 minutes ago"),
    ]
    assert result.skipped == 7
    assert result.degraded is False


def test_only_placeholder_rows_is_empty() -> None:
    body = page("inbox_past_end.html").replace(
        b"<tbody></tbody>", b'<tbody><tr><td colspan="3">No messages yet</td></tr></tbody>'
    )
    result = parse_inbox(body, INBOX, FETCHED)
    assert (result.kind, result.skipped) == (PageKind.EMPTY, 2)


def test_bodies_keep_unicode_and_join_boundaries_with_one_space() -> None:
    result = inbox("inbox_bodies.html")
    bodies = {m.sender: m.body for m in result.messages}
    assert bodies == {
        "RTL": "\u202bקוד: 1234\u202c \u2067x\u2069",
        "ZW": "co\u200bde\u200d  7\u20607",
        "CJK": "認証コード 123456 を入力してください",
        "BR": "line one line two line three",
        "NEST": "Code : 9044 bye",
        "SSE": "premidpost",
        "WALL": "Please login to confirm. If you have been blocked, Checking your browser helps.",
        "SPACE": "keep   inner   spacing",
        "MARKUP": "1 < 2 & 3 > 2",
    }
    # a message quoting the login wall or Cloudflare must not gate or challenge its page
    assert result.kind is PageKind.OK


def test_generic_table_fallback_keeps_identical_rows() -> None:
    result = inbox("inbox_generic.html", url=f"{SITE}/united-kingdom/phone/447700900124/sms/9")
    assert (result.kind, result.generation) == (PageKind.OK, Generation.GENERIC)
    assert result.number == "447700900124"
    assert len(result.messages) == 2  # two identical rows on the site stay two rows
    assert result.messages[0].received_text == "an hour ago"
    assert result.skipped == 1


def test_redesign_inbox_page_region_and_added() -> None:
    result = inbox("inbox_redesign.html")
    assert (result.kind, result.generation) == (PageKind.OK, Generation.REDESIGN)
    assert result.number == "447700900121"
    assert result.region == "Greater London"
    assert result.added_text == "2 hours ago"


def test_redesign_country_page_dedupes_and_counts_bad_cards() -> None:
    result = parse_country(page("country_redesign.html"), f"{SITE}/country/finland")
    assert (result.kind, result.generation) == (PageKind.OK, Generation.REDESIGN)
    assert [(n.number, n.is_new, n.added_text) for n in result.numbers] == [
        ("358700900301", True, "Added 12 minutes ago"),
        ("358700900302", False, "Added 3 hours ago"),
    ]
    # plain http on the real host is normalised to https
    assert result.numbers[1].inbox_url == f"{SITE}/finland/phone/358700900302/sms/16235"
    assert result.skipped == 2  # the bad link and the ad card
    assert result.pagination == Pagination(
        current=1, last=2, next_url=f"{SITE}/country/finland?page=2"
    )


def test_country_without_pagination_widget_is_one_page() -> None:
    result = parse_country(page("country_legacy_single.html"), f"{SITE}/country/slovenia")
    assert result.pagination == Pagination(current=1, last=None, next_url=None)
    (number,) = result.numbers
    assert (number.location, number.added_text, number.is_new) == (
        "Ljubljana",
        "Added 1 minute ago",
        True,
    )
    assert result.skipped == 1


def test_country_past_the_end_is_empty() -> None:
    result = parse_country(page("country_empty.html"), f"{SITE}/country/united-kingdom?page=9")
    assert (result.kind, result.generation) == (PageKind.EMPTY, Generation.LEGACY)
    assert result.pagination == Pagination(current=9, last=None, next_url=None)


def test_home_is_not_an_empty_country_page() -> None:
    with pytest.raises(LayoutError):
        parse_country(page("home_legacy.html"), f"{SITE}/country/usa")
    with pytest.raises(LayoutError):
        parse_country(page("inbox_past_end.html"), f"{SITE}/country/usa")


def test_home_redesign_dedupes_by_slug_and_strips_dial_codes() -> None:
    home = parse_home(page("home_redesign.html"), SITE)
    assert (home.kind, home.generation) == (PageKind.OK, Generation.REDESIGN)
    assert [(c.slug, c.name, c.calling_code, c.title) for c in home.countries] == [
        ("united-kingdom", "United Kingdom", "44", "United Kingdom (+44)"),
        ("finland", "Finland", "358", "Finland +358"),
        ("sweden", "Sweden", "46", "Sweden (+46)"),
    ]
    assert home.countries[1].flag_url == f"{SITE}/img/flags/fi.png"


@pytest.mark.parametrize("query", ["?page=0", "?page=abc", "?page=-3", ""])
def test_bad_page_parameter_falls_back_to_page_1(query: str) -> None:
    body = page("inbox_legacy_p1.html").replace(b' class="active"', b"")
    result = parse_inbox(body, INBOX + query, FETCHED)
    assert result.pagination == Pagination(current=1, last=4, next_url=f"{INBOX}?page=2")
    single = parse_country(page("country_legacy_single.html"), f"{SITE}/country/slovenia{query}")
    assert single.pagination == Pagination(current=1, last=None, next_url=None)


def test_simulator_origin_is_kept_and_site_links_are_moved_onto_it() -> None:
    base = "http://127.0.0.1:8123"
    result = parse_country(page("country_legacy_p2.html"), f"{base}/country/united-kingdom?page=2")
    assert [n.inbox_url for n in result.numbers] == [
        f"{base}/united-kingdom/phone/447700900121/sms/16121",
        f"{base}/united-kingdom/phone/447700900122/sms/16118",
        f"{base}/united-kingdom/phone/447700900123/sms/15990",
    ]
    assert result.pagination is not None
    assert result.pagination.next_url == f"{base}/country/united-kingdom?page=3"
    home = parse_home(page("home_legacy.html"), f"{base}/")
    assert home.countries[0].url == f"{base}/country/united-kingdom"
    assert home.countries[0].flag_url == f"{base}/static/flags/gb.svg"


def test_links_to_other_hosts_are_kept() -> None:
    body = page("country_legacy_single.html").replace(
        b"https://smstome.com/slovenia", b"https://mirror.example/slovenia"
    )
    result = parse_country(body, f"{SITE}/country/slovenia")
    assert (
        result.numbers[0].inbox_url == "https://mirror.example/slovenia/phone/38670090011/sms/16300"
    )


def test_invalid_utf8_does_not_raise() -> None:
    body = page("inbox_legacy_p1.html").replace(b"Hello there", b"Hello \xff\xfe there")
    result = parse_inbox(body, INBOX, FETCHED)
    assert result.messages[6].body == "Hello \ufffd\ufffd there"


# --------------------------------------------------------------------------- numbers and URLs


@pytest.mark.parametrize(
    "text",
    ["+44 7700 900121", "447700900121", "44-7700-900121", "(+44) 7700 900121", "+447700900121"],
)
def test_normalise_number(text: str) -> None:
    assert normalise_number(text) == "447700900121"


@pytest.mark.parametrize("text", ["123456", "1234567890123456", "447700900XXX", "", "+44 ٧٧٠٠"])
def test_normalise_number_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="7 to 15 digits") as info:
        normalise_number(text)
    assert "\n" not in str(info.value)


def test_url_helpers() -> None:
    assert home_url(SITE) == f"{SITE}/"
    assert home_url(f"{SITE}/") == f"{SITE}/"
    assert country_url(SITE, "finland") == f"{SITE}/country/finland"
    assert country_url(f"{SITE}/", "finland", 3) == f"{SITE}/country/finland?page=3"
    assert page_url(INBOX, 2) == f"{INBOX}?page=2"
    assert page_url(f"{INBOX}?page=2", 3) == f"{INBOX}?page=3"
    assert page_url(f"{INBOX}?page=2", 1) == INBOX
    assert page_url(f"{SITE}/country/usa?ref=x&page=4", 5) == f"{SITE}/country/usa?ref=x&page=5"
    with pytest.raises(ValueError):
        page_url(INBOX, 0)


def test_parse_inbox_url() -> None:
    assert parse_inbox_url(INBOX) == ("united-kingdom", "447700900121", 16121)
    assert parse_inbox_url(f"{SITE}/usa/phone/+13082087304/sms/6507/") == (
        "usa",
        "13082087304",
        6507,
    )
    assert parse_inbox_url(f"{SITE}/usa/phone/%2B13082087304/sms/6507?page=2") == (
        "usa",
        "13082087304",
        6507,
    )
    for bad in (
        f"{SITE}/country/usa",
        f"{SITE}/usa/phone/123/sms/1",
        f"{SITE}/USA/phone/13082087304/sms/1",
        f"{SITE}/usa/phone/13082087304/sms/x",
        f"{SITE}/usa/phone/١٣٠٨٢٠٨٧٣٠٤/sms/1",
        "http://[::1",
    ):
        assert parse_inbox_url(bad) is None


# --------------------------------------------------------------------------- never raise


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=2000),
        st.sampled_from(sorted(p.name for p in FIXTURES.glob("*.html"))).flatmap(
            lambda name: st.binary(max_size=40).map(lambda junk: page(name)[:1500] + junk)
        ),
    ),
    url=st.one_of(st.just(INBOX), st.text(max_size=40), st.just("http://[::1/x?page=2")),
    status=st.sampled_from([200, 404, 403, 500]),
)
def test_parsers_raise_nothing_but_layout_error(body: bytes, url: str, status: int) -> None:
    for parse in (
        lambda: parse_inbox(body, url, FETCHED, status=status),
        lambda: parse_country(body, url, status=status),
        lambda: parse_home(body, url, status=status),
    ):
        try:
            parse()
        except LayoutError as exc:
            assert not exc.internal, str(exc)
            assert "\n" not in str(exc)


def test_inbox_page_with_number_links_is_not_a_country_page() -> None:
    body = page("inbox_redesign.html").replace(
        b"</main>",
        b'<aside><a href="/finland/phone/358700900301/sms/16240">other</a></aside></main>',
    )
    with pytest.raises(LayoutError):
        parse_country(body, f"{SITE}/country/finland")


def test_generic_country_links_without_cards() -> None:
    body = (
        b"<html><body><h1>Numbers</h1><ul>"
        b'<li><a href="/poland/phone/48700900401/sms/17001">+48700900401</a></li>'
        b'<li><a href="/poland/phone/48700900401/sms/17001">again</a></li>'
        b'<li><a href="/poland/phone/48700900402/sms/17000">+48700900402</a></li>'
        b"</ul></body></html>"
    )
    result = parse_country(body, f"{SITE}/country/poland")
    assert (result.kind, result.generation) == (PageKind.OK, Generation.GENERIC)
    assert [n.number for n in result.numbers] == ["48700900401", "48700900402"]
    assert result.numbers[0].added_text is None
