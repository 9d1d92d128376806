"""Security review, as tests: parameterised SQL, a read-only loopback API with a token rule
and bounded inputs, export names that stay in their directory, no secret in any output, and
the permissions of the files we create."""

from __future__ import annotations

import ast
import asyncio
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner

from crawler.api import create_app
from crawler.cli import cli
from crawler.cli.serve import check_bind
from crawler.config import Config
from crawler.errors import ConfigError
from crawler.sim import SimOptions, running_simulator
from crawler.storage.db import Engines, open_archive

from .archive_factory import ArchiveFactory, Msg, simple
from .front import running_front
from .helpers import spawn_crawler

ROOT = Path(__file__).resolve().parent.parent
SQL_START = ("SELECT", "INSERT", "UPDATE", "DELETE", "PRAGMA", "CREATE", "DROP", "ALTER", "BEGIN", "WITH", "VACUUM")
SQL_CALLS = {"text", "exec_driver_sql", "execute", "executemany", "executescript"}
# Values interpolated into SQL text that are constants of our own code, never data. Each is
# checked below to be a module-level constant of the expected type.
ALLOWED_INTERPOLATIONS = {
    ("crawler/storage/db.py", "BUSY_TIMEOUT_MS"),  # int constant: PRAGMA takes no bound parameter
    ("crawler/storage/search.py", "FTS_TABLE"),  # str constant: a table name cannot be bound
    ("crawler/storage/search.py", "QUEUE_TABLE"),  # str constant, as FTS_TABLE
    ("crawler/storage/search.py", "_sql_fold('m.body')"),  # replace() chain over a constant column name
    ("crawler/storage/search.py", "_sql_fold('m.sender')"),
    ("crawler/bench/micro.py", "', '.join(columns)"),  # the benchmark's fixed column list
    ("crawler/bench/micro.py", "', '.join('?' * len(columns))"),  # placeholders, one per column
    ("migrations/versions/0002_search_and_codes.py", "_row('new')"),  # trigger DDL, constant column names
    ("migrations/versions/0002_search_and_codes.py", "_row('old')"),
    ("migrations/versions/0002_search_and_codes.py", "_row('m')"),
    ("migrations/versions/0003_search_index_lag.py", "_row('new')"),  # as 0002's
    ("migrations/versions/0003_search_index_lag.py", "_row('old')"),
    ("migrations/versions/0003_search_index_lag.py", "_row('m')"),
    ("migrations/versions/0003_search_index_lag.py", "_NOT_QUEUED"),  # constant trigger condition
}


def _sources() -> list[Path]:
    return sorted([*(ROOT / "crawler").rglob("*.py"), *(ROOT / "migrations").rglob("*.py")])


def sql_problems(path: Path, rel: str) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            head = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
            if head.lstrip().startswith(tuple(f"{k} " for k in SQL_START)):  # our SQL is upper case
                for part in node.values:
                    if isinstance(part, ast.FormattedValue):
                        src = ast.unparse(part.value)
                        if (rel, src) not in ALLOWED_INTERPOLATIONS:
                            found.append(f"{rel}:{node.lineno}: f-string SQL interpolates {src}")
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in SQL_CALLS and node.args:
                arg = node.args[0]
                formatted = isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mod | ast.Add) and not all(
                    isinstance(n, ast.Constant) for n in (arg.left, arg.right)
                )
                formatted |= isinstance(arg, ast.Call) and getattr(arg.func, "attr", "") == "format"
                if formatted:
                    found.append(f"{rel}:{node.lineno}: {name}() gets SQL built with % / + / .format")
    return found


def test_every_sql_statement_is_parameterised() -> None:
    problems = [p for path in _sources() for p in sql_problems(path, path.relative_to(ROOT).as_posix())]
    assert problems == []


def test_the_sql_checker_catches_interpolation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f(conn, name, q):\n"
        "    conn.execute(text(f\"SELECT * FROM t WHERE name = '{name}'\"))\n"
        "    conn.exec_driver_sql('DELETE FROM t WHERE id = %s' % q)\n"
        "    conn.execute('UPDATE t SET a = {}'.format(q))\n"
        "    conn.execute(text('SELECT 1 WHERE x = ' + q))\n"
        "    conn.execute(text('SELECT :x'), {'x': name})\n"
    )
    assert len(sql_problems(bad, "bad.py")) == 4


def test_allowed_interpolations_are_constants() -> None:
    from crawler.storage import db, search

    assert isinstance(db.BUSY_TIMEOUT_MS, int)
    assert isinstance(search.FTS_TABLE, str) and search.FTS_TABLE.isidentifier()
    assert isinstance(search.QUEUE_TABLE, str) and search.QUEUE_TABLE.isidentifier()


# --------------------------------------------------------------------------- the API


@pytest.fixture
async def engines(db_url: str) -> AsyncIterator[Engines]:
    async with open_archive(db_url) as e:
        f = ArchiveFactory(e)
        uk = await f.country("united-kingdom", "United Kingdom", "44")
        n = await f.number(uk, "447700900121")
        await f.messages(n, [*simple(12), Msg("Evil", "<script>alert(1)</script>")])
        yield e


PATHS = ["/list_countries", "/list_phone_numbers", "/get_messages?number=447700900121", "/search_messages?query=code",
         "/health", "/metrics", "/openapi.json"]  # fmt: skip


def _no_trace(text: str) -> None:
    for leak in ("Traceback", 'File "', "sqlalchemy", "sqlite3", "/work/", "site-packages"):
        assert leak not in text, text[:300]


async def test_api_is_read_only(aiohttp_client: Any, engines: Engines) -> None:
    app = create_app(engines)
    methods = {r.method for r in app.router.routes()}
    assert methods <= {"GET", "HEAD"}, methods
    client = await aiohttp_client(app)
    for path in PATHS:
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            resp = await client.request(method, path, data=b"x")
            assert resp.status == 405, (method, path, resp.status)
            text = await resp.text()
            _no_trace(text)
            assert "GET" in resp.headers.get("Allow", "")


async def test_api_bounds_and_errors_leak_nothing(aiohttp_client: Any, engines: Engines) -> None:
    client = await aiohttp_client(create_app(engines))
    cases = [
        "/get_messages?number=447700900121&page=abc", "/get_messages?number=447700900121&page=0",
        "/get_messages?number=447700900121&page=99999999999999999999", "/get_messages?number=%00%27%22",
        "/get_messages?number=447700900121&sms_id=-1", "/search_messages?query=" + "x" * 1000,
        "/search_messages?query=code&max_pages=100000", "/list_phone_numbers?country=" + "a" * 3000,
        "/search_messages?query=%27%20OR%201%3D1%20--", "/get_messages?number=447700900121%27%3B%20DROP%20TABLE%20messages%3B--",
    ]  # fmt: skip
    for path in cases:
        resp = await client.get(path)
        text = await resp.text()
        assert 400 <= resp.status < 500 or (resp.status == 200 and "query=%27" in path), (path, resp.status, text[:200])
        _no_trace(text)
        assert resp.headers["Content-Type"].startswith("application/json")
    resp = await client.get("/" + "a" * 100_000)  # an absurd request line: refused by the server
    assert 400 <= resp.status < 500
    resp = await client.get("/get_messages?number=447700900121")  # the table is still there
    assert resp.status == 200


async def test_token_rule(aiohttp_client: Any, engines: Engines) -> None:
    assert Config().api.host == "127.0.0.1"  # loopback by default
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org"):
        with pytest.raises(ConfigError):
            check_bind(host, "")
        check_bind(host, "tok")
    for host in ("127.0.0.1", "::1", "localhost"):
        check_bind(host, "")
    client = await aiohttp_client(create_app(engines, token="s3cret"))
    for headers, status in [({}, 401), ({"Authorization": "Bearer wrong"}, 401),
                            ({"Authorization": "bearer s3cret"}, 401), ({"Authorization": "Bearer s3cret"}, 200)]:  # fmt: skip
        resp = await client.get("/list_countries", headers=headers)
        assert resp.status == status, headers
        assert "s3cret" not in await resp.text()
    assert (await client.get("/health")).status == 200  # liveness needs no token


# --------------------------------------------------------------------------- export names

HOSTILE_NAMES = [("../../escape", "../../../../tmp/pwned"), ("..", ".."), ("-rf", "--all"),
                 ("a/b", "/etc/passwd"), ("con", "nul\x00x"), (".hidden", "./.x")]  # fmt: skip


def test_export_all_stays_in_its_directory(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"

    async def build() -> None:
        async with open_archive(url) as e:
            f = ArchiveFactory(e)
            for i, (slug, number) in enumerate(HOSTILE_NAMES):
                c = await f.country(slug.replace("\x00", ""), f"C{i}", None)
                n = await f.number(c, number.replace("\x00", ""), sms_id=i + 1)
                await f.messages(n, simple(2))

    asyncio.run(build())
    work = tmp_path / "work"
    out = work / "out"
    work.mkdir()
    before = set(tmp_path.rglob("*"))
    result = CliRunner().invoke(cli, ["--database", url, "export", "--all", "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    created = set(tmp_path.rglob("*")) - before - {out}
    assert created and all(p.parent == out for p in created), sorted(map(str, created))
    assert len(created) == len(HOSTILE_NAMES)
    assert all(not p.name.startswith((".", "-")) for p in created)


# --------------------------------------------------------------------------- secrets

PASSWORD = "Pw-9f2c-SuperSecret"
COOKIE = "CookieValue-7d1e-Secret"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAWLER_")}
    return subprocess.run([sys.executable, "-m", "crawler", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)  # fmt: skip


def test_database_password_never_shown(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://archiver:{PASSWORD}@127.0.0.1:1/archive"
    for args in (("-vv", "--database", url, "crawl", "--base-url", "http://127.0.0.1:1"),
                 ("-vv", "--database", url, "countries"),
                 ("-vv", "--database", url.replace("asyncpg", "psycopg9"), "countries"),
                 ("-vv", "--log-format", "json", "--database", url, "stats")):  # fmt: skip
        proc = _run(*args, cwd=tmp_path)
        assert proc.returncode != 0
        assert PASSWORD not in proc.stdout + proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
        assert [line for line in proc.stderr.splitlines() if line.startswith("Error:")], proc.stderr
    bad = tmp_path / "c.toml"
    bad.write_text(f'[database]\nurl = "mysql://root:{PASSWORD}@db/x"\n')
    proc = _run("--config", str(bad), "countries", cwd=tmp_path)
    assert proc.returncode != 0 and PASSWORD not in proc.stdout + proc.stderr, proc.stderr


async def test_cookie_values_never_shown(tmp_path: Path) -> None:
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(f"# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\t{COOKIE}\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[http]\nrequests_per_second = 0\ncookies_file = "{cookies}"\n')
    sent: list[str] = []

    async def record(request: web.Request) -> web.StreamResponse | None:
        sent.append(request.cookies.get("session", ""))
        return None

    async with running_simulator(SimOptions(seed=2, countries=1, numbers_per_country=2, max_messages=3, frozen=True)) as sim:
        async with running_front(sim.base_url or "", record) as front:
            proc = await spawn_crawler(
                "-vv", "--config", str(cfg), "--database",
                f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", "crawl", "--base-url", front, "--no-progress",
                cwd=tmp_path,
            )  # fmt: skip
            out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert sent and set(sent) == {COOKIE}  # the cookie really was used ...
    assert COOKIE not in (out + err).decode()  # ... and never printed
    # a broken cookies file: the error names the file, not its contents
    cookies.write_text(f"session={COOKIE}; other=1\n")
    proc2 = await spawn_crawler(
        "-vv", "--config", str(cfg), "--database",
        f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", "crawl", "--base-url", "http://127.0.0.1:1", "--no-progress",
        cwd=tmp_path,
    )  # fmt: skip
    out, err = await proc2.communicate()
    assert proc2.returncode != 0 and b"cookies" in err and COOKIE.encode() not in out + err, err.decode()


# --------------------------------------------------------------------------- permissions


def test_daemon_lock_file_is_private(tmp_path: Path) -> None:
    from crawler.daemon import instance_lock

    db = tmp_path / "a.db"
    with instance_lock(f"sqlite+aiosqlite:///{db}"):
        mode = stat.S_IMODE(os.stat(f"{db}.lock").st_mode)
    assert mode == 0o600, oct(mode)


def test_exports_follow_the_umask_and_a_new_database_is_private(tmp_path: Path) -> None:
    """Exports are created with the user's umask (they are meant to be shared); a new
    SQLite archive, which holds strangers' messages, is created 0600 whatever the umask."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"

    async def build() -> None:
        async with open_archive(url) as e:
            f = ArchiveFactory(e)
            n = await f.number(await f.country(), "447700900121")
            await f.messages(n, simple(2))

    old = os.umask(0o027)
    try:
        asyncio.run(build())
        result = CliRunner().invoke(cli, ["--database", url, "export", "447700900121", "-o", str(tmp_path / "x.csv")])
        assert result.exit_code == 0, result.output
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "x.csv").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "a.db").st_mode) == 0o600
