"""`crawler crawl` as a user runs it: summary, exit statuses, the login wall."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from crawler.sim import SimOptions, running_simulator

from .helpers import spawn_crawler

CONFIG = "[http]\nrequests_per_second = 0\nconcurrency = 4\n"


async def _crawl(tmp_path: Path, base: str, *args: str) -> tuple[int, str, str]:
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    proc = await spawn_crawler(
        "--config", str(cfg), "--database", f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
        "crawl", "--base-url", base, "--no-progress", *args,
    )  # fmt: skip
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_gated_country_is_reported_and_stores_nothing(tmp_path: Path) -> None:
    async with running_simulator(SimOptions(seed=51, countries=2, numbers_per_country=4, frozen=True)) as sim:
        assert sim.base_url
        walled, open_one = (c["slug"] for c in sim.truth()["countries"])
        sim.set_faults(gated=(walled,))
        code, out, err = await _crawl(tmp_path, sim.base_url)
        assert code == 0, err
        assert "gated pages   1" in out and f"/country/{walled}" in out
        con = sqlite3.connect(tmp_path / "a.db")
        by_country = dict(con.execute("SELECT country, COUNT(*) FROM message_history GROUP BY country").fetchall())
        status = dict(con.execute("SELECT slug, status FROM countries").fetchall())
        con.close()
        assert walled not in by_country and by_country[open_one] > 0
        assert status[walled] == "gated"

        code, out, err = await _crawl(tmp_path, sim.base_url, "--country", walled)
    assert code == 3
    assert err.strip().startswith("Error: nothing could be read") and "http.cookies_file" in err
    assert err.strip().count("\n") == 0


async def test_unknown_country_is_an_error_in_the_summary(tmp_path: Path) -> None:
    async with running_simulator(SimOptions(seed=52, countries=1, numbers_per_country=2, frozen=True)) as sim:
        assert sim.base_url
        code, out, err = await _crawl(tmp_path, sim.base_url, "--country", "atlantis")
    assert code == 1  # a user mistake, not an unreadable site
    assert "'atlantis' is not on the site's home page" in out
    assert err.startswith("Error: country atlantis is not on the site's home page; it lists: united-kingdom")
