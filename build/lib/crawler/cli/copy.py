"""`crawler copy --to URL`: move the archive to another database (outgrowing SQLite)."""

from __future__ import annotations

import sys
import time

import click

from crawler.cli import AppContext, pass_app, run_async
from crawler.config import mask_url
from crawler.storage.copy import CopyReport, copy_archive
from crawler.storage.db import open_archive


@click.command("copy")
@click.option("--to", "target_url", required=True, metavar="URL", help="Target database URL (created and migrated).")
@pass_app
def copy_command(app: AppContext, target_url: str) -> None:
    """Copy this archive into another database, e.g. SQLite -> PostgreSQL.

    Idempotent: running it again adds nothing, and an interrupted copy is completed by
    the next run. Stop `crawler run` on the source while copying.

    Example: crawler copy --to postgresql+asyncpg://crawler@db.example/smstome
    """
    source_url = app.config.database.url
    if source_url == target_url:
        raise click.BadParameter("the target is the source database", param_hint="--to")
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0 or done == total:
            last[0] = now
            end = "\n" if done == total or not sys.stderr.isatty() else ""
            click.echo(f"\rmessages {done}/{total}", err=True, nl=False)
            if end:
                click.echo("", err=True)

    async def go() -> CopyReport:
        async with open_archive(source_url) as source, open_archive(target_url) as target:
            return await copy_archive(source, target, progress)

    report = run_async(go())
    click.echo(
        f"copied to {mask_url(target_url)}: {report.countries} countries, {report.numbers} numbers, "
        f"{report.messages_read} messages read, {report.messages_added} new in the target"
    )
