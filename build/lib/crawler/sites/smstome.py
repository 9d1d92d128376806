"""smstome.com: pure parsers from fetched bytes to the data classes of `crawler.sites.base`.

Every page is classified before anything is extracted from it (SITE.md §3, §6):

    GATED       the login wall                      -> back off, never "0 messages"
    CHALLENGED  a Cloudflare interstitial or block  -> back off
    OK / EMPTY  a page positively recognised as the requested kind
    GONE        a 404 that carries none of the page's markup (SITE.md §6.9)
    LayoutError anything else: a page we do not understand is never read as empty

Both markup generations are read (legacy Milligram `.numview` / `table.messagesTable`,
and the redesign `article.cp-phone-card` / `table.mp-table`), then generic fallbacks;
the one that matched is reported as `generation`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.sites.base import (
    CountryPage,
    Generation,
    HomePage,
    InboxPage,
    PageKind,
    ParsedCountry,
    ParsedMessage,
    ParsedNumber,
)
from crawler.sites.html import (
    absolute_url,
    access_kind,
    cell_text,
    is_sign_in,
    pagination,
    parse_document,
    squash,
    with_page,
)
from crawler.sites.reltime import parse_relative

__all__ = [
    "LayoutError",
    "country_url",
    "home_url",
    "normalise_number",
    "page_url",
    "parse_country",
    "parse_home",
    "parse_inbox",
    "parse_inbox_url",
]

_T = TypeVar("_T")


class LayoutError(Exception):
    """A page that is none of ok / empty / gated / challenged / gone.

    `internal` is True when the parser itself failed on the input (a bug to report),
    rather than the page lacking the markup we look for.
    """

    def __init__(self, url: str, missing: str, *, status: int = 200, internal: bool = False):
        self.url = url
        self.missing = missing
        self.status = status
        self.internal = internal
        shown = squash(url)[:300]
        super().__init__(squash(f"{shown} (HTTP {status}): unrecognised page layout: {missing}"))


# --------------------------------------------------------------------------- numbers, URLs

_NUMBER_CHARS = re.compile(r"[0-9+\-().\s]+", re.ASCII)
_INBOX_PATH = re.compile(
    r"^/(?P<slug>[a-z-]+)/phone/\+?(?P<digits>[0-9]{7,15})/sms/(?P<id>[0-9]+)/?$", re.ASCII
)
_COUNTRY_PATH = re.compile(r"^/country/(?P<slug>[a-z-]+)/?$", re.ASCII)


def normalise_number(text: str) -> str:
    """E.164 digits without "+": `(+44) 7700 900121` -> `447700900121`."""
    stripped = text.strip()
    digits = re.sub(r"[^0-9]", "", stripped)
    if not _NUMBER_CHARS.fullmatch(stripped) or not 7 <= len(digits) <= 15:
        raise ValueError(
            f"not a phone number: {squash(text)[:60]!r}; expected 7 to 15 digits, optionally "
            "with a leading +, spaces, dashes, dots or parentheses (e.g. +44 7700 900121)"
        )
    return digits


def home_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/"


def country_url(base_url: str, slug: str, page: int = 1) -> str:
    return with_page(f"{base_url.rstrip('/')}/country/{slug}", page)


def page_url(url: str, page: int) -> str:
    """`url` (an inbox or country page) showing page `page`; page 1 is the bare URL."""
    return with_page(url, page)


def parse_inbox_url(url: str) -> tuple[str, str, int] | None:
    """(country slug, E.164 digits, sms id) from an inbox URL, None if it is not one."""
    try:
        path = unquote(urlsplit(url).path)
    except ValueError:
        return None
    match = _INBOX_PATH.match(path)
    if match is None:
        return None
    return match["slug"], match["digits"], int(match["id"])


# --------------------------------------------------------------------------- errors


def _guarded(parse: Callable[[], _T], url: str, status: int) -> _T:
    # The crawler treats LayoutError as "record and move on"; any other exception would
    # abort a whole pass, so a parser bug on hostile input is reported as one, loudly.
    try:
        return parse()
    except LayoutError:
        raise
    except Exception as exc:
        raise LayoutError(
            url, f"internal parser error {type(exc).__name__}: {exc}", status=status, internal=True
        ) from exc


def _unreadable(url: str, status: int, missing: str) -> LayoutError:
    return LayoutError(url, missing, status=status)


# --------------------------------------------------------------------------- home page

_DIAL_CODE = re.compile(r"\(\s*\+\s*([0-9]+)\s*\)|\+\s*([0-9]+)", re.ASCII)


def parse_home(body: bytes, url: str, *, status: int = 200) -> HomePage:
    """The country list of the home page."""
    return _guarded(lambda: _parse_home(body, url, status), url, status)


def _parse_home(body: bytes, url: str, status: int) -> HomePage:
    tree = parse_document(body)
    generation = Generation.LEGACY
    # Legacy first: the redesign's selector also matches legacy nav links ("UK numbers").
    links = tree.css(".column.fields ul li a")
    if not links:
        generation = Generation.REDESIGN
        links = tree.css('a[href*="/country/"]')
    countries = _countries(links, url)
    has_container = tree.css_first(".column.fields") is not None
    access = access_kind(tree)
    if access is not None:
        return HomePage(kind=access, generation=Generation.NONE)
    if countries:
        return HomePage(kind=PageKind.OK, generation=generation, countries=countries)
    if has_container:  # the legacy country columns are there, just without entries
        return HomePage(kind=PageKind.EMPTY, generation=Generation.LEGACY)
    if is_sign_in(tree):  # the login wall as a redirect to the sign-in page
        return HomePage(kind=PageKind.GATED, generation=Generation.NONE)
    raise _unreadable(url, status, "no country links (.column.fields li a, a[href^='/country/'])")


def _countries(links: list[LexborNode], url: str) -> tuple[ParsedCountry, ...]:
    # Dedupe by slug, first appearance wins its place; but a nav link without a dial code
    # ("UK numbers") yields to a later proper entry ("United Kingdom+44") for the same slug.
    chosen: dict[str, ParsedCountry] = {}
    for link in links:
        country = _country(link, url)
        if country is None:
            continue
        known = chosen.get(country.slug)
        if known is None or (known.calling_code is None and country.calling_code is not None):
            chosen[country.slug] = country
    return tuple(chosen.values())


def _country(link: LexborNode, url: str) -> ParsedCountry | None:
    target = absolute_url(link.attributes.get("href"), url)
    if target is None:
        return None
    parts = urlsplit(target)
    match = _COUNTRY_PATH.match(parts.path)
    if match is None:
        return None
    title = squash(link.text(deep=True))
    code = _DIAL_CODE.search(title)
    name = squash(_DIAL_CODE.sub(" ", title)) or match["slug"]
    img = link.css_first("img")
    if img is None and link.parent is not None:
        img = link.parent.css_first("img")
    src = (img.attributes.get("src") or img.attributes.get("data-src")) if img is not None else None
    return ParsedCountry(
        name=name,
        slug=match["slug"],
        calling_code=(code[1] or code[2]) if code else None,
        url=f"{parts.scheme}://{parts.netloc}{parts.path}",
        flag_url=absolute_url(src, url),
        title=title,
    )


# --------------------------------------------------------------------------- country page

_NEW_BADGE = re.compile(r"\bnew\b!?", re.IGNORECASE)


def parse_country(body: bytes, url: str, *, status: int = 200) -> CountryPage:
    """One page of a country's number list."""
    return _guarded(lambda: _parse_country(body, url, status), url, status)


def _parse_country(body: bytes, url: str, status: int) -> CountryPage:
    tree = parse_document(body)
    cards = tree.css("article.cp-phone-card")
    generation = Generation.REDESIGN
    if not cards:
        cards, generation = tree.css(".numview"), Generation.LEGACY
    if not cards:
        # Generic (SITE.md §6.1): every inbox link on the page stands for one card.
        cards, generation = tree.css('a[href*="/phone/"]'), Generation.GENERIC
    numbers: dict[str, ParsedNumber] = {}
    skipped = 0
    for card in cards:
        number = _number(card, url)
        if number is None:
            skipped += 1
        elif number.inbox_url not in numbers:  # the redesign links each card twice
            numbers[number.inbox_url] = number
    inbox_table = _inbox_table(tree)[0] is not None
    if generation is Generation.GENERIC and (inbox_table or not numbers):
        # Stray /phone/ links (an inbox page's "other numbers") do not make a number list.
        numbers, skipped = {}, 0
    found = tuple(numbers.values())
    paging = pagination(tree, url, rows=len(found))
    # Evidence that an empty page is still a number list (a walk past the last page):
    # an <h1> that talks about numbers ("United Kingdom phone numbers"), or the
    # redesign's card grid container (class cp-phone-*) with no cards in it.
    heading = tree.css_first("h1")
    list_heading = heading is not None and "number" in heading.text(deep=True).lower()
    grid = tree.css_first('[class*="cp-phone"]') is not None
    access = access_kind(tree)
    if access is not None:
        return CountryPage(kind=access, generation=Generation.NONE)
    if found:
        return CountryPage(
            kind=PageKind.OK,
            generation=generation,
            numbers=found,
            pagination=paging,
            skipped=skipped,
        )
    if (list_heading or grid) and not inbox_table:
        empty_generation = Generation.REDESIGN if grid else _legacy_or_generic(tree)
        return CountryPage(
            kind=PageKind.EMPTY, generation=empty_generation, pagination=paging, skipped=skipped
        )
    if is_sign_in(tree):  # the login wall as a redirect to the sign-in page
        return CountryPage(kind=PageKind.GATED, generation=Generation.NONE)
    if status == 404:
        return CountryPage(kind=PageKind.GONE, generation=Generation.NONE)
    raise _unreadable(
        url, status, "no number cards (article.cp-phone-card, .numview, a[href*='/phone/'])"
    )


def _legacy_or_generic(tree: LexborHTMLParser) -> Generation:
    legacy = tree.css_first("section.container .column") is not None
    return Generation.LEGACY if legacy else Generation.GENERIC


def _number(card: LexborNode, url: str) -> ParsedNumber | None:
    link = card if card.tag == "a" else card.css_first('a[href*="/phone/"]')
    if link is None:
        return None
    inbox_url = absolute_url(link.attributes.get("href"), url)
    parsed = parse_inbox_url(inbox_url) if inbox_url else None
    if inbox_url is None or parsed is None:
        return None
    slug, digits, sms_id = parsed
    location = added = None
    is_new = False
    if card.tag != "a":
        smalls = [squash(node.text(deep=True)) for node in card.css("small")]
        meta = card.css_first(".cp-phone-card__meta")
        added_raw = squash(cell_text(meta)) if meta is not None else None
        if added_raw is None:
            added_raw = next(
                (s for s in smalls if "ago" in s.lower() or "added" in s.lower()), None
            )
            location = next((s for s in smalls if s != added_raw), None) or None
        badges = [n.text(deep=True) for n in card.css("strong, .badge")]
        is_new = any(_NEW_BADGE.fullmatch(squash(b)) for b in badges)
        if added_raw is not None:
            is_new = is_new or _NEW_BADGE.search(added_raw) is not None
            added = squash(_NEW_BADGE.sub(" ", added_raw)) or None
    return ParsedNumber(
        number=digits,
        country_slug=slug,
        sms_id=sms_id,
        inbox_url=inbox_url,
        location=location,
        added_text=added,
        is_new=is_new,
    )


# --------------------------------------------------------------------------- inbox page

_HEADER_FIRST = frozenset({"from", "sender"})
_HEADER_LAST = frozenset({"message", "messages", "text", "content", "sms"})
_PLACEHOLDER = re.compile(r"^(?:there are )?no (?:messages?|sms)\b", re.IGNORECASE)
_REGION = re.compile(r"Region:\s*(.+?)\s*(?:[·•|,;]|Added:|$)", re.IGNORECASE)
_ADDED_INFO = re.compile(r"Added:\s*(.+?)\s*(?:[·•|;]|Region:|$)", re.IGNORECASE)
_PHONE_IN_TEXT = re.compile(r"\+?[0-9][0-9 ().\-]{5,20}[0-9]", re.ASCII)


def parse_inbox(
    body: bytes,
    url: str,
    fetched_at: datetime,
    *,
    status: int = 200,
    resolution: timedelta = timedelta(seconds=1),
) -> InboxPage:
    """One page of a number's inbox; messages in page order (newest first)."""
    return _guarded(lambda: _parse_inbox(body, url, fetched_at, status, resolution), url, status)


def _is_header(cells: list[str]) -> bool:
    first, last = cells[0].lower().rstrip(":"), cells[2].lower().rstrip(":")
    return first in _HEADER_FIRST and last in _HEADER_LAST


def _inbox_table(tree: LexborHTMLParser) -> tuple[LexborNode | None, Generation]:
    for selector, generation in (
        ("table.mp-table", Generation.REDESIGN),
        ("table.messagesTable", Generation.LEGACY),
    ):
        table = tree.css_first(selector)
        if table is not None:
            return table, generation
    # Generic (SITE.md §6.1): the first table with the From/Received/Message header, or,
    # when the <h1> names a phone number, the first table with 3-cell rows.
    heading = tree.css_first("h1")
    phone_heading = heading is not None and _h1_number(heading) is not None
    for table in tree.css("table"):
        for row in table.css("tr"):
            cells = row.css("th, td")
            if len(cells) >= 3 and (
                _is_header([cell_text(c) for c in cells[:3]])
                or (phone_heading and len(row.css("td")) >= 3)
            ):
                return table, Generation.GENERIC
    return None, Generation.NONE


def _own_rows(table: LexborNode) -> list[LexborNode]:
    # Rows of nested tables are left out: they belong to a message cell, and removing an
    # outer row (below) frees the nested ones with it.
    rows = []
    for row in table.css("tr"):
        section = row.parent
        owner = section.parent if section is not None and section.tag != "table" else section
        if owner is not None and owner.mem_id == table.mem_id:
            rows.append(row)
    return rows


def _h1_number(heading: LexborNode) -> str | None:
    match = _PHONE_IN_TEXT.search(heading.text(deep=True))
    if match is None:
        return None
    try:
        return normalise_number(match[0])
    except ValueError:
        return None


def _parse_inbox(
    body: bytes, url: str, fetched_at: datetime, status: int, resolution: timedelta
) -> InboxPage:
    tree = parse_document(body)
    table, generation = _inbox_table(tree)
    messages: list[ParsedMessage] = []
    skipped = blanked = 0
    for row in _own_rows(table) if table is not None else ():
        tds = row.css("td")
        if (
            row.css_first("th") is not None
            or len(tds) < 3
            or any(td.attributes.get("colspan") not in (None, "", "1") for td in tds)
        ):
            skipped += 1  # header, ad, placeholder or short row
            continue
        sender, received, text = (cell_text(td) for td in tds[:3])
        if _is_header([sender, received, text]) or (
            not sender and not received and _PLACEHOLDER.match(text)
        ):
            skipped += 1
            continue
        row.decompose()  # message text must not be mistaken for the login wall below
        if not sender and not text:
            blanked += 1  # Cloudflare SSE emptied the row for a flagged client
            continue
        interval = parse_relative(received, fetched_at, resolution=resolution)
        messages.append(ParsedMessage(sender, text, received, interval))

    heading = tree.css_first("h1")
    number = _h1_number(heading) if heading is not None else None
    region = added = None
    for para in tree.css("p"):
        info = squash(para.text(deep=True))
        if region is None and (match := _REGION.search(info)):
            region = match[1] or None
        if added is None and (match := _ADDED_INFO.search(info)):
            added = squash(_NEW_BADGE.sub(" ", match[1])) or None
    paging = pagination(tree, url, rows=len(messages) + blanked)

    access = access_kind(tree)
    if access is not None:
        return InboxPage(kind=access, generation=Generation.NONE, number=number)
    if table is None:
        if is_sign_in(tree):  # the login wall as a redirect to the sign-in page
            return InboxPage(kind=PageKind.GATED, generation=Generation.NONE, number=number)
        if status == 404:
            return InboxPage(kind=PageKind.GONE, generation=Generation.NONE)
        raise _unreadable(
            url,
            status,
            "no message table (table.mp-table, table.messagesTable, From/Received/Message)",
        )
    notes: list[str] = []
    if status != 200:
        notes.append(f"HTTP {status} carried a usable inbox page")
    if blanked:
        notes.append(f"{blanked} row(s) with empty sender and message (Cloudflare SSE)")
    return InboxPage(
        kind=PageKind.OK if messages or blanked else PageKind.EMPTY,
        generation=generation,
        messages=tuple(messages),
        pagination=paging,
        number=number,
        region=region,
        added_text=added,
        skipped=skipped,
        blanked=blanked,
        degraded=blanked > 0,
        notes=tuple(notes),
    )
