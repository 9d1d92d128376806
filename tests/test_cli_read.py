"""The read commands end to end: a real SQLite archive, click's runner, and `python -m crawler`."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crawler.cli import cli
from crawler.storage.db import open_archive

from .archive_factory import ArchiveFactory, Msg, simple

HOSTILE = "\x1b[2J\x1b[31mwipe\x1b[0m \u202eesrever\u202c =cmd|' /C calc'!A0"


async def _build(url: str) -> None:
    async with open_archive(url) as engines:
        f = ArchiveFactory(engines)
        uk = await f.country("united-kingdom", "United Kingdom", "44")
        await f.country("france", "France", "33")
        n = await f.number(uk, "447700900121")
        await f.messages(n, [*simple(14), Msg("Evil", HOSTILE), Msg("Google", "G-771204 is your code", code="771204")])
        fr = await f.number(2, "33612345678")
        await f.messages(fr, [Msg("Bank", "Votre code: 1234", code="1234")])


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'archive.db'}"
    asyncio.run(_build(url))
    return url


@pytest.fixture
def empty_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"


def run(url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--database", url, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def crawler(url: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m crawler`: the real entry point, which prints errors and sets exit codes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAWLER_")}
    return subprocess.run(
        [sys.executable, "-m", "crawler", "--database", url, *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=120, encoding="utf-8",
    )  # fmt: skip


def one_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return errors[0]


def test_countries_table_and_json(db_url: str) -> None:
    out = run(db_url, "countries").output
    lines = out.splitlines()
    assert lines[0].split() == ["SLUG", "NAME", "CODE", "NUMBERS", "MESSAGES", "STATUS"]
    assert lines[2].split() == ["united-kingdom", "United", "Kingdom", "44", "1", "16", "active"]
    data = json.loads(run(db_url, "countries", "--json").output)
    assert [(c["slug"], c["numbers"], c["messages"]) for c in data] == [("france", 1, 1), ("united-kingdom", 1, 16)]


def test_empty_archive_hints(empty_url: str) -> None:
    assert "run `crawler crawl`" in run(empty_url, "countries").output
    assert "run `crawler crawl`" in run(empty_url, "numbers").output
    assert json.loads(run(empty_url, "countries", "--json").output) == []


def test_numbers(db_url: str) -> None:
    out = run(db_url, "numbers", "--country", "france").output
    assert "+33612345678" in out and "447700900121" not in out
    data = json.loads(run(db_url, "numbers", "--json").output)
    assert [(n["number"], n["messages"]) for n in data] == [("33612345678", 1), ("447700900121", 16)]


def test_messages_pages_and_terminal_safety(db_url: str) -> None:
    out = run(db_url, "messages", "44 7700 900121").output
    assert out.splitlines()[0] == "+447700900121 (united-kingdom): page 1 of 2 (16 messages)"
    assert out.index("G-771204") < out.index("message 14")  # newest first
    assert "code 771204" in out
    assert "\x1b" not in out and "\u202e" not in out and "wipe" in out
    out2 = run(db_url, "messages", "+447700900121", "--page", "2").output
    assert "page 2 of 2" in out2 and "message 1\n" in out2
    assert "last page is 2" in run(db_url, "messages", "447700900121", "--page", "9").output
    data = json.loads(run(db_url, "messages", "447700900121", "--json").output)
    assert data["total"] == 16 and data["messages"][1]["message"] == HOSTILE  # JSON keeps exact text
    assert list(data["messages"][0]) == [
        "seq", "from", "received_at", "received_at_min", "received_at_max", "received_text",
        "first_seen_at", "code", "service", "message",
    ]  # fmt: skip


def test_search(db_url: str) -> None:
    out = run(db_url, "search", "CODE").output
    assert "G-771204" in out and "Votre code" in out
    data = json.loads(run(db_url, "search", "code", "--number", "+33612345678", "--json").output)
    assert [h["from"] for h in data] == ["Bank"]
    assert run(db_url, "search", "nothing-like-this").output.strip() == "no archived message matches"
    assert len(json.loads(run(db_url, "search", "message", "--limit", "3", "--json").output)) == 3


def test_export_stdout_oldest_first_neutralised(db_url: str) -> None:
    out = run(db_url, "export", "+447700900121").stdout_bytes.decode("utf-8")
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert rows[0][:4] == ["number", "country", "from", "received_at"]
    assert [r[7] for r in rows[1:4]] == ["message 1", "message 2", "message 3"]
    evil = next(r for r in rows if r[2] == "Evil")
    assert evil[7] == HOSTILE  # does not start with a formula character
    raw = run(db_url, "export", "447700900121", "-o", "-", "--raw").stdout_bytes.decode("utf-8")
    assert raw == out


def test_export_file_jsonl_since_until(db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    run(db_url, "export", "447700900121", "-o", str(target), "--format", "jsonl",
        "--since", "2026-11-01T00:05", "--until", "2026-11-01T00:07:00Z")  # fmt: skip
    bodies = [json.loads(line)["message"] for line in target.read_text("utf-8").splitlines()]
    assert bodies == ["message 5", "message 6", "message 7"]
    assert not (tmp_path / "out.jsonl.tmp").exists()
    run(db_url, "export", "447700900121", "-o", str(target), "--format", "jsonl", "--until", "2026-10-31")
    assert target.read_text("utf-8") == ""  # a bare date includes that whole day, and nothing here
    run(db_url, "export", "447700900121", "-o", str(target), "--format", "jsonl", "--since", "20261101", "--until", "2026-11-01")
    # --until DATE includes all of that day; the two rows without a parsed time are left out
    assert len(target.read_text("utf-8").splitlines()) == 14


def test_export_all(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "new" / "dir"
    run(db_url, "export", "--all", "-o", str(folder))
    assert sorted(p.name for p in folder.iterdir()) == ["france_33612345678.csv", "united-kingdom_447700900121.csv"]
    text = (folder / "france_33612345678.csv").read_bytes().decode("utf-8")
    assert "Votre code: 1234" in text and text.endswith("\r\n")


def test_help_texts_have_examples() -> None:
    for name in ("countries", "numbers", "messages", "search", "export"):
        out = CliRunner().invoke(cli, [name, "--help"]).output
        assert "Example:" in out, name


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("messages", "hello"), "is not a phone number; write it as +447700900121"),
        (("messages", "+447700900000"), "+447700900000 is not in the archive"),
        (("numbers", "--country", "atlantis"), "known countries: france, united-kingdom"),
        (("export", "447700900121", "--since", "yesterday"), "'--since'"),
        (("export", "--all"), "give a directory with -o DIR"),
        (("export", "--all", "447700900121", "-o", "x"), "either NUMBER or --all"),
        (("messages", "447700900121", "--page", "0"), "--page"),
        (("search", "x", "--number", "12"), "is not a phone number"),
        (("export", "447700900121", "--since", "2026-11-02", "--until", "2026-11-01T12:00"), "later than --until"),
    ],
)
def test_errors_are_one_line(db_url: str, tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    line = one_error(crawler(db_url, *args, cwd=tmp_path))
    assert expected in line


def test_bad_since_names_forms(db_url: str, tmp_path: Path) -> None:
    line = one_error(crawler(db_url, "export", "447700900121", "--since", "2026-13-45", cwd=tmp_path))
    assert "--since" in line and "2026-11-01T12:00" in line


def test_failed_export_leaves_no_file(db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    proc = crawler(db_url, "export", "+447700900000", "-o", str(target), cwd=tmp_path)
    one_error(proc)
    assert list(tmp_path.glob("out.csv*")) == []


def test_export_subprocess_stdout(db_url: str, tmp_path: Path) -> None:
    proc = crawler(db_url, "export", "33612345678", "--format", "jsonl", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["message"] == "Votre code: 1234"
