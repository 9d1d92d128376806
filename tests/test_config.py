"""config.toml loading: the shipped file is the reference, and bad input is one clear line."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from crawler.config import Config, config_from_mapping, load_config
from crawler.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "config.toml"


def test_shipped_config_equals_builtin_defaults() -> None:
    shipped = load_config(str(SHIPPED), environ={})
    assert dataclasses.replace(shipped, source="x") == dataclasses.replace(Config(), source="x")


def test_shipped_config_has_every_key_commented() -> None:
    data = tomllib.loads(SHIPPED.read_text())
    text = SHIPPED.read_text().splitlines()
    for section_name in ("site", "database", "http", "crawl", "schedule", "api"):
        section = getattr(Config(), section_name)
        keys = {f.name for f in dataclasses.fields(section)}
        assert set(data[section_name]) == keys, section_name
        for key in keys:
            line = next(line for line in text if line.startswith((f"{key} ", f"{key}=")))
            assert "#" in line, f"{section_name}.{key} has no comment"


@pytest.mark.parametrize(
    ("doc", "needles"),
    [
        ({"http": {"concurrency": 0}}, ["http.concurrency", "0", "1 to 256"]),
        ({"http": {"concurrency": "4"}}, ["http.concurrency", "'4'", "whole number"]),
        ({"http": {"timeout": 3}}, ["unknown key http.timeout", "timeout_seconds"]),
        ({"htp": {}}, ["unknown section [htp]"]),
        ({"schedule": {"inbox_min_minutes": 300}}, ["schedule.inbox_min_minutes", "inbox_max_minutes"]),
        ({"database": {"url": "mysql://x"}}, ["database.url", "sqlite+aiosqlite"]),
        ({"site": {"countries": ["United Kingdom"]}}, ["site.countries", "lowercase"]),
        ({"http": {"obey_robots": "yes"}}, ["http.obey_robots", "true or false"]),
        ({"api": {"port": 70000}}, ["api.port", "65535"]),
    ],
)
def test_bad_values_name_file_key_value_and_what_is_allowed(doc: dict[str, object], needles: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_mapping(doc, "my.toml")
    text = str(err.value)
    assert text.startswith("my.toml")
    assert "\n" not in text
    for needle in needles:
        assert needle in text


def test_password_in_database_url_is_masked_in_errors() -> None:
    with pytest.raises(ConfigError) as err:
        config_from_mapping({"database": {"url": "mysql://u:hunter2@h/db"}}, "c.toml")
    assert "hunter2" not in str(err.value)


def test_fractional_minutes_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[schedule]\ninbox_min_minutes = 0.05\n[site]\nbase_url = "http://a.example"\n')
    cfg = load_config(
        str(path), environ={"CRAWLER_BASE_URL": "http://b.example"}, database_url="sqlite+aiosqlite:///x.db"
    )
    assert cfg.schedule.inbox_min_minutes == 0.05
    assert cfg.site.base_url == "http://b.example"
    assert cfg.database.url == "sqlite+aiosqlite:///x.db"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crawler", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_cli_reports_bad_config_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[http]\nconcurrency = -1\n")
    proc = _run("--config", str(bad), "countries", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith("Error: ") and "http.concurrency" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_missing_and_invalid_toml(tmp_path: Path) -> None:
    proc = _run("--config", str(tmp_path / "nope.toml"), "countries", cwd=tmp_path)
    assert proc.returncode == 1 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[http\n")
    proc = _run("--config", str(broken), "countries", cwd=tmp_path)
    assert proc.returncode == 1 and "not valid TOML" in proc.stderr


def test_cli_bad_database_urls(tmp_path: Path) -> None:
    proc = _run("--database", "sqlite+aiosqlite:////nonexistent-dir/x.db", "countries", cwd=tmp_path)
    assert proc.returncode == 1 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    proc = _run("--database", "oracle://x", "countries", cwd=tmp_path)
    assert proc.returncode == 1 and "database.url" in proc.stderr
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        proc = _run("--database", f"sqlite+aiosqlite:///{ro}/x.db", "countries", cwd=tmp_path)
    finally:
        ro.chmod(0o700)
    # root can write anywhere; only assert the one-line contract when the OS refuses us
    if proc.returncode != 0:
        assert proc.stderr.startswith("Error: ") and "Traceback" not in proc.stderr
