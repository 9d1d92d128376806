"""Configuration of the simulator: the world's shape (`SimOptions`) and the fault switches.

Both are frozen dataclasses validated on construction, so a bad value fails once, early, with
a message that the CLI can show as a one-line `BadParameter`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Generation = Literal["legacy", "redesign", "mixed"]
GENERATIONS: tuple[str, ...] = ("legacy", "redesign", "mixed")
DEFAULT_START = "2026-11-01T12:00:00+00:00"


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability between 0 and 1, got {value!r}")


def _check_nonneg(name: str, value: float) -> None:
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


@dataclass(frozen=True)
class Faults:
    """Fault switches. Every `rate_*` is a per-request probability in [0, 1].

    They apply to site pages only, never to the `/__*__` control endpoints.
    """

    rate_429: float = 0.0
    retry_after: int = 1  # seconds in Retry-After on a 429; 0 = omit the header
    rate_5xx: float = 0.0  # 500, 502 or 503 at random
    rate_slow: float = 0.0
    slow_seconds: float = 2.0
    rate_drop: float = 0.0  # close the connection without any response
    rate_stall: float = 0.0  # headers + part of the body, then hang until the client gives up
    stall_seconds: float = 300.0  # upper bound of a hang, so a server never leaks a handler
    rate_truncate: float = 0.0  # Content-Length larger than the body sent, then close
    gated: tuple[str, ...] = ()  # country slugs behind the login wall (country pages + inboxes)
    gate_all: bool = False
    rate_challenge: float = 0.0  # Cloudflare interstitial, 403
    challenge_paths: tuple[str, ...] = ()  # path prefixes the challenge may hit; () = all
    rate_junk: float = 0.0  # ad rows and stray header rows inside message tables
    rate_404_content: float = 0.0  # inbox answered 404 with the full valid page
    rate_sse_blank: float = 0.0  # message cells blanked as Cloudflare SSE does

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.name.startswith("rate_"):
                _check_rate(f.name, getattr(self, f.name))
        for name in ("retry_after", "slow_seconds", "stall_seconds"):
            _check_nonneg(name, getattr(self, name))
        # JSON gives lists; keep the dataclass hashable and immutable.
        object.__setattr__(self, "gated", tuple(self.gated))
        object.__setattr__(self, "challenge_paths", tuple(self.challenge_paths))
        for p in self.challenge_paths:
            if not p.startswith("/"):
                raise ValueError(f"challenge_paths entries must start with '/', got {p!r}")

    def replace(self, **changes: Any) -> Faults:
        """A copy with `changes`; unknown names raise ValueError (not TypeError) for the API."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault switch(es): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["gated"] = list(self.gated)
        d["challenge_paths"] = list(self.challenge_paths)
        return d

    def is_gated(self, slug: str) -> bool:
        return self.gate_all or slug in self.gated


@dataclass(frozen=True)
class SimOptions:
    """Every knob of the simulator. Defaults suit tests: small world, no arrivals, no faults."""

    seed: int = 1
    countries: int = 4
    generation: Generation = "mixed"  # mixed = legacy/redesign alternating per country
    numbers_per_country: int = 25  # > 20 so country pagination shows
    messages_per_number: int | None = None  # fixed count; None = varied 0..max_messages
    max_messages: int = 35
    repeat_ratio: float = 0.2  # share of messages that repeat an earlier (sender, body)
    arrivals_per_minute: float = 0.0  # site-wide, random numbers, Poisson
    numbers_per_hour: float = 0.0  # new numbers appearing over time
    start: str = DEFAULT_START  # initial sim time (ISO 8601 with offset)
    real_clock: bool = False  # start at the machine's current UTC time instead of `start`
    frozen: bool = False  # time moves only through advance()
    country_page_size: int = 20
    inbox_page_size: int = 10
    quirks: bool = True  # <br> in bodies, <!--sse--> markers, relative number hrefs
    public_url: str | None = None  # base for absolute hrefs; None = the request's own host
    log_limit: int = 10_000  # request log entries kept (counters are unbounded)
    faults: Faults = field(default_factory=Faults)
    # The fault switches again, flat, for convenience: SimOptions(rate_slow=0.5, ...). Any
    # that is not None overrides the same field of `faults` (which then holds the result).
    rate_429: float | None = None
    retry_after: int | None = None
    rate_5xx: float | None = None
    rate_slow: float | None = None
    slow_seconds: float | None = None
    rate_drop: float | None = None
    rate_stall: float | None = None
    stall_seconds: float | None = None
    rate_truncate: float | None = None
    gated: tuple[str, ...] | None = None
    gate_all: bool | None = None
    rate_challenge: float | None = None
    challenge_paths: tuple[str, ...] | None = None
    rate_junk: float | None = None
    rate_404_content: float | None = None
    rate_sse_blank: float | None = None

    def __post_init__(self) -> None:
        flat = {f.name: getattr(self, f.name) for f in dataclasses.fields(Faults)
                if getattr(self, f.name) is not None}
        if flat:
            object.__setattr__(self, "faults", self.faults.replace(**flat))
        if self.generation not in GENERATIONS:
            raise ValueError(f"generation must be one of {', '.join(GENERATIONS)}")
        for name in ("countries", "numbers_per_country", "country_page_size", "inbox_page_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.messages_per_number is not None:
            _check_nonneg("messages_per_number", self.messages_per_number)
        for name in ("max_messages", "arrivals_per_minute", "numbers_per_hour", "log_limit"):
            _check_nonneg(name, getattr(self, name))
        _check_rate("repeat_ratio", self.repeat_ratio)
        self.start_epoch()  # raises ValueError on a bad date
        if self.public_url is not None and not self.public_url.startswith(("http://", "https://")):
            raise ValueError("public_url must start with http:// or https://")

    def start_epoch(self) -> float:
        """The configured start as POSIX seconds (UTC); naive dates count as UTC."""
        try:
            dt = datetime.fromisoformat(self.start.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"start is not an ISO 8601 date: {self.start!r}") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
