"""The exceptions the core raises. Only `crawler.cli` turns them into "Error: ..." lines.

    CrawlerError                 every user-facing failure; str() is one complete sentence
    ├── ConfigError              a bad config file, key or value (names file, key, value, allowed)
    ├── DatabaseError            the database cannot be opened, migrated or written
    ├── NumberLookupError        a NUMBER that is not in the archive (LookupError too)
    ├── NumberFormatError        a NUMBER that is not a phone number at all (ValueError too)
    ├── CountryLookupError       a country slug that is not in the archive (LookupError too)
    ├── FetchError               a page could not be fetched after every retry
    │   └── ChallengeError       Cloudflare answered with a challenge / block page
    └── SiteUnreadableError      a whole pass read nothing: every page gated/challenged/refused

Parse problems are `crawler.sites.smstome.LayoutError`; the crawler records them per page.
"""

from __future__ import annotations


class CrawlerError(Exception):
    """Base class: the message is shown to the user as is."""

    exit_code = 1


class ConfigError(CrawlerError):
    pass


class DatabaseError(CrawlerError):
    pass


class NumberLookupError(CrawlerError, LookupError):
    def __init__(self, number: str) -> None:
        super().__init__(
            f"number {number} is not in the archive; `crawler numbers` lists the archived ones"
        )
        self.number = number


class NumberFormatError(CrawlerError, ValueError):
    def __init__(self, text: str) -> None:
        super().__init__(
            f"{text[:40]!r} is not a phone number; write it as +447700900121, 447700900121 "
            "or 44 7700 900121 (country code first)"
        )
        self.text = text


class CountryLookupError(CrawlerError, LookupError):
    def __init__(self, slug: str, known: list[str]) -> None:
        shown = ", ".join(known[:20]) or "none yet (run `crawler crawl` first)"
        super().__init__(f"country {slug!r} is not in the archive; known countries: {shown}")
        self.slug = slug


class FetchError(CrawlerError):
    def __init__(self, url: str, reason: str, *, status: int | None = None) -> None:
        super().__init__(f"could not fetch {url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status


class ChallengeError(FetchError):
    pass


class SiteUnreadableError(CrawlerError):
    exit_code = 3
