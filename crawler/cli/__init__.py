"""The `crawler` command line: a thin shell over plain functions.

Each command parses its options, calls one core coroutine and prints the result. This is
the only place where a `CrawlerError` becomes a one-line `Error: ...` and an exit status;
`--traceback` shows the full stack instead (for us, not for users).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

from crawler import __version__
from crawler.config import Config, load_config
from crawler.errors import CrawlerError

if TYPE_CHECKING:
    from crawler.storage.db import Engines

T = TypeVar("T")
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
INTERNAL_ERROR_EXIT = 70  # EX_SOFTWARE: a bug of ours, not a user mistake


@dataclass
class AppContext:
    """What the global options say; the config is loaded on first use."""

    config_path: str | None = None
    database_url: str | None = None
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path, database_url=self.database_url)
        return self._config


pass_app = click.make_pass_decorator(AppContext)


def check_number(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Click callback for NUMBER values: refuse a non-number before the archive is opened
    (or created), so bad input writes nothing. The value itself is passed on unchanged."""
    if value is not None:
        from crawler.storage.queries import parse_number

        parse_number(value)  # NumberFormatError: one "Error: ..." line from main()
    return value


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run one core coroutine to completion (uvloop when installed: faster event loop)."""
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return asyncio.run(coro)
    result: T = uvloop.run(coro)
    return result


def with_archive(url: str, work: Callable[[Engines], Awaitable[T]]) -> T:
    """Open (and migrate) the archive at `url`, run `work` on it, close it."""
    from crawler.storage.db import open_archive

    async def _run() -> T:
        async with open_archive(url) as engines:
            return await work(engines)

    return run_async(_run())


def _setup_logging(verbose: int, quiet: int, log_format: str) -> None:
    level = logging.WARNING - 10 * verbose + 10 * quiet
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        from crawler.logs import JsonFormatter

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(logging.DEBUG, min(logging.CRITICAL, level)))


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="crawler")
@click.option(
    "--config",
    "-c",
    "config_path",
    metavar="PATH",
    help="config.toml to use (default: $CRAWLER_CONFIG, else ./config.toml, else built-in defaults).",
)
@click.option(
    "--database",
    "database_url",
    metavar="URL",
    help="Database URL; overrides database.url and $CRAWLER_DATABASE_URL.",
)
@click.option("--traceback", is_flag=True, help="Show the full Python traceback on errors.")
@click.option("-v", "--verbose", count=True, help="More log output (repeat for debug).")
@click.option("-q", "--quiet", count=True, help="Less log output.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines for humans, or JSON lines for log collectors.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    database_url: str | None,
    traceback: bool,
    verbose: int,
    quiet: int,
    log_format: str,
) -> None:
    """Archive the public inboxes of temporary-SMS sites (smstome.com) into SQL.

    \b
    First run, offline:   crawler demo
    One pass:             crawler crawl
    Daemon:               crawler run
    """
    _setup_logging(verbose, quiet, log_format)
    ctx.obj = AppContext(config_path=config_path, database_url=database_url)


def _register() -> None:
    # Commands live in small modules next to what they drive; they import `cli` helpers
    # from here, so they are attached after the group exists.
    from crawler.cli.archive import crawl_command, demo_command, migrate_command
    from crawler.cli.copy import copy_command
    from crawler.cli.read import (
        countries_command,
        export_command,
        messages_command,
        numbers_command,
        search_command,
    )
    from crawler.cli.run import run_command, stats_command
    from crawler.cli.serve import serve_command
    from crawler.cli.wait import wait_command
    from crawler.sim.command import sim_command

    for command in (
        migrate_command,
        crawl_command,
        demo_command,
        run_command,
        stats_command,
        copy_command,
        countries_command,
        numbers_command,
        messages_command,
        search_command,
        export_command,
        serve_command,
        wait_command,
        sim_command,
    ):
        cli.add_command(command)
    from crawler.cli.bench import bench_command; cli.add_command(bench_command)  # noqa: E702, I001


_register()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: exit statuses and one-line errors (CONTRACT §2)."""
    args = sys.argv[1:] if argv is None else argv
    show_traceback = "--traceback" in args
    try:
        rv = cli.main(args=args, prog_name="crawler", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CrawlerError as exc:
        if show_traceback:
            raise
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:
        if show_traceback:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        click.echo(
            f"Error: internal error {type(exc).__name__}: {first} "
            "(a bug in crawler; run again with --traceback and report it)",
            err=True,
        )
        sys.exit(INTERNAL_ERROR_EXIT)
    sys.exit(rv if isinstance(rv, int) else 0)
