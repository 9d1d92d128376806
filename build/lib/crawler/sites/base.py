"""Pure data that site parsers return. No IO, no clock, no HTTP or database imports.

The prefix `Parsed` marks "read off a page, not yet stored" (the ORM rows are
`Country`, `Number`, `Message` in `crawler.storage.models`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class PageKind(enum.Enum):
    """What a fetched page turned out to be. Decided before anything is extracted."""

    OK = "ok"  # a real page with rows
    EMPTY = "empty"  # a real page of the right kind with no rows (e.g. past the end)
    GATED = "gated"  # the login wall ("Please log in to view messages ...")
    CHALLENGED = "challenged"  # a Cloudflare interstitial or block page
    GONE = "gone"  # HTTP 404 without the page's markup: the number (or country) is gone


class Generation(enum.Enum):
    """Which markup generation of the site a page was written in (SITE.md §2)."""

    LEGACY = "legacy"  # Milligram CSS, table.messagesTable, .numview cards
    REDESIGN = "redesign"  # article.cp-phone-card, table.mp-table
    GENERIC = "generic"  # neither, but the generation-neutral fallback selectors matched
    NONE = "none"  # gated / challenged pages carry no site markup


@dataclass(frozen=True, slots=True)
class Interval:
    """Bounds, in UTC, that a message's true arrival time lies in (inclusive).

    Either bound may be None when the received text could not be understood.
    """

    earliest: datetime | None
    latest: datetime | None

    @property
    def known(self) -> bool:
        return self.earliest is not None and self.latest is not None


@dataclass(frozen=True, slots=True)
class Pagination:
    """What a page says about its neighbours (SITE.md §2.2 "Last-page detection")."""

    current: int  # 1-based page number this page claims to be
    last: int | None  # largest page number the widget names, None if no widget
    next_url: str | None  # absolute URL of page current+1 if the widget links it

    @property
    def has_next(self) -> bool:
        return self.next_url is not None


@dataclass(frozen=True, slots=True)
class ParsedCountry:
    name: str  # "United Kingdom"
    slug: str  # "united-kingdom"
    calling_code: str | None  # "44" (digits only), None when the page does not show it
    url: str  # absolute country page URL
    flag_url: str | None  # absolute flag image URL
    title: str  # the link text as shown, e.g. "United Kingdom+44"


@dataclass(frozen=True, slots=True)
class ParsedNumber:
    number: str  # E.164 digits without "+", e.g. "447700900121"
    country_slug: str  # from the inbox URL path
    sms_id: int  # the /sms/<id> part of the inbox URL, never rewritten
    inbox_url: str  # absolute, exactly as the listing links it (normalised to https)
    location: str | None  # "London" (legacy card row 1), None in the redesign
    added_text: str | None  # "Added 4 minutes ago" with any NEW badge removed
    is_new: bool  # the NEW badge was present


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    sender: str  # the From cell as shown (masked senders stay masked)
    body: str  # markup removed, nested nodes / <br> joined by one space, Unicode kept
    received_text: str  # the site's relative text, e.g. "3 minutes ago"
    interval: Interval  # derived from received_text and the fetch time


@dataclass(frozen=True, slots=True)
class HomePage:
    kind: PageKind
    generation: Generation
    countries: tuple[ParsedCountry, ...] = ()


@dataclass(frozen=True, slots=True)
class CountryPage:
    kind: PageKind
    generation: Generation
    numbers: tuple[ParsedNumber, ...] = ()
    pagination: Pagination | None = None
    skipped: int = 0  # cards that carried no usable inbox link


@dataclass(frozen=True, slots=True)
class InboxPage:
    kind: PageKind
    generation: Generation
    messages: tuple[ParsedMessage, ...] = ()  # page order: newest first
    pagination: Pagination | None = None
    number: str | None = None  # digits from the h1, when shown
    region: str | None = None  # "Region: <x>" when shown
    added_text: str | None = None  # "Added: <x>" when shown, e.g. "4 minutes ago"
    skipped: int = 0  # header, ad, placeholder and short rows that were dropped
    blanked: int = 0  # rows left out because sender and body were both empty (see below)
    # Rows whose cells came back empty (Cloudflare Server-side Excludes for flagged
    # clients, SITE.md edge case 3). Such a page is not trustworthy: the crawler must
    # not store it as if those were real empty messages.
    degraded: bool = False
    notes: tuple[str, ...] = field(default=())
