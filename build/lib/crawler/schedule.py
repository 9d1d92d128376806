"""When to look at an inbox again: pure arithmetic, no IO, no clock reads.

The aim (issue "Daemon"): a poll should usually find about half a page of new messages or
less, so a busy inbox is read often and a quiet one rarely, always inside the configured
bounds. The arrival rate is estimated from the true arrival times of the newest stored
messages, so it follows what the inbox does now, not what it did last month.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

TARGET_NEW_PER_POLL = 5.0  # half of a 10-row page: one request per poll, rarely two
RATE_SAMPLE = 10  # newest messages used to estimate the arrival rate


def arrival_rate(newest: Sequence[datetime], now: datetime) -> float:
    """Messages per minute, from the latest possible arrival times of the newest messages.

    The upper bounds are used (not the midpoints) because for a fresh "just now" row the
    bound is close to the truth while the midpoint lags by half the text's resolution.

    n messages arrived between the oldest of them and now: rate = n / span. Measuring up
    to *now* (not to the newest message) makes an inbox that went quiet slow down by itself.
    """
    if not newest:
        return 0.0
    oldest = min(newest)
    # A floor on the span only guards the division; the poll interval's own minimum is
    # what really bounds how often we look.
    span = max((now - oldest).total_seconds() / 60.0, 0.05)
    return len(newest) / span


def poll_interval(rate_per_minute: float, min_minutes: float, max_minutes: float) -> timedelta:
    """Minutes until the next poll so that about TARGET_NEW_PER_POLL messages wait for us."""
    if rate_per_minute <= 0:
        minutes = max_minutes
    else:
        minutes = TARGET_NEW_PER_POLL / rate_per_minute
    return timedelta(minutes=min(max(minutes, min_minutes), max_minutes))


def backoff_interval(failures: int, min_minutes: float, max_minutes: float) -> timedelta:
    """Gated / challenged / failing inboxes: exponential backoff from the minimum."""
    exponent = min(max(failures, 1) - 1, 30)
    return timedelta(minutes=min(min_minutes * (2**exponent), max_minutes))
