"""Bad input on every command: one clear `Error:` line, a non-zero exit, no traceback, and
nothing written (the database file stays absent, or byte-for-byte untouched)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.cli import main
from crawler.sim import SimOptions, running_simulator
from crawler.storage.db import open_archive

from .archive_factory import ArchiveFactory, simple
from .helpers import spawn_crawler


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("CRAWLER_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no ./config.toml of the repository


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return code if isinstance(code, int) else 1, out, err


def one_error(code: int, err: str) -> str:
    assert code != 0
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, err
    assert "internal error" not in lines[0], lines[0]
    return lines[0]


def fingerprint(path: Path) -> tuple[int, int, str] | None:
    if not path.exists():
        return None
    st = path.stat()
    return st.st_size, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def existing(tmp_path: Path) -> Iterator[Path]:
    """An archive with one number; yields its path."""
    db = tmp_path / "have.db"

    async def build() -> None:
        async with open_archive(f"sqlite+aiosqlite:///{db}") as e:
            f = ArchiveFactory(e)
            n = await f.number(await f.country(), "447700900121")
            await f.messages(n, simple(3))

    asyncio.run(build())
    yield db


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return str(path)


CASES: list[tuple[str, list[str], str]] = [
    ("crawl-base-url", ["crawl", "--base-url", "not a url"], "--base-url"),
    ("crawl-base-url-scheme", ["crawl", "--base-url", "ftp://smstome.com"], "http:// or https://"),
    ("crawl-base-url-no-host", ["crawl", "--base-url", "https://"], "--base-url"),
    ("crawl-country-format", ["crawl", "--country", "Not A Slug!"], "--country"),
    ("crawl-max-pages", ["crawl", "--max-pages", "-1"], "--max-pages"),
    ("messages-letters", ["messages", "hello"], "is not a phone number"),
    ("messages-short", ["messages", "12"], "is not a phone number"),
    ("messages-long", ["messages", "+1234567890123456789"], "is not a phone number"),
    ("messages-mixed", ["messages", "+44 7700 9OO121"], "is not a phone number"),
    ("messages-page", ["messages", "447700900121", "--page", "0"], "--page"),
    ("export-since-word", ["export", "447700900121", "--since", "yesterday"], "--since"),
    ("export-since-date", ["export", "447700900121", "--since", "2026-13-45"], "--since"),
    ("export-until-before-since", ["export", "447700900121", "--since", "2026-11-02", "--until", "2026-11-01"], "later than"),
    ("export-format", ["export", "447700900121", "--format", "xml"], "--format"),
    ("export-bad-number", ["export", "not-a-number", "-o", "x.csv"], "is not a phone number"),
    ("search-bad-number", ["search", "code", "--number", "abc"], "is not a phone number"),
    ("wait-bad-number", ["wait", "abc"], "is not a phone number"),
    ("wait-timeout", ["wait", "447700900121", "--timeout", "-5"], "--timeout"),
    ("serve-port-negative", ["serve", "--port", "-1"], "--port"),
    ("serve-port-big", ["serve", "--port", "70000"], "--port"),
    ("serve-port-word", ["serve", "--port", "http"], "--port"),
    ("serve-public-no-token", ["serve", "--host", "0.0.0.0"], "api.token"),
    ("sim-rate", ["sim", "--rate-429", "1.5"], "--rate-429"),
    ("sim-rate-word", ["sim", "--rate-5xx", "often"], "--rate-5xx"),
    ("db-scheme", ["--database", "mysql://root@localhost/x", "countries"], "database.url"),
    ("db-garbage", ["--database", "nonsense", "countries"], "database.url"),
    ("db-sync-sqlite", ["--database", "sqlite:///x.db", "countries"], "database.url"),
    ("db-missing-dir", ["--database", "sqlite+aiosqlite:///no/such/dir/x.db", "countries"], "does not exist"),
]


@pytest.mark.parametrize(("args", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_option_is_one_error_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], expected: str
) -> None:
    db = tmp_path / "fresh.db"
    full = args if args[0] == "--database" else ["--database", f"sqlite+aiosqlite:///{db}", *args]
    code, _, err = run_main(capsys, *full)
    line = one_error(code, err)
    assert expected in line, line
    assert not db.exists() and not (tmp_path / "x.db").exists() and not (tmp_path / "x.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [(["messages", "hello"], "is not a phone number"), (["export", "447700900121", "--since", "soon"], "--since"),
     (["numbers", "--country", "atlantis"], "atlantis"), (["messages", "+447700900000"], "not in the archive"),
     (["export", "--all"], "-o DIR")],  # fmt: skip
)
def test_bad_input_leaves_an_existing_archive_untouched(
    capsys: pytest.CaptureFixture[str], existing: Path, args: list[str], expected: str
) -> None:
    before = fingerprint(existing)
    code, _, err = run_main(capsys, "--database", f"sqlite+aiosqlite:///{existing}", *args)
    assert expected in one_error(code, err)
    assert fingerprint(existing) == before


CONFIGS = [
    ("inbox-min-over-max", "[schedule]\ninbox_min_minutes = 10\ninbox_max_minutes = 5\n", "schedule.inbox_min_minutes"),
    ("type", '[http]\nconcurrency = "two"\n', "http.concurrency"),
    ("unknown-key", "[http]\nconcurency = 2\n", "unknown key http.concurency"),
    ("unknown-section", "[htp]\n", "unknown section"),
    ("not-toml", "[http\n", "not valid TOML"),
    ("negative-timeout", "[http]\ntimeout_seconds = -1\n", "http.timeout_seconds"),
    ("bad-base-url", '[site]\nbase_url = "smstome.com"\n', "site.base_url"),
    ("nan", "[http]\nrequests_per_second = nan\n", "finite"),
    ("port", "[api]\nport = 0\n", "api.port"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
@pytest.mark.parametrize("command", [["run"], ["crawl"], ["countries"]], ids=["run", "crawl", "countries"])
def test_bad_config_is_one_error_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, expected: str, command: list[str]
) -> None:
    path = _config(tmp_path, text)
    db = tmp_path / "fresh.db"
    code, _, err = run_main(capsys, "--config", path, "--database", f"sqlite+aiosqlite:///{db}", *command)
    line = one_error(code, err)
    assert expected in line and "bad.toml" in line, line
    assert not db.exists()


def test_config_file_that_is_a_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "conf.d"
    folder.mkdir()
    code, _, err = run_main(capsys, "--config", str(folder), "--database", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "crawl")
    line = one_error(code, err)
    assert "conf.d" in line and "directory" in line, line
    assert not (tmp_path / "x.db").exists()


def test_missing_config_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_main(capsys, "--config", str(tmp_path / "nope.toml"), "countries")
    assert "does not exist" in one_error(code, err)


async def test_crawl_unknown_country_names_the_known_ones(tmp_path: Path) -> None:
    """A well-formed slug the site does not have: the site must be asked (its home page is
    stored, as any pass does), no number or message is, and the error lists what the site has."""
    async with running_simulator(SimOptions(seed=3, countries=2, numbers_per_country=2, frozen=True)) as sim:
        db = tmp_path / "a.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRAWLER_")}
        proc = await spawn_crawler(
            "--database", f"sqlite+aiosqlite:///{db}", "crawl",
            "--base-url", sim.base_url or "", "--country", "atlantis", "--no-progress",
            env=env,
        )  # fmt: skip
        _, err = await proc.communicate()
        slugs = [c["slug"] for c in sim.truth()["countries"]]
    line = one_error(proc.returncode or 0, err.decode())
    assert "atlantis" in line and all(s in line for s in slugs), line
    import sqlite3

    con = sqlite3.connect(db)
    try:
        counts = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("countries", "numbers", "messages")]
    finally:
        con.close()
    assert counts[1:] == [0, 0]  # the home page's country list is real site data; nothing else


def test_real_entry_point_exit_status(tmp_path: Path) -> None:
    """`python -m crawler` (not just main()): the status and the single line, as a shell sees them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAWLER_")}
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "--database", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "messages", "12"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("Error: "), proc.stderr
    assert not (tmp_path / "x.db").exists()
