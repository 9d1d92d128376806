"""The simulated site's data: countries, numbers and inboxes, generated from a seed.

All randomness comes from `random.Random` instances owned by the world (never the global
RNG), one per purpose, so that the initial world, the arrival stream and test additions do not
disturb each other: the same seed gives the same site whatever a test does in between.

Messages arrive lazily: pending events sit in a heap keyed by sim time and are applied by
`materialise(now)` in time order, so advancing the clock by a day applies a day of arrivals.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from crawler.sim import content
from crawler.sim.options import SimOptions

BR = 1  # render flag: one inner space shown as <br>
SSE = 2  # render flag: cells wrapped in <!--sse--> ... <!--/sse-->
FIRST_SMS_ID = 12000
DAY = 86400.0


class Message(NamedTuple):
    """One SMS. Tuples keep 200k messages cheap; `at` is sim time, rounded to milliseconds."""

    sender: str  # as displayed (already masked on redesign countries)
    body: str  # the truth text the parser must return
    at: float
    flags: int = 0


@dataclass(eq=False, slots=True)
class Country:
    slug: str
    name: str
    calling_code: str
    generation: str  # "legacy" | "redesign"
    flag: str
    cities: tuple[str, ...]
    prefix: str
    suffix_len: int
    numbers: list[Number] = field(default_factory=list)  # oldest added first

    @property
    def redesign(self) -> bool:
        return self.generation == "redesign"


@dataclass(eq=False, slots=True)
class Number:
    digits: str
    country: Country
    sms_id: int
    location: str
    added_at: float
    messages: list[Message] = field(default_factory=list)  # oldest first (appends are cheap)

    @property
    def path(self) -> str:
        return f"/{self.country.slug}/phone/{self.digits}/sms/{self.sms_id}"

    def newest_first(self) -> Iterator[Message]:
        return reversed(self.messages)


def _suffix(cycle: int) -> str:
    """Letters only: the parser's slug pattern is [a-z-]+, so "-b", "-c", ..., "-ab"."""
    letters = ""
    n = cycle
    while n > 0:
        n, r = divmod(n - 1, 26)
        letters = chr(ord("a") + r) + letters
    return letters


def country_slugs(count: int) -> list[str]:
    """The slugs a world of `count` countries will have (for validating options early)."""
    out = []
    for i in range(count):
        seed = content.COUNTRIES[i % len(content.COUNTRIES)]
        cycle = i // len(content.COUNTRIES)
        out.append(seed.slug + (f"-{_suffix(cycle + 1)}" if cycle else ""))
    return out


def mask_sender(sender: str) -> str:
    """Redesign masking (SITE.md 2.4): phone digits lose the last 3, names keep a prefix."""
    if sender.isdigit():
        return sender[:-3] + "XXX"
    keep = min(5, max(2, len(sender) - 2))
    return sender[:keep] + "XXX"


class World:
    def __init__(self, options: SimOptions, now: float) -> None:
        self.options = options
        self.countries: list[Country] = []
        self.by_slug: dict[str, Country] = {}
        self.by_digits: dict[str, Number] = {}
        self.all_numbers: list[Number] = []
        seed = options.seed
        self._rng = random.Random(f"world:{seed}")
        self._arrivals = random.Random(f"arrivals:{seed}")
        self._manual = random.Random(f"manual:{seed}")
        self._next_id = FIRST_SMS_ID
        self._events: list[tuple[float, int, str, tuple[str, str, str]]] = []
        self._seq = 0
        self.arrived = 0  # messages added after start (arrivals + add_messages)
        self._build(now)
        if options.arrivals_per_minute > 0:
            self._push(now + self._arrivals.expovariate(options.arrivals_per_minute / 60), "arrive")
        if options.numbers_per_hour > 0:
            self._push(now + self._arrivals.expovariate(options.numbers_per_hour / 3600), "number")

    # ----------------------------------------------------------------- generation
    def _build(self, now: float) -> None:
        rng, opts = self._rng, self.options
        for i, slug in enumerate(country_slugs(opts.countries)):
            seed = content.COUNTRIES[i % len(content.COUNTRIES)]
            cycle = i // len(content.COUNTRIES)
            gen = opts.generation if opts.generation != "mixed" else ("legacy", "redesign")[i % 2]
            name = seed.name + (f" {_suffix(cycle + 1).upper()}" if cycle else "")
            prefix = seed.prefix + (str(cycle) if cycle else "")
            if opts.numbers_per_country * 2 > 10**seed.suffix_len:
                raise ValueError(f"numbers_per_country is too large for {seed.slug}'s number range")
            c = Country(slug, name, seed.calling_code, gen, seed.flag, seed.cities, prefix,
                        seed.suffix_len)
            self.countries.append(c)
            self.by_slug[slug] = c
        pending: list[Number] = []
        for c in self.countries:
            fmt = f"0{c.suffix_len}d"
            for k in rng.sample(range(10**c.suffix_len), opts.numbers_per_country):
                # A quarter of the numbers are fresh (< 1 day: NEW badge); the rest span a year.
                if rng.random() < 0.25:
                    age = rng.uniform(30, DAY * 0.98)
                else:
                    age = math.exp(rng.uniform(math.log(DAY * 1.02), math.log(DAY * 420)))
                digits = c.calling_code + c.prefix + format(k, fmt)
                pending.append(Number(digits, c, 0, rng.choice(c.cities), round(now - age, 3)))
        # sms_id is one global auto-increment, so it rises with the time a number was added.
        for n in sorted(pending, key=lambda n: n.added_at):
            self._register(n)
            n.messages = self._inbox(n, now)

    def _register(self, n: Number) -> None:
        self._next_id += self._rng.randint(1, 4)
        n.sms_id = self._next_id
        n.country.numbers.append(n)
        self.by_digits[n.digits] = n
        self.all_numbers.append(n)

    def _inbox(self, n: Number, now: float) -> list[Message]:
        rng, opts = self._rng, self.options
        if opts.messages_per_number is not None:
            count = opts.messages_per_number
        else:
            count = 0 if rng.random() < 0.1 else rng.randint(1, max(1, opts.max_messages))
        if count == 0:
            return []
        # Log-uniform ages up to the number's whole life, so every relative-time unit from
        # "just now" to "years" shows up; most start at 2 minutes so that "just now" and
        # "N seconds ago" stay a minority, as on a real inbox.
        span = max(now - n.added_at, 60.0)
        hi = math.log(span)
        times = sorted(
            now - math.exp(rng.uniform(math.log(3.0 if rng.random() < 0.12 else min(120.0, span)), hi))
            for _ in range(count))
        out: list[Message] = []
        for t in times:
            sender, body = self._fresh(rng, n.country)
            if out and rng.random() < opts.repeat_ratio:
                src = out[-1] if rng.random() < 0.5 else rng.choice(out)
                sender, body = src.sender, src.body
                if src is out[-1] and rng.random() < 0.6:
                    t = min(t, src.at + rng.uniform(1.0, 40.0))  # same minute, adjacent
            t = round(t, 3)
            if out and t <= out[-1].at:
                t = round(out[-1].at + 0.001, 3)
            out.append(Message(sender, body, t, self._flags(rng, body)))
        return out

    def _fresh(self, rng: random.Random, country: Country) -> tuple[str, str]:
        if rng.random() < 0.25:
            sender = rng.choice(("44770090", "4915100", "3361234", "1202555")) + str(
                rng.randint(1000, 9999))
            app = "Service"
        else:
            sender = app = rng.choice(content.SENDERS)
        r = rng.random()
        code = str(rng.randint(0, 10 ** rng.choice((4, 6)) - 1)).zfill(4)
        if r < 0.08:
            body = rng.choice(content.FIXED_BODIES)
        elif r < 0.12:
            body = content.LONG_SENTENCE * rng.randint(2, 6) + f"Your code is {code}."
        else:
            body = rng.choice(content.TEMPLATES).format(code=code, app=app)
        if country.redesign:
            sender = mask_sender(sender)
        return sender, body

    def _flags(self, rng: random.Random, body: str) -> int:
        if not self.options.quirks:
            return 0
        flags = 0
        if " " in body and rng.random() < 0.08:
            flags |= BR
        if rng.random() < 0.06:
            flags |= SSE
        return flags

    # ----------------------------------------------------------------- arrivals
    def _push(self, t: float, kind: str, payload: tuple[str, str, str] = ("", "", "")) -> None:
        self._seq += 1
        heapq.heappush(self._events, (t, self._seq, kind, payload))

    def materialise(self, now: float) -> None:
        """Apply every pending event due at or before `now`, in time order."""
        opts, rng = self.options, self._arrivals
        while self._events and self._events[0][0] <= now:
            t, _, kind, payload = heapq.heappop(self._events)
            if kind == "arrive":
                self._push(t + rng.expovariate(opts.arrivals_per_minute / 60), "arrive")
                n = rng.choice(self.all_numbers)
                sender, body = self._fresh(rng, n.country)
                if n.messages and rng.random() < opts.repeat_ratio:
                    src = n.messages[-1] if rng.random() < 0.6 else rng.choice(n.messages[-10:])
                    sender, body = src.sender, src.body
                elif rng.random() < opts.repeat_ratio / 2:
                    # The same code sent twice within the minute (users press "resend").
                    self._push(t + rng.uniform(2.0, 40.0), "repeat", (n.digits, sender, body))
                self._append(n, t, sender, body, self._flags(rng, body))
            elif kind == "repeat":
                digits, sender, body = payload
                self._append(self.by_digits[digits], t, sender, body, self._flags(rng, body))
            elif kind == "number":
                self._push(t + rng.expovariate(opts.numbers_per_hour / 3600), "number")
                self._new_number(rng, t)

    def _new_number(self, rng: random.Random, t: float) -> None:
        c = rng.choice(self.countries)
        while True:  # capacity is checked at build time, so this ends quickly
            digits = c.calling_code + c.prefix + format(rng.randrange(10**c.suffix_len),
                                                        f"0{c.suffix_len}d")
            if digits not in self.by_digits:
                break
        self._register(Number(digits, c, 0, rng.choice(c.cities), round(t, 3)))

    def _append(self, n: Number, t: float, sender: str, body: str, flags: int) -> Message:
        # Times are strictly increasing per inbox at millisecond precision, so the truth never
        # has two rows with the same received_at and the inbox order is unambiguous.
        t = round(t, 3)
        if n.messages and t <= n.messages[-1].at:
            t = round(n.messages[-1].at + 0.001, 3)
        m = Message(sender, body, t, flags)
        n.messages.append(m)
        self.arrived += 1
        return m

    def add_messages(self, digits: str, count: int, repeat_ratio: float, now: float
                     ) -> list[Message]:
        """Add `count` messages to one inbox, one second apart, ending now (tests)."""
        if digits not in self.by_digits:
            raise KeyError(digits)
        if count < 0 or not 0.0 <= repeat_ratio <= 1.0:
            raise ValueError("count must be >= 0 and repeat_ratio in [0, 1]")
        self.materialise(now)
        n, rng = self.by_digits[digits], self._manual
        added = []
        for i in range(count):
            sender, body = self._fresh(rng, n.country)
            if n.messages and rng.random() < repeat_ratio:
                src = n.messages[-1] if rng.random() < 0.7 else rng.choice(n.messages)
                sender, body = src.sender, src.body
            added.append(self._append(n, now - (count - 1 - i), sender, body,
                                      self._flags(rng, body)))
        return added

    def message_count(self) -> int:
        return sum(len(n.messages) for n in self.all_numbers)
