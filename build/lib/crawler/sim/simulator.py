"""`Simulator`: the world, its clock, the fault switches and the request log in one object.

The aiohttp app (server.py) is a thin view over it; tests may also call it directly.
"""

from __future__ import annotations

import random
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crawler.sim.clock import SimClock, iso
from crawler.sim.options import Faults, SimOptions
from crawler.sim.world import Message, World, country_slugs


@dataclass(slots=True)
class LogEntry:
    path: str
    kind: str
    status: int | str  # an HTTP status, or "dropped" / "stalled" when none was completed
    started: float  # sim time
    finished: float
    client: str
    fault: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "status": self.status,
                "started": iso(self.started), "finished": iso(self.finished),
                "duration": round(self.finished - self.started, 6),
                "client": self.client, "fault": self.fault}


def message_dict(m: Message) -> dict[str, str]:
    return {"sender": m.sender, "body": m.body, "received_at": iso(m.at)}


class Simulator:
    """The simulated smstome.com. `base_url` is set once an HTTP server is listening."""

    def __init__(self, options: SimOptions | None = None) -> None:
        self.options = options = options or SimOptions()
        epoch = time.time() if options.real_clock else options.start_epoch()
        self.clock = SimClock(epoch, frozen=options.frozen)
        self.world = World(options, self.clock.now())
        self.faults = Faults()
        self.set_faults(options.faults)
        # A separate RNG so fault decisions never shift the world's or the arrivals' streams.
        self.fault_rng = random.Random(f"faults:{options.seed}")
        self.base_url: str | None = None
        self._log: deque[LogEntry] = deque(maxlen=max(1, options.log_limit))
        self._by_kind: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()
        self._by_client: Counter[str] = Counter()
        self._by_fault: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0

    # ----------------------------------------------------------------- time
    def now(self) -> float:
        """Sim time (POSIX seconds) with every arrival up to it applied."""
        t = self.clock.now()
        self.world.materialise(t)
        return t

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def advance(self, seconds: float) -> datetime:
        self.clock.advance(seconds)
        return self.now_datetime()

    # ----------------------------------------------------------------- data
    def truth(self) -> dict[str, Any]:
        """The exact content of the site as of now; messages newest first."""
        now = self.now()
        faults = self.faults
        countries = [{"slug": c.slug, "name": c.name, "calling_code": c.calling_code,
                      "generation": c.generation, "gated": faults.is_gated(c.slug)}
                     for c in self.world.countries]
        numbers = [{"number": n.digits, "country": c.slug, "sms_id": n.sms_id,
                    "inbox_url": self._url(n.path), "location": n.location,
                    "added_at": iso(n.added_at), "gated": faults.is_gated(c.slug),
                    "messages": [message_dict(m) for m in n.newest_first()]}
                   for c in self.world.countries for n in reversed(c.numbers)]
        return {"now": iso(now), "countries": countries, "numbers": numbers}

    def _url(self, path: str) -> str:
        base = self.options.public_url or self.base_url or ""
        return base.rstrip("/") + path

    def add_messages(self, number: str, count: int = 1, repeat_ratio: float = 0.0
                     ) -> list[dict[str, str]]:
        """Add messages to one inbox now; returns them oldest first. KeyError if unknown."""
        added = self.world.add_messages(number, count, repeat_ratio, self.clock.now())
        return [message_dict(m) for m in added]

    def set_faults(self, faults: Faults | None = None, **changes: Any) -> Faults:
        """Replace the fault switches (`faults`), or change some of them (`changes`)."""
        new = (faults or self.faults).replace(**changes) if changes else (faults or Faults())
        unknown = sorted(set(new.gated) - set(country_slugs(self.options.countries)))
        if unknown:
            raise ValueError(f"gated names unknown country slug(s): {', '.join(unknown)}")
        self.faults = new
        return new

    # ----------------------------------------------------------------- request log
    def record(self, entry: LogEntry) -> None:
        self._log.append(entry)
        self._by_kind[entry.kind] += 1
        self._by_status[str(entry.status)] += 1
        self._by_client[entry.client] += 1
        if entry.fault:
            self._by_fault[entry.fault] += 1

    def request_counts(self, log: bool = False) -> dict[str, Any]:
        kinds = {k: self._by_kind.get(k, 0) for k in ("home", "country", "inbox", "robots", "other")}
        out: dict[str, Any] = {
            "total": sum(self._by_kind.values()), "by_kind": kinds,
            "by_status": dict(self._by_status), "by_client": dict(self._by_client),
            "by_fault": dict(self._by_fault), "max_in_flight": self.max_in_flight,
        }
        if log:
            out["log"] = [e.as_dict() for e in self._log]
        return out

    def reset_requests(self) -> None:
        for c in (self._by_kind, self._by_status, self._by_client, self._by_fault):
            c.clear()
        self._log.clear()
        self.max_in_flight = self.in_flight
