"""Benchmark sizes. `large` is the 100,000-inbox-page crawl that the memory target speaks of."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

INBOX_PAGE_SIZE = 10  # the simulator's (and the site's) messages per inbox page


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    countries: int
    numbers_per_country: int
    messages_per_number: int
    archive_rows: int  # the archive that the get_messages query and the export read
    storage_rows: int  # rows offered to the write path (25% of them duplicates)
    parser_pages: int  # inbox pages fetched once, then parsed in a loop
    export_rows: int  # rows exported (at most archive_rows)
    baseline_inboxes: int  # the baseline crawls this many inboxes (it is slow), 0 = all
    concurrency: int = 8
    seed: int = 1

    @property
    def inboxes(self) -> int:
        return self.countries * self.numbers_per_country

    @property
    def inbox_pages(self) -> int:
        """Inbox pages of one full crawl, not counting consistency re-reads."""
        return self.inboxes * max(1, -(-self.messages_per_number // INBOX_PAGE_SIZE))

    @property
    def messages(self) -> int:
        return self.inboxes * self.messages_per_number

    def replace(self, **changes: Any) -> Scenario:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def check(self) -> None:
        """One clear line (ValueError) for a size that cannot run."""
        for name in ("countries", "numbers_per_country", "concurrency", "parser_pages"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        for name in ("messages_per_number", "archive_rows", "storage_rows", "export_rows", "baseline_inboxes"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 0, got {getattr(self, name)}")
        if self.messages_per_number < 1:
            raise ValueError("--messages must be at least 1: a crawl of empty inboxes measures nothing")
        if self.archive_rows < 1000:
            raise ValueError(f"--archive-rows must be at least 1000, got {self.archive_rows}")
        if self.storage_rows < 100:
            raise ValueError(f"--storage-rows must be at least 100, got {self.storage_rows}")


SIZES: dict[str, Scenario] = {
    # A few seconds: the smoke test and a quick look.
    "small": Scenario(
        "small", countries=2, numbers_per_country=10, messages_per_number=25, archive_rows=20_000,
        storage_rows=5_000, parser_pages=200, export_rows=20_000, baseline_inboxes=0,
    ),
    # About a minute: ~10,700 inbox pages, 100,000 messages, the 1,000,000-row archive.
    "medium": Scenario(
        "medium", countries=10, numbers_per_country=200, messages_per_number=50,
        archive_rows=1_000_000, storage_rows=200_000, parser_pages=2_000, export_rows=300_000,
        baseline_inboxes=300,
    ),
    # Several minutes: 100,000 inbox pages, 1,000,000 messages crawled.
    "large": Scenario(
        "large", countries=20, numbers_per_country=500, messages_per_number=100,
        archive_rows=1_000_000, storage_rows=500_000, parser_pages=5_000, export_rows=1_000_000,
        baseline_inboxes=500,
    ),
}
