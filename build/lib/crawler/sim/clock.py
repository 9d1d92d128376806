"""The simulator's clock: independent of the machine's wall clock and of its time zone.

now = epoch + (monotonic time since start, unless frozen) + offset moved by advance().
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from email.utils import formatdate


class SimClock:
    def __init__(self, epoch: float, *, frozen: bool = False) -> None:
        self.epoch = epoch
        self.frozen = frozen
        self._mono_start = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        """Sim time in POSIX seconds, sub-second precision."""
        running = 0.0 if self.frozen else time.monotonic() - self._mono_start
        return self.epoch + running + self._offset

    def advance(self, seconds: float) -> float:
        # Going backwards would break "received times only grow" and the crawler's estimates.
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"advance() needs a finite number of seconds >= 0, got {seconds!r}")
        self._offset += seconds
        return self.now()


def iso(ts: float) -> str:
    """ISO 8601 UTC with milliseconds (received times are distinct at that precision)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def http_date(ts: float) -> str:
    """RFC 7231 IMF-fixdate, whole seconds rounded down."""
    return formatdate(math.floor(ts), usegmt=True)
