"""`crawler serve`: the local read API (CONTRACT §6) in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from contextlib import suppress

import click
from aiohttp import web

from crawler.api import create_app, is_loopback
from crawler.cli import AppContext, pass_app, run_async
from crawler.errors import ConfigError
from crawler.storage.db import open_archive


def check_bind(host: str, token: str) -> None:
    """Anyone who can reach a non-loopback address could read the archive: demand a token."""
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"refusing to serve on {host}, which is not a loopback address, without api.token; "
            "set api.token in config.toml (clients then send 'Authorization: Bearer <token>') "
            "or serve on 127.0.0.1"
        )


async def serve(database_url: str, host: str, port: int, token: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError):  # not on Windows event loops
            loop.add_signal_handler(sig, stop.set)
    async with open_archive(database_url) as engines:
        runner = web.AppRunner(create_app(engines, token=token), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            try:
                await site.start()
            except OSError as exc:
                raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
            bound = runner.addresses[0]
            shown = f"[{bound[0]}]" if ":" in str(bound[0]) else bound[0]
            auth = "bearer token required" if token else "no token"
            click.echo(f"Serving the archive read-only at http://{shown}:{bound[1]} ({auth}); Ctrl+C to stop.")
            await stop.wait()
        finally:
            await runner.cleanup()
    click.echo("Stopped.")


@click.command("serve")
@click.option("--host", metavar="H", help="Address to listen on (default api.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), metavar="P", help="Port (default api.port, 8787; 0 = any free port).")
@pass_app
def serve_command(app: AppContext, host: str | None, port: int | None) -> None:
    """Serve the archive over HTTP with the hosted smstome API's endpoints.

    /list_countries, /list_phone_numbers, /get_messages, /search_messages, /health,
    /metrics (Prometheus) and /openapi.json. Read-only. A non-loopback --host needs
    api.token; clients then send "Authorization: Bearer <token>".

    Example: crawler serve --port 8787 && curl 'http://127.0.0.1:8787/list_countries'
    """
    config = app.config
    host = host or config.api.host
    check_bind(host, config.api.token)
    run_async(serve(config.database.url, host, config.api.port if port is None else port, config.api.token))
