"""Codes and services end to end: filled on insert by a crawl, back-filled by migration 0002."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command

from crawler.crawl import crawl_pass
from crawler.extract import detect_service, extract_code
from crawler.sim import Simulator
from crawler.storage import queries as q
from crawler.storage.db import open_archive

from .helpers import make_config, run_alembic


async def test_crawl_fills_code_and_service(sim: Simulator, db_url: str, db_path: Path) -> None:
    assert sim.base_url is not None
    async with open_archive(db_url) as engines:
        await crawl_pass(engines, make_config(sim.base_url, db_url))
    con = sqlite3.connect(db_path)
    rows = con.execute("SELECT sender, message, code, service FROM message_history").fetchall()
    con.close()
    assert len(rows) > 100
    # Every row holds exactly what extraction says, computed at insert time.
    assert all((code, service) == (extract_code(body, sender), detect_service(sender, body))
               for sender, body, code, service in rows)  # fmt: skip
    with_code = [r for r in rows if r[2] is not None]
    assert len(with_code) > len(rows) / 2  # the simulator's bodies are mostly OTPs
    google = [r for r in rows if "G-" in r[1] and "Google verification" in r[1]]
    assert google and all(r[2] is not None and r[2].isdigit() and r[3] is not None for r in google)


async def test_migration_backfills_codes_and_indexes_old_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    await run_alembic(url, lambda cfg: command.upgrade(cfg, "0001"))
    bodies = [
        ("Google", "G-771204 is your Google verification code"),
        ("WhatsApp", "Your WhatsApp code: 123-456"),
        ("Shop", "Your order 5555 has shipped"),
    ] + [("Acme", f"Filler message {i}") for i in range(4500)]  # more than one backfill batch
    t = "2026-11-01T12:00:00+00:00"
    con = sqlite3.connect(path)
    with con:
        con.execute("INSERT INTO countries VALUES (1, 'united-kingdom', 'United Kingdom', '44', 'u', NULL, 'active', ?, ?)", (t, t))
        con.execute("INSERT INTO numbers (id, number, country_id, sms_id, inbox_url, status, first_seen_at, last_seen_at, "
                    "walk_complete, history_truncated, message_count, top_seq, failures) "
                    "VALUES (1, '447700900121', 1, 1, 'u', 'active', ?, ?, 1, 0, ?, ?, 0)", (t, t, len(bodies), len(bodies)))  # fmt: skip
        con.executemany(
            "INSERT INTO messages (number_id, seq, sender, body, body_hash, received_text, fetched_at, first_seen_at, "
            "code, service, gap_before) VALUES (1, ?, ?, ?, 'h', 'now', ?, ?, NULL, NULL, 0)",
            [(i + 1, s, b, t, t) for i, (s, b) in enumerate(reversed(bodies))],
        )
    con.close()
    async with open_archive(url) as engines:  # migrates 0001 -> head
        hits = await q.search(engines, "verification")
        assert [h.message.code for h in hits] == ["771204"]
    con = sqlite3.connect(path)
    got = {body: (code, service) for body, code, service in con.execute("SELECT message, code, service FROM message_history")}
    fts_rows = con.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'ill'").fetchone()[0]
    con.close()
    assert got["G-771204 is your Google verification code"] == ("771204", "Google")
    assert got["Your WhatsApp code: 123-456"] == ("123456", "WhatsApp")
    assert got["Your order 5555 has shipped"] == (None, None)
    assert fts_rows == 4500
