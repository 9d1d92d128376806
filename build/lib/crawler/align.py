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
    for s in range(len(new)):
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
    complete: bool = True,
    min_overlap: int = 3,
) -> Boundary | None:
    """Where the newest stored row sits inside the walked rows, once that is certain.

    `walked` is the top of the inbox (newest first); `stored` the newest stored rows (at
    least min(len(walked), stored_total) of them); `complete` says the archive holds the
    inbox's whole history, so the stored rows are the LAST rows of the site's list.
    Returns None while the rows seen so far allow more than one answer: the caller walks
    one more page, and at the inbox's end the answer is always settled.

    An alignment claims walked[new:] == stored[:overlap]. Repeated messages ("Your code is
    0000" several times a minute) let several alignments match; stopping on a wrong one
    would drop real rows, so away from the end we accept only a unique match of at least
    `min_overlap` rows that does not claim to cover the whole stored history (with a
    complete history that would put the inbox's end right here, and the site says it is not).
    """
    candidates: list[Boundary] = []
    for new in range(len(walked)):
        overlap = len(walked) - new
        if overlap > len(stored) or (complete and overlap > stored_total):
            continue
        if _runs_match(walked[new:], stored[:overlap]):
            candidates.append(Boundary(new=new, overlap=overlap))
    if at_end:
        if not candidates:
            return None
        if complete:
            for c in candidates:
                if c.overlap == stored_total:
                    return c
        return candidates[0]  # the site dropped its oldest rows: the largest overlap wins
    if len(candidates) != 1:
        return None
    only = candidates[0]
    if complete and only.overlap >= stored_total:
        return None
    if only.overlap < min(min_overlap, stored_total):
        return None
    return only


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


def tighten(rows: Sequence[Row]) -> list[Row]:
    """Use the inbox order to narrow every row's interval (rows newest first).

    A row's true time is no earlier than any older row's and no later than any newer
    row's, so lower bounds carry up the inbox and upper bounds carry down. A "just now"
    (a minute wide) right above "12 seconds ago" is thereby pinned to the last 13 seconds.
    A bound that would cross its row's other bound (a clock jumped) is not carried.
    """
    out = list(rows)
    floor: datetime | None = None
    for i in range(len(out) - 1, -1, -1):  # oldest to newest
        r = out[i]
        lo = r.earliest
        if floor is not None and (lo is None or floor > lo) and (r.latest is None or floor <= r.latest):
            lo = floor
        out[i] = Row(r.sender, r.body, lo, r.latest)
        floor = lo if lo is not None else floor
    ceiling: datetime | None = None
    for i, r in enumerate(out):  # newest to oldest
        hi = r.latest
        if ceiling is not None and (hi is None or ceiling < hi) and (r.earliest is None or ceiling >= r.earliest):
            hi = ceiling
        out[i] = Row(r.sender, r.body, r.earliest, hi)
        ceiling = hi if hi is not None else ceiling
    return out
