"""Load `config.toml` once into frozen, validated objects.

Order (CONTRACT §1): `--config PATH`, else `$CRAWLER_CONFIG`, else `./config.toml` if it
exists, else the built-in defaults (equal to the shipped `config.toml`, a test checks it).
`CRAWLER_DATABASE_URL` / `CRAWLER_BASE_URL` override the file; `--database` overrides both.
Every problem is a `ConfigError` naming the file, the key, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler import __version__
from crawler.errors import ConfigError

DEFAULT_USER_AGENT = "crawler/<version> (+https://github.com/smstome-archive/crawler)"


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteConfig:
    base_url: str = "https://smstome.com"
    countries: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseConfig:
    url: str = "sqlite+aiosqlite:///smstome.db"


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpConfig:
    concurrency: int = 2
    requests_per_second: float = 1.0
    timeout_seconds: float = 30.0
    max_retries: int = 5
    user_agent: str = DEFAULT_USER_AGENT
    cookies_file: str = ""
    obey_robots: bool = True
    proxy: str = ""
    max_page_bytes: int = 5 * 1024 * 1024

    @property
    def effective_user_agent(self) -> str:
        return self.user_agent.replace("<version>", __version__)


@dataclass(frozen=True, slots=True, kw_only=True)
class CrawlConfig:
    max_pages: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleConfig:
    countries_every_minutes: float = 360.0
    numbers_every_minutes: float = 30.0
    inbox_min_minutes: float = 2.0
    inbox_max_minutes: float = 240.0
    retire_after_days: float = 14.0
    lease_seconds: float = 120.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = 8787
    token: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    site: SiteConfig = field(default_factory=SiteConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    crawl: CrawlConfig = field(default_factory=CrawlConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    source: str = "<built-in defaults>"  # which file this came from, for messages

    def replace(self, **sections: Any) -> Config:
        return dataclasses.replace(self, **sections)


_SECTIONS: dict[str, type[Any]] = {
    "site": SiteConfig,
    "database": DatabaseConfig,
    "http": HttpConfig,
    "crawl": CrawlConfig,
    "schedule": ScheduleConfig,
    "api": ApiConfig,
}


def _fail(source: str, key: str, value: object, allowed: str) -> ConfigError:
    return ConfigError(f"{source}: {key} = {value!r} is not allowed: {allowed}")


def _coerce(source: str, key: str, value: object, default: object) -> object:
    """Check one value against the type of its default."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise _fail(source, key, value, "must be true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(source, key, value, "must be a whole number")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(source, key, value, "must be a number")
        if not math.isfinite(float(value)):
            raise _fail(source, key, value, "must be a finite number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise _fail(source, key, value, "must be a string in quotes")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _fail(source, key, value, 'must be a list of strings, e.g. ["finland"]')
        return tuple(value)
    raise AssertionError(f"no coercion for {key}")  # pragma: no cover - a programming error


def _check_ranges(cfg: Config) -> None:
    src = cfg.source

    def need(ok: bool, key: str, value: object, allowed: str) -> None:
        if not ok:
            raise _fail(src, key, value, allowed)

    base = urlsplit(cfg.site.base_url)
    need(
        base.scheme in ("http", "https") and bool(base.netloc),
        "site.base_url",
        cfg.site.base_url,
        "an http:// or https:// URL such as https://smstome.com",
    )
    for slug in cfg.site.countries:
        need(
            bool(slug) and all(c.islower() or c == "-" for c in slug),
            "site.countries",
            slug,
            "country slugs as in the site's URLs, lowercase letters and '-', e.g. united-kingdom",
        )
    need(
        cfg.database.url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")),
        "database.url",
        _mask_url(cfg.database.url),
        "sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db",
    )
    h = cfg.http
    need(1 <= h.concurrency <= 256, "http.concurrency", h.concurrency, "1 to 256")
    need(
        0 <= h.requests_per_second <= 10_000,
        "http.requests_per_second",
        h.requests_per_second,
        "0 (no limit) to 10000",
    )
    need(0 < h.timeout_seconds <= 600, "http.timeout_seconds", h.timeout_seconds, "above 0, at most 600")
    need(0 <= h.max_retries <= 50, "http.max_retries", h.max_retries, "0 to 50")
    need(bool(h.user_agent.strip()), "http.user_agent", h.user_agent, "a non-empty string")
    need(
        h.max_page_bytes >= 16 * 1024, "http.max_page_bytes", h.max_page_bytes, "at least 16384"
    )
    if h.proxy:
        p = urlsplit(h.proxy)
        need(
            p.scheme in ("http", "https") and bool(p.netloc),
            "http.proxy",
            _mask_url(h.proxy),
            "empty, or an http://host:port proxy URL",
        )
    need(0 <= cfg.crawl.max_pages <= 1_000_000, "crawl.max_pages", cfg.crawl.max_pages, "0 (no limit) or a positive page count")
    s = cfg.schedule
    for key in ("countries_every_minutes", "numbers_every_minutes", "inbox_min_minutes", "inbox_max_minutes"):
        value = getattr(s, key)
        need(0 < value <= 525_600, f"schedule.{key}", value, "minutes above 0 (fractions allowed), at most a year")
    need(
        0 < s.retire_after_days <= 3650,
        "schedule.retire_after_days",
        s.retire_after_days,
        "days above 0 (fractions allowed), at most 3650",
    )
    need(
        2 <= s.lease_seconds <= 86_400,
        "schedule.lease_seconds",
        s.lease_seconds,
        "seconds, 2 to 86400",
    )
    need(
        s.inbox_min_minutes <= s.inbox_max_minutes,
        "schedule.inbox_min_minutes",
        s.inbox_min_minutes,
        f"at most schedule.inbox_max_minutes ({s.inbox_max_minutes})",
    )
    need(1 <= cfg.api.port <= 65535, "api.port", cfg.api.port, "1 to 65535")
    need(bool(cfg.api.host), "api.host", cfg.api.host, "a host name or address such as 127.0.0.1")


def _mask_url(url: str) -> str:
    """Hide a password in a URL before it appears in any message or log."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


mask_url = _mask_url


def config_from_mapping(data: Mapping[str, Any], source: str) -> Config:
    """Validate a parsed TOML document (unknown keys are errors: typos must not do nothing)."""
    sections: dict[str, Any] = {}
    for name, value in data.items():
        if name not in _SECTIONS:
            raise ConfigError(
                f"{source}: unknown section [{name}]; allowed: {', '.join(sorted(_SECTIONS))}"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {name} must be a table ([{name}]), not {value!r}")
        cls = _SECTIONS[name]
        defaults = cls()
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, item in value.items():
            if key not in known:
                raise ConfigError(
                    f"{source}: unknown key {name}.{key}; allowed in [{name}]: {', '.join(sorted(known))}"
                )
            kwargs[key] = _coerce(source, f"{name}.{key}", item, getattr(defaults, key))
        sections[name] = cls(**kwargs)
    cfg = Config(**sections, source=source)
    _check_ranges(cfg)
    return cfg


def find_config_path(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get("CRAWLER_CONFIG")
    if env:
        return Path(env)
    local = Path("config.toml")
    return local if local.is_file() else None


def load_config(
    path: str | None = None,
    *,
    database_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """The configuration in force, with environment and `--database` overrides applied."""
    env = os.environ if environ is None else environ
    found = find_config_path(path) if environ is None else (Path(path) if path else None)
    if found is None:
        cfg = Config()
    else:
        try:
            raw = found.read_bytes()
        except FileNotFoundError:
            raise ConfigError(
                f"config file {found} does not exist; pass --config with an existing file "
                "or remove it to use the built-in defaults"
            ) from None
        except OSError as exc:
            raise ConfigError(f"config file {found} cannot be read: {exc.strerror}") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError(f"{found}: is not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{found}: is not valid TOML: {exc}") from None
        cfg = config_from_mapping(data, str(found))
    overrides: dict[str, Any] = {}
    base = env.get("CRAWLER_BASE_URL")
    if base:
        overrides["site"] = dataclasses.replace(cfg.site, base_url=base)
    db = database_url or env.get("CRAWLER_DATABASE_URL")
    if db:
        overrides["database"] = dataclasses.replace(cfg.database, url=db)
    if overrides:
        cfg = dataclasses.replace(cfg, **overrides)
        _check_ranges(cfg)
    return cfg
