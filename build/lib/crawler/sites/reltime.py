"""Relative time text ("3 minutes ago") to the interval the true time lies in.

Semantics (the simulator renders with exactly these):

- `fetched_at` is the response's Date header: whole seconds, UTC. The page was rendered
  at some instant r in [fetched_at, fetched_at + resolution).
- "N <unit> ago" means floor((r - t) / unit) == N, so the event time t lies in
  [fetched_at - (N+1)*unit, fetched_at + resolution - N*unit] (both ends inclusive).
- Fixed units: second(s)/sec(s)/s, minute(s)/min(s)/m, hour(s)/hr(s)/h, day(s)/d,
  week(s)/wk(s)/w.
- Calendar units are bounded conservatively: N month(s)/mo(s) = between N*28 and
  (N+1)*31 days; N year(s)/yr(s)/y = between N*365 and (N+1)*366 days.
- "a" / "an" / "one" count as 1 ("a minute ago", "an hour ago").
- "just now" / "now" / "moments ago" / "a moment ago" / "a few seconds ago"
  -> [fetched_at - 60s, fetched_at + resolution].
- "yesterday" -> [fetched_at - 48h, fetched_at + resolution].
- Tolerated noise: case, surrounding whitespace, an "Added" / "Added:" prefix, a "NEW"
  badge anywhere, no space before the unit ("5mins ago"), a dot after it ("5 min. ago").
- Anything else, including future forms ("in 5 minutes"), gives Interval(None, None).
  The function never raises: unknown text is kept raw by the caller.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from crawler.sites.base import Interval

_ZERO = timedelta(0)
_SECOND = timedelta(seconds=1)
_MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_WEEK = timedelta(weeks=1)

_FIXED: dict[str, timedelta] = {}
for _names, _unit in (
    (("s", "sec", "secs", "second", "seconds"), _SECOND),
    (("m", "min", "mins", "minute", "minutes"), _MINUTE),
    (("h", "hr", "hrs", "hour", "hours"), _HOUR),
    (("d", "day", "days"), _DAY),
    (("w", "wk", "wks", "week", "weeks"), _WEEK),
):
    _FIXED.update(dict.fromkeys(_names, _unit))

# (days per unit at the least, days per unit at the most)
_CALENDAR: dict[str, tuple[int, int]] = {
    **dict.fromkeys(("mo", "mos", "month", "months"), (28, 31)),
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), (365, 366)),
}

_JUST_NOW = frozenset({"just now", "now", "moments ago", "a moment ago", "a few seconds ago"})
_WORD_ONE = frozenset({"a", "an", "one"})

_AGO = re.compile(
    r"(?:(?P<n>[0-9]+)\s*|(?P<word>an?|one)\s+)(?P<unit>[a-z]+)(?:\.\s*|\s+)ago",
    re.ASCII,
)
_BADGE = re.compile(r"\bnew\b!?", re.ASCII)
_ADDED = re.compile(r"^added\s*:?\s*", re.ASCII)
_EDGE_JUNK = " \t|:·•()[]."


def parse_relative(text: str, fetched_at: datetime, *, resolution: timedelta = _SECOND) -> Interval:
    """The interval that the event described by `text` happened in (see module doc)."""
    try:
        return _parse(text, fetched_at, resolution)
    except (OverflowError, ValueError):  # dates beyond datetime's range
        return Interval(None, None)


@lru_cache(maxsize=4096)
def _offsets(text: str) -> tuple[timedelta, timedelta] | None:
    """(earliest, latest) of `text` relative to (fetched_at, fetched_at + resolution).

    Pure in `text` and cached: a crawl sees the same few hundred phrases millions of times.
    """
    phrase = _normalise(text)
    if not phrase:
        return None
    if phrase in _JUST_NOW:
        return -_MINUTE, _ZERO
    if phrase == "yesterday":
        return -2 * _DAY, _ZERO
    match = _AGO.fullmatch(phrase)
    if match is None:
        return None
    count = 1 if match["word"] in _WORD_ONE else int(match["n"])
    unit = match["unit"]
    if unit in _FIXED:
        step = _FIXED[unit]
        return -(count + 1) * step, -count * step
    if unit in _CALENDAR:
        least, most = _CALENDAR[unit]
        return -(count + 1) * most * _DAY, -count * least * _DAY
    return None


def _parse(text: str, fetched_at: datetime, resolution: timedelta) -> Interval:
    offsets = _offsets(text)
    if offsets is None:
        return Interval(None, None)
    now = fetched_at.replace(tzinfo=UTC) if fetched_at.tzinfo is None else fetched_at
    now = now.astimezone(UTC)
    return Interval(now + offsets[0], now + resolution + offsets[1])


def _normalise(text: str) -> str:
    phrase = " ".join(text.lower().split())
    phrase = _BADGE.sub(" ", phrase)
    phrase = " ".join(phrase.split()).strip(_EDGE_JUNK)
    phrase = _ADDED.sub("", phrase)
    return phrase.strip(_EDGE_JUNK)
