"""Shared fixtures: a real simulator on 127.0.0.1 and a real SQLite archive file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crawler.sim import SimOptions, Simulator, running_simulator

from .helpers import throwaway_postgres


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "archive.db"


@pytest.fixture
def db_url(db_path: Path) -> str:
    return f"sqlite+aiosqlite:///{db_path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def archive_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The same test on a SQLite file and on a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'archive.db'}"
        return
    async with throwaway_postgres() as url:
        yield url


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with running_simulator(SimOptions(seed=11, countries=3, numbers_per_country=8, frozen=True)) as s:
        yield s


