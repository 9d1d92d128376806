"""Relative time text -> Interval (crawler.sites.reltime), exact bounds and never-raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.sites.base import Interval
from crawler.sites.reltime import parse_relative

NOW = datetime(2026, 5, 13, 12, 0, 0, tzinfo=UTC)
SEC = timedelta(seconds=1)
UNKNOWN = Interval(None, None)


def ago(n: int, unit: timedelta, *, resolution: timedelta = SEC) -> Interval:
    return Interval(NOW - (n + 1) * unit, NOW + resolution - n * unit)


UNITS = {
    timedelta(seconds=1): ["second", "seconds", "sec", "secs", "s"],
    timedelta(minutes=1): ["minute", "minutes", "min", "mins", "m"],
    timedelta(hours=1): ["hour", "hours", "hr", "hrs", "h"],
    timedelta(days=1): ["day", "days", "d"],
    timedelta(weeks=1): ["week", "weeks", "wk", "wks", "w"],
}


@pytest.mark.parametrize(
    ("unit", "name"), [(unit, name) for unit, names in UNITS.items() for name in names]
)
def test_fixed_units(unit: timedelta, name: str) -> None:
    assert parse_relative(f"3 {name} ago", NOW) == ago(3, unit)
    assert parse_relative(f"3{name} ago", NOW) == ago(3, unit)
    assert parse_relative(f"3 {name}. ago", NOW) == ago(3, unit)


@pytest.mark.parametrize("name", ["month", "months", "mo", "mos"])
def test_months_are_bounded_by_28_and_31_days(name: str) -> None:
    assert parse_relative(f"2 {name} ago", NOW) == Interval(
        NOW - timedelta(days=3 * 31), NOW + SEC - timedelta(days=2 * 28)
    )


@pytest.mark.parametrize("name", ["year", "years", "yr", "yrs", "y"])
def test_years_are_bounded_by_365_and_366_days(name: str) -> None:
    assert parse_relative(f"1 {name} ago", NOW) == Interval(
        NOW - timedelta(days=2 * 366), NOW + SEC - timedelta(days=365)
    )


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("a minute ago", timedelta(minutes=1)),
        ("an hour ago", timedelta(hours=1)),
        ("one day ago", timedelta(days=1)),
        ("a second ago", timedelta(seconds=1)),
        ("a week ago", timedelta(weeks=1)),
    ],
)
def test_word_one(text: str, unit: timedelta) -> None:
    assert parse_relative(text, NOW) == ago(1, unit)


def test_a_month_and_a_year() -> None:
    assert parse_relative("a month ago", NOW) == Interval(
        NOW - timedelta(days=62), NOW + SEC - timedelta(days=28)
    )
    assert parse_relative("a year ago", NOW) == Interval(
        NOW - timedelta(days=732), NOW + SEC - timedelta(days=365)
    )


@pytest.mark.parametrize(
    "text", ["just now", "now", "moments ago", "a moment ago", "a few seconds ago", " Just Now "]
)
def test_just_now(text: str) -> None:
    assert parse_relative(text, NOW) == Interval(NOW - timedelta(seconds=60), NOW + SEC)


def test_yesterday() -> None:
    assert parse_relative("yesterday", NOW) == Interval(NOW - timedelta(hours=48), NOW + SEC)
    assert parse_relative("Yesterday", NOW, resolution=5 * SEC) == Interval(
        NOW - timedelta(hours=48), NOW + 5 * SEC
    )


@pytest.mark.parametrize(
    "text",
    [
        "Added 4 minutes ago",
        "Added: 4 minutes ago",
        "added:4 minutes ago",
        "NEW Added 4 minutes ago",
        "New Added 4 minutes ago",
        "Added 4 minutes ago NEW",
        "  4 MINUTES AGO  ",
        "4\u00a0minutes\nago",
        "4mins ago",
        "4 min. ago",
    ],
)
def test_noise_is_tolerated(text: str) -> None:
    assert parse_relative(text, NOW) == ago(4, timedelta(minutes=1))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "in 5 minutes",
        "5 minutes from now",
        "5 fortnights ago",
        "minutes ago",
        "2026-05-13 11:00",
        "a few ago",
        "-5 minutes ago",
        "٥ minutes ago",  # non-ASCII digits are not the site's
        "NEW",
        "today",
    ],
)
def test_unknown_text(text: str) -> None:
    assert parse_relative(text, NOW) == UNKNOWN


def test_boundaries_match_the_floor_semantics() -> None:
    """Every t in the interval, and no t just outside it, renders as the text."""
    resolution = 3 * SEC
    interval = parse_relative("2 minutes ago", NOW, resolution=resolution)
    assert interval.earliest is not None and interval.latest is not None
    minute = timedelta(minutes=1)

    def renders_as_two(t: datetime) -> bool:
        # some render instant r in [NOW, NOW + resolution) gives floor((r - t) / 1 min) == 2
        step = timedelta(milliseconds=1)
        r = NOW
        while r < NOW + resolution:
            if (r - t) // minute == 2:
                return True
            r += step
        return False

    assert interval == Interval(NOW - 3 * minute, NOW + resolution - 2 * minute)
    assert not renders_as_two(interval.earliest)  # floor is 3 at r = NOW: the bound is closed
    assert renders_as_two(interval.earliest + timedelta(milliseconds=1))
    assert renders_as_two(interval.latest - timedelta(milliseconds=1))
    assert not renders_as_two(interval.latest + timedelta(milliseconds=1))


def test_zero_units() -> None:
    assert parse_relative("0 seconds ago", NOW) == Interval(NOW - SEC, NOW + SEC)


def test_output_is_utc_for_any_offset() -> None:
    local = NOW.astimezone(timezone(timedelta(hours=5, minutes=30)))
    result = parse_relative("1 hour ago", local)
    assert result == ago(1, timedelta(hours=1))
    assert result.earliest is not None and result.earliest.tzinfo is UTC


def test_overflow_is_unknown_not_an_error() -> None:
    assert parse_relative("5 years ago", datetime.min.replace(tzinfo=UTC)) == UNKNOWN
    assert parse_relative("1" + "0" * 30 + " days ago", NOW) == UNKNOWN
    assert parse_relative("9" * 5000 + " days ago", NOW) == UNKNOWN


@given(
    text=st.text(),
    fetched_at=st.datetimes(
        timezones=st.builds(
            timezone, st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23))
        )
    ),
    resolution=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)),
)
def test_never_raises(text: str, fetched_at: datetime, resolution: timedelta) -> None:
    result = parse_relative(text, fetched_at, resolution=resolution)
    assert isinstance(result, Interval)


@given(
    n=st.integers(min_value=0, max_value=1000),
    unit=st.sampled_from(["seconds", "minutes", "hours", "days", "weeks", "months", "years"]),
    prefix=st.sampled_from(["", "Added ", "Added: ", "NEW ", "New Added "]),
)
def test_known_forms_give_ordered_bounds(n: int, unit: str, prefix: str) -> None:
    result = parse_relative(f"{prefix}{n} {unit} ago", NOW)
    assert result.earliest is not None and result.latest is not None
    assert result.earliest < result.latest <= NOW + SEC
