"""Sequence alignment of inbox rows: the pure core of "nothing lost, nothing twice".

An inbox is an append-only list shown newest first, 10 rows a page, with relative times
only. Two sightings of one message agree on sender and body and have overlapping time
intervals (both contain the true time). Two *different* messages can agree on all of that
(repeated "Your code is 0000" within a minute), so a single matching row proves nothing;
these functions compare whole runs of rows and say when a question cannot be answered
from the rows alone, so the walker can fetch more evidence instead of guessing.

No IO here: the walker in `crawler.inbox` feeds pages in and acts on the answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

SLACK = timedelta(seconds=2)  # Date header resolution plus rounding on both sightings


@dataclass(frozen=True, slots=True)
class Row:
    """A message as seen (on a page) or as stored, reduced to what identity depends on."""

    sender: str
    body: str
    earliest: datetime | None
    latest: datetime | None


def same_message(a: Row, b: Row) -> bool:
    """Could `a` and `b` be two sightings of one message?"""
    if a.sender != b.sender or a.body != b.body:
        return False
    if a.earliest is not None and b.latest is not None and a.earliest > b.latest + SLACK:
        return False
    return not (b.earliest is not None and a.latest is not None and b.earliest > a.latest + SLACK)


def same_content(a: Row, b: Row) -> bool:
    return a.sender == b.sender and a.body == b.body


def _runs_match(a: Sequence[Row], b: Sequence[Row], *, use_time: bool = True) -> bool:
    eq = same_message if use_time else same_content
    return len(a) == len(b) and all(eq(x, y) for x, y in zip(a, b, strict=True))


def max_overlap(earlier_page: Sequence[Row], later_page: Sequence[Row]) -> int:
    """Largest d such that the last d rows of `earlier_page` could be the first d of `later_page`.

    When page p+1 is fetched after page p and k messages arrived in between, page p+1
    starts with the last k rows of page p. d == 0 therefore proves no arrival happened
    in between; d > 0 is either such a shift or identical neighbouring messages.
    """
    for d in range(min(len(earlier_page), len(later_page)), 0, -1):
        if _runs_match(earlier_page[len(earlier_page) - d :], later_page[:d]):
            return d
    return 0


def window_shift(old: Sequence[Row], new: Sequence[Row]) -> int | None:
    """How many rows arrived on top between two fetches of the SAME page.

    The page moved down by s rows: new[s:] are old[:len(new)-s]. Returns the smallest
    consistent s (fewest arrivals), or None when no overlap of at least one row is left
    (too many arrivals to tell).
    """
    for s in range(0, len(new)):
        overlap = min(len(new) - s, len(old))
        if overlap <= 0:
            break
        if _runs_match(new[s : s + overlap], old[:overlap]):
            return s
    if not new and not old:
        return 0
    return None


@dataclass(frozen=True, slots=True)
class Boundary:
    """Where the stored rows begin inside the rows walked so far."""

    new: int  # rows walked[0:new] are not stored yet
    overlap: int  # rows walked[new:new+overlap] are stored rows stored[0:overlap]


def locate_stored(
    walked: Sequence[Row],
    stored: Sequence[Row],
    stored_total: int,
    *,
    at_end: bool,
    use_time: bool = True,
) -> Boundary | None:
    """Find the newest stored row inside the walked rows (both newest first).

    `stored` holds the newest stored rows (at least len(walked) of them when the archive
    has that many); `stored_total` is how many the archive holds for this inbox. When the
    walk reached the inbox's end, every stored row still on the site must be in `walked`,
    so an alignment that accounts for all `stored_total` rows is preferred.
    """
    candidates: list[Boundary] = []
    for new in range(0, len(walked)):
        overlap = len(walked) - new
        if overlap > stored_total:
            continue  # more old rows on the site than we hold: not a complete-history fit
        if overlap > len(stored):
            continue  # caller must load more stored rows before asking
        if not _runs_match(walked[new:], stored[:overlap], use_time=use_time):
            continue
        candidates.append(Boundary(new=new, overlap=overlap))
        if not at_end:
            break  # the largest overlap wins while the walk goes on
    if not candidates:
        return None
    if at_end:
        for c in candidates:
            if c.overlap == stored_total:
                return c
    return candidates[0]


def confirmed(boundary: Boundary, stored_total: int, *, at_end: bool, min_overlap: int = 3) -> bool:
    """Is the match long enough to stop walking?

    A match of one or two rows at the bottom of a full page can be a new message that
    repeats the newest stored one; one more page settles it.
    """
    return at_end or boundary.overlap >= min(min_overlap, stored_total)


def narrowed(stored: Row, seen: Row) -> tuple[datetime | None, datetime | None] | None:
    """The intersection of two sightings' intervals, or None if it is not narrower."""
    lo = stored.earliest
    hi = stored.latest
    if seen.earliest is not None and (lo is None or seen.earliest > lo):
        lo = seen.earliest
    if seen.latest is not None and (hi is None or seen.latest < hi):
        hi = seen.latest
    if lo is not None and hi is not None and lo > hi:
        return None  # inconsistent sightings (a clock jumped): keep what we had
    if lo == stored.earliest and hi == stored.latest:
        return None
    return lo, hi
