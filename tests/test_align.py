"""The alignment core: with heavy exact repeats, stored rows are found exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.align import Row, locate_stored, max_overlap, narrowed, window_shift

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _seen(true: datetime, fetched: datetime) -> tuple[datetime, datetime]:
    """The interval a parser derives from minute-resolution relative text."""
    diff = (fetched - true).total_seconds()
    if diff < 60:
        return fetched - timedelta(seconds=60), fetched + timedelta(seconds=1)
    n = int(diff // 60)
    return fetched - timedelta(minutes=n + 1), fetched + timedelta(seconds=1) - timedelta(minutes=n)


inbox = st.lists(
    st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["code 0000", "hi"]), st.integers(0, 90)),
    min_size=0,
    max_size=40,
)


def _build(spec: list[tuple[str, str, int]], start: datetime) -> list[tuple[str, str, datetime]]:
    """Messages oldest first with non-decreasing true times (gaps of 0..90 s)."""
    out = []
    t = start
    for sender, body, gap in spec:
        t = t + timedelta(seconds=gap)
        out.append((sender, body, t))
    return out


def _view(msgs: list[tuple[str, str, datetime]], fetched: datetime) -> list[Row]:
    return [Row(s, b, *_seen(t, fetched)) for s, b, t in reversed(msgs)]


@settings(max_examples=300, deadline=None)
@given(old=inbox, new=inbox, later=st.integers(0, 3 * 86400))
def test_full_walk_finds_exactly_the_new_rows(
    old: list[tuple[str, str, int]], new: list[tuple[str, str, int]], later: int
) -> None:
    first = _build(old, T0)
    start = (first[-1][2] if first else T0) + timedelta(seconds=1)
    arrivals = _build(new, start)
    stored_at = start
    stored = _view(first, stored_at)
    fetched = (arrivals[-1][2] if arrivals else start) + timedelta(seconds=later)
    walked = _view(first + arrivals, fetched)
    b = locate_stored(walked, stored, len(stored), at_end=True)
    if not stored:
        assert b is None
        return
    assert b is not None
    assert b.new == len(arrivals)
    assert b.overlap == len(stored)


def test_prefix_walk_prefers_the_unambiguous_alignment() -> None:
    base = [Row("A", f"m{i}", None, None) for i in range(25)]
    repeat = Row("A", "m0", None, None)
    walked = [repeat, *base[:9]]  # one new row identical to the newest stored one
    b = locate_stored(walked, base, 25, at_end=False)
    assert b is not None and b.new == 1 and b.overlap == 9
    same = [Row("A", "0000", None, None)] * 30
    assert locate_stored(same[:10], same, 29, at_end=False) is None  # ambiguous: walk on


def test_page_boundary_and_window_helpers() -> None:
    rows = [Row("A", f"m{i}", None, None) for i in range(20)]
    page1, page2_shifted = rows[0:10], rows[7:17]
    assert max_overlap(page1, page2_shifted) == 3
    assert max_overlap(rows[0:10], rows[10:20]) == 0
    assert window_shift(rows[5:15], rows[3:13]) == 2
    assert window_shift(rows[5:15], rows[5:15]) == 0


def test_narrowing_only_narrows() -> None:
    a = Row("A", "x", T0, T0 + timedelta(minutes=1))
    b = Row("A", "x", T0 + timedelta(seconds=20), T0 + timedelta(minutes=3))
    assert narrowed(a, b) == (T0 + timedelta(seconds=20), T0 + timedelta(minutes=1))
    assert narrowed(a, a) is None


@settings(max_examples=400, deadline=None)
@given(old=inbox, new=inbox, later=st.integers(0, 3 * 86400))
def test_page_by_page_stop_rule_never_stops_at_the_wrong_place(
    old: list[tuple[str, str, int]], new: list[tuple[str, str, int]], later: int
) -> None:
    first = _build(old, T0)
    start = (first[-1][2] if first else T0) + timedelta(seconds=1)
    arrivals = _build(new, start)
    stored = _view(first, start)
    fetched = (arrivals[-1][2] if arrivals else start) + timedelta(seconds=later)
    site = _view(first + arrivals, fetched)
    if not stored:
        return
    for end in range(10, len(site) + 10, 10):
        walked = site[:end]
        at_end = end >= len(site)
        b = locate_stored(walked, stored, len(stored), at_end=at_end)
        if b is not None:
            assert b.new == len(arrivals), (end, b)
            return
    raise AssertionError("the walk reached the end without locating the stored rows")


def test_tighten_uses_the_inbox_order() -> None:
    from crawler.align import tighten

    just_now = Row("A", "x", T0 - timedelta(seconds=60), T0 + timedelta(seconds=1))
    twelve = Row("B", "y", T0 - timedelta(seconds=13), T0 - timedelta(seconds=12))
    older = Row("C", "z", None, None)
    out = tighten([just_now, twelve, older])
    assert out[0].earliest == T0 - timedelta(seconds=13)  # carried up from the older row
    assert out[2].latest == T0 - timedelta(seconds=12)  # carried down from the newer row
    assert out[1] == twelve


@settings(max_examples=200, deadline=None)
@given(spec=inbox, later=st.integers(0, 86400))
def test_tightened_intervals_still_hold_the_truth(spec: list[tuple[str, str, int]], later: int) -> None:
    from crawler.align import tighten

    msgs = _build(spec, T0)
    fetched = (msgs[-1][2] if msgs else T0) + timedelta(seconds=later)
    for row, (_, _, true) in zip(tighten(_view(msgs, fetched)), reversed(msgs), strict=True):
        assert row.earliest is not None and row.latest is not None
        assert row.earliest <= true <= row.latest
