"""A tiny HTTP "front" on 127.0.0.1 between the crawler and the simulator.

It proxies every request to the simulator (forwarding the Host header, so the simulator's
absolute links point back at the front) unless `override(request)` answers it first. Tests
use it for what the simulator's own switches cannot do: redirects, huge pages, raw bytes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web

Override = Callable[[web.Request], Awaitable[web.StreamResponse | None]]
Rewrite = Callable[[web.Request, bytes], bytes]


async def _no_override(_: web.Request) -> web.StreamResponse | None:
    return None


@contextlib.asynccontextmanager
async def running_front(
    upstream: str, override: Override = _no_override, rewrite: Rewrite | None = None
) -> AsyncIterator[str]:
    """Serve the front; yields its base URL (`http://127.0.0.1:PORT`)."""
    session = aiohttp.ClientSession(auto_decompress=False)

    async def handle(request: web.Request) -> web.StreamResponse:
        answer = await override(request)
        if answer is not None:
            return answer
        async with session.get(
            upstream.rstrip("/") + request.path_qs, headers={"Host": request.host}, allow_redirects=False
        ) as r:
            body = await r.read()
            headers = {k: v for k, v in r.headers.items() if k in ("Content-Type", "Date", "Location", "Retry-After")}
        if rewrite is not None:
            body = rewrite(request, body)
        return web.Response(body=body, status=r.status, headers=headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    try:
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
        await session.close()
