"""HTTP fetching that knows no site and no database.

One aiohttp session; a global concurrency cap; a per-host rate limit (a strict gap between
requests to one host, pushed forward by 429s); retries with exponential backoff and
jitter on 429 / 5xx / connection errors / timeouts, obeying Retry-After; a size cap that
also catches decompression bombs; robots.txt; cookies from a Netscape cookies.txt; proxy.

Statuses other than the retried ones come back as they are: deciding that a 403 is a
Cloudflare challenge or that a 404 still carries an inbox is the site parser's job.
"""

from __future__ import annotations

import asyncio
import email.utils
import http.cookiejar
import logging
import random
import time
import urllib.robotparser
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from types import TracebackType
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from crawler.config import HttpConfig, mask_url
from crawler.errors import ConfigError, FetchError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 900.0  # never sleep longer than 15 minutes on one Retry-After
BACKOFF_BASE = 0.5
BACKOFF_CAP = 60.0


@dataclass(frozen=True, slots=True)
class Response:
    url: str
    status: int
    body: bytes
    # The site's clock when it rendered the page: Date minus Age; our clock if no Date.
    fetched_at: datetime
    site_clock: bool  # False when we had to fall back to the local clock
    attempts: int


@dataclass(slots=True)
class FetchStats:
    requests: int = 0  # every HTTP request sent, retries included
    retries: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    robots_blocked: int = 0


class _HostSlot:
    """Politeness for one host: at most one request start per `gap` seconds."""

    def __init__(self, gap: float) -> None:
        self.gap = gap
        self.next_at = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()
            if self.next_at > now:
                await asyncio.sleep(self.next_at - now)
            self.next_at = max(time.monotonic(), self.next_at) + self.gap

    def push_back(self, seconds: float) -> None:
        self.next_at = max(self.next_at, time.monotonic() + seconds)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(delta, 0.0), MAX_RETRY_AFTER)


def site_time(headers: Mapping[str, str] | None) -> datetime | None:
    """The page's render time on the site's clock: `Date` minus `Age` (CONTRACT §5)."""
    if not headers:
        return None
    date = headers.get("Date")
    if not date:
        return None
    when = _http_date(date)
    if when is None:
        return None
    age = headers.get("Age")
    if age and str(age).strip().isdigit():
        when -= timedelta(seconds=int(str(age).strip()))
    return when.astimezone(UTC)


@lru_cache(maxsize=64)
def _http_date(value: str) -> datetime | None:
    """An HTTP date as an aware datetime; cached, as every response of one second shares it."""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def load_cookies(path: str) -> list[tuple[str, str, str, str]]:
    """(domain, path, name, value) from a Netscape cookies.txt; errors name the file."""
    jar = http.cookiejar.MozillaCookieJar()
    try:
        jar.load(path, ignore_discard=True, ignore_expires=True)
    except FileNotFoundError:
        raise ConfigError(f"http.cookies_file = {path!r}: the file does not exist") from None
    except (http.cookiejar.LoadError, OSError) as exc:
        raise ConfigError(
            f"http.cookies_file = {path!r}: not a Netscape cookies.txt file ({type(exc).__name__}); "
            "export one with a browser extension such as 'Get cookies.txt'"
        ) from None
    return [(c.domain, c.path or "/", c.name, c.value or "") for c in jar]


class Fetcher:
    """Use as `async with Fetcher(config.http) as f: r = await f.get(url)`."""

    def __init__(self, config: HttpConfig, *, client_id: str | None = None) -> None:
        self.config = config
        # Sent as X-Crawler-Id so a site operator (and the simulator's request log) can
        # tell several cooperating daemons apart.
        self.client_id = client_id
        self.stats = FetchStats()
        self._session: aiohttp.ClientSession | None = None
        self._slots: dict[str, _HostSlot] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self._robots_lock = asyncio.Lock()
        self._inflight = asyncio.Semaphore(config.concurrency)

    async def __aenter__(self) -> Fetcher:
        jar = aiohttp.CookieJar(unsafe=True)  # unsafe: also keep cookies for IP hosts (mirrors, tests)
        if self.config.cookies_file:
            for domain, path, name, value in load_cookies(self.config.cookies_file):
                host = domain.lstrip(".")
                jar.update_cookies({name: value}, response_url=URL(f"https://{host}{path}"))
                jar.update_cookies({name: value}, response_url=URL(f"http://{host}{path}"))
        connector = aiohttp.TCPConnector(limit=self.config.concurrency, ttl_dns_cache=300)
        timeout = aiohttp.ClientTimeout(
            total=self.config.timeout_seconds,
            sock_connect=min(10.0, self.config.timeout_seconds),
            sock_read=self.config.timeout_seconds,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            cookie_jar=jar,
            headers={
                "User-Agent": self.config.effective_user_agent,
                "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
                "Accept-Language": "en-US,en;q=0.9",
                **({"X-Crawler-Id": self.client_id} if self.client_id else {}),
            },
            trust_env=False,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _slot(self, host: str) -> _HostSlot | None:
        rps = self.config.requests_per_second
        if rps <= 0:
            return None
        slot = self._slots.get(host)
        if slot is None:
            slot = self._slots[host] = _HostSlot(1.0 / rps)
        return slot

    async def _allowed(self, url: str) -> bool:
        if not self.config.obey_robots:
            return True
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        async with self._robots_lock:
            if origin not in self._robots:
                self._robots[origin] = await self._load_robots(origin)
        parser = self._robots[origin]
        if parser is None:
            return True
        return parser.can_fetch(self.config.effective_user_agent, url)

    async def _load_robots(self, origin: str) -> urllib.robotparser.RobotFileParser | None:
        try:
            resp = await self._request(f"{origin}/robots.txt", check_robots=False, retries=1)
        except FetchError:
            return None  # unreachable robots.txt: RFC 9309 says treat 5xx/unreachable as...
        if resp.status >= 400:
            return None  # 4xx: no restrictions (RFC 9309 §2.3.1.3)
        parser = urllib.robotparser.RobotFileParser()
        parser.parse(resp.body.decode("utf-8", errors="replace").splitlines())
        delay = parser.crawl_delay(self.config.effective_user_agent)
        rps = self.config.requests_per_second
        if delay and rps > 0:
            # Crawl-delay only ever slows us down; 0 requests_per_second is an explicit
            # "no politeness" (simulator, mirrors), which we respect as asked.
            slot = self._slot(urlsplit(origin).netloc)
            if slot is not None:
                slot.gap = max(slot.gap, float(delay))
        return parser

    async def get(self, url: str) -> Response:
        if not await self._allowed(url):
            self.stats.robots_blocked += 1
            raise FetchError(url, "disallowed by the site's robots.txt (set http.obey_robots = false to override)")
        return await self._request(url, check_robots=True, retries=self.config.max_retries)

    async def _request(self, url: str, *, check_robots: bool, retries: int) -> Response:
        assert self._session is not None, "use `async with Fetcher(...)`"
        host = urlsplit(url).netloc
        attempt = 0
        while True:
            attempt += 1
            slot = self._slot(host)
            if slot is not None:
                await slot.wait()
            try:
                async with self._inflight:
                    self.stats.requests += 1
                    resp = await self._once(url)
            except _TooLarge as exc:
                # The same page will be as large next time: retrying only costs requests.
                raise FetchError(url, str(exc)) from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.stats.connection_errors += 1
                reason = _describe(exc, self.config.timeout_seconds)
                if attempt > retries:
                    raise FetchError(url, f"{reason} (after {attempt} attempts)") from None
                await self._backoff(attempt, None, slot)
                continue
            self.stats.by_status[resp.status] += 1
            if resp.status in RETRY_STATUSES and attempt <= retries:
                await self._backoff(attempt, resp.retry_after, slot)
                continue
            return Response(
                url=url,
                status=resp.status,
                body=resp.body,
                fetched_at=resp.fetched_at,
                site_clock=resp.site_clock,
                attempts=attempt,
            )

    async def _backoff(self, attempt: int, retry_after: float | None, slot: _HostSlot | None) -> None:
        self.stats.retries += 1
        if retry_after is not None:
            delay = retry_after
            if slot is not None:
                slot.push_back(delay)
        else:
            delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** (attempt - 1)))
            delay = random.uniform(delay / 2, delay)  # full jitter keeps retries apart
        await asyncio.sleep(delay)

    async def _once(self, url: str) -> _Raw:
        assert self._session is not None
        cap = self.config.max_page_bytes
        proxy = self.config.proxy or None
        async with self._session.get(url, allow_redirects=True, max_redirects=5, proxy=proxy) as r:
            length = r.content_length
            if length is not None and length > cap:
                raise _TooLarge(url, length, cap)
            chunks: list[bytes] = []
            size = 0
            async for chunk in r.content.iter_chunked(65536):
                size += len(chunk)
                if size > cap:
                    raise _TooLarge(url, size, cap)
                chunks.append(chunk)
            when = site_time(r.headers)
            return _Raw(
                status=r.status,
                body=b"".join(chunks),
                fetched_at=when or datetime.now(UTC),
                site_clock=when is not None,
                retry_after=parse_retry_after(r.headers.get("Retry-After")) if r.status in RETRY_STATUSES else None,
            )


@dataclass(frozen=True, slots=True)
class _Raw:
    status: int
    body: bytes
    fetched_at: datetime
    site_clock: bool
    retry_after: float | None


class _TooLarge(aiohttp.ClientPayloadError):
    def __init__(self, url: str, size: int, cap: int) -> None:
        super().__init__(f"page larger than http.max_page_bytes ({size} > {cap} bytes)")
        self.url = url


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, _TooLarge):
        return str(exc)
    if isinstance(exc, aiohttp.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {mask_url(str(exc.host))}:{exc.port} ({exc.os_error.strerror or exc.os_error})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    return f"{type(exc).__name__}: {exc}".rstrip(": ")
