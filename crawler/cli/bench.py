"""`crawler bench`: measure the crawler on the simulator and print the figures."""

from __future__ import annotations

import json

import click

from crawler.bench.runner import BenchOptions, format_table, run_bench
from crawler.bench.scenarios import SIZES
from crawler.cli import AppContext, pass_app
from crawler.storage.db import create_engines


@click.command("bench")
@click.option("--size", type=click.Choice(list(SIZES)), default="medium", show_default=True,
              help="Preset: small (seconds), medium (a minute), large (100,000 inbox pages).")
@click.option("--countries", type=int, help="Countries of the simulated site (overrides --size).")
@click.option("--numbers", type=int, help="Numbers per country (overrides --size).")
@click.option("--messages", type=int, help="Messages per inbox (overrides --size).")
@click.option("--archive-rows", type=int, help="Messages in the archive for the query and export figures.")
@click.option("--storage-rows", type=int, help="Rows offered to the write path for the storage figure.")
@click.option("--parser-pages", type=int, help="Inbox pages for the parser figure.")
@click.option("--concurrency", type=int, help="Requests in flight during the crawl (default 8).")
@click.option("--baseline", is_flag=True, help="Also run a requests + BeautifulSoup crawl and print ratios to it.")
@click.option("--scrapy", is_flag=True, help="Also run a Scrapy spider + sqlite3 pipeline and print ratios to it.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@pass_app
def bench_command(
    app: AppContext, size: str, countries: int | None, numbers: int | None, messages: int | None,
    archive_rows: int | None, storage_rows: int | None, parser_pages: int | None,
    concurrency: int | None, baseline: bool, scrapy: bool, as_json: bool,
) -> None:  # fmt: skip
    """Benchmark: crawl a simulated site at full speed, then the parts alone.

    Starts `crawler sim` in its own process (frozen clock, no faults), crawls it into a
    fresh database in a child process (pages/s, messages/s, CPU ms per page, peak RSS),
    crawls it again (requests per inbox, per new message), then measures the parser, the
    write path, export and the get_messages query on a large archive. The global
    --database URL (e.g. PostgreSQL) must name an empty archive; it is emptied again after.

    Example: crawler bench --size small --baseline --scrapy
    """
    scenario = SIZES[size].replace(
        countries=countries, numbers_per_country=numbers, messages_per_number=messages,
        archive_rows=archive_rows, storage_rows=storage_rows, parser_pages=parser_pages,
        concurrency=concurrency,
    )  # fmt: skip
    if archive_rows is not None and SIZES[size].export_rows > archive_rows:
        scenario = scenario.replace(export_rows=archive_rows)
    try:
        scenario.check()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if baseline:
        try:
            import bs4  # noqa: F401
            import requests  # noqa: F401
        except ImportError:
            raise click.UsageError(
                "--baseline needs requests and beautifulsoup4: pip install 'crawler[bench]'"
            ) from None
    if scrapy:
        try:
            import scrapy as _scrapy  # noqa: F401
        except ImportError:
            raise click.UsageError("--scrapy needs Scrapy: pip install 'crawler[scrapy]'") from None
    url = app.database_url
    if url is not None:
        create_engines(url)  # a bad URL is one clear line before anything starts
    progress = (lambda msg: None) if as_json else (lambda msg: click.echo(f"... {msg}", err=True))
    try:
        results = run_bench(BenchOptions(scenario, url, baseline, scrapy), progress)
    except (RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(results, indent=2) if as_json else format_table(results))
