"""The aiohttp app of the simulator: site pages, fault injection, control endpoints, runners.

Faults are decided per request in one middleware, with the simulator's own fault RNG, and
never touch `/__*` control endpoints. Content faults (junk rows, SSE blanks, 404-with-content)
are passed to the page handlers through the request.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from aiohttp import web

from crawler.sim import render
from crawler.sim.clock import http_date, iso
from crawler.sim.options import SimOptions
from crawler.sim.simulator import LogEntry, Simulator

__all__ = ["SimOptions", "Simulator", "build_app", "running_simulator", "serve"]

SIM: web.AppKey[Simulator] = web.AppKey("simulator", Simulator)
# Per-request fault decisions handed from the middleware to the page handlers.
JUNK: web.RequestKey[bool] = web.RequestKey("junk", bool)
SSE_BLANK: web.RequestKey[bool] = web.RequestKey("sse_blank", bool)
CONTENT_404: web.RequestKey[bool] = web.RequestKey("content_404", bool)
APPLIED: web.RequestKey[list[str]] = web.RequestKey("applied", list)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
KINDS = {"home", "country", "inbox", "robots"}
HTML = "text/html"


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type=HTML, charset="utf-8")


def _page(request: web.Request) -> int:
    # SITE.md 6.7: bad values fall back to page 1 (Laravel's paginator does the same).
    try:
        return max(1, int(request.query.get("page", "1")))
    except ValueError:
        return 1


def _base(request: web.Request) -> str:
    sim = request.app[SIM]
    return (sim.options.public_url or f"{request.scheme}://{request.host}").rstrip("/")


def _applied(request: web.Request, name: str) -> None:
    if APPLIED not in request:
        request[APPLIED] = []
    request[APPLIED].append(name)


# ------------------------------------------------------------------------- site pages
async def home(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    return _html(render.home(sim.world, sim.options.generation == "redesign"))


async def country(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    c = sim.world.by_slug.get(request.match_info["slug"])
    if c is None:
        return _html(render.NOT_FOUND, 404)
    if sim.faults.is_gated(c.slug):
        _applied(request, "gated")
        return _html(render.gate_country(c))
    return _html(render.country(c, _page(request), sim.now(), _base(request),
                                sim.options.country_page_size, sim.options.quirks))


async def inbox(request: web.Request) -> web.Response:
    sim, m = request.app[SIM], request.match_info
    n = sim.world.by_digits.get(m["digits"])
    if n is None or n.country.slug != m["slug"] or str(n.sms_id) != m["sms_id"]:
        return _html(render.NOT_FOUND, 404)
    if sim.faults.is_gated(n.country.slug):
        _applied(request, "gated")
        return _html(render.gate_inbox(n))
    rng = sim.fault_rng
    junk = rng if request.get(JUNK) else None
    blank = rng if request.get(SSE_BLANK) else None
    for name, on in (("junk", junk), ("sse_blank", blank), ("404_content", request.get(CONTENT_404))):
        if on:
            _applied(request, name)
    text = render.inbox(n, _page(request), sim.now(), _base(request),
                        sim.options.inbox_page_size, junk=junk, blank=blank)
    return _html(text, 404 if request.get(CONTENT_404) else 200)


async def robots(request: web.Request) -> web.Response:
    return web.Response(text=render.ROBOTS, content_type="text/plain", charset="utf-8")


async def sign_in(request: web.Request) -> web.Response:
    return _html(render.sign_in(error=request.method == "POST"))


async def trailing_slash(request: web.Request) -> web.Response:
    # Laravel's stock .htaccess redirects "/x/" to "/x"; crawlers must follow and keep both.
    raise web.HTTPMovedPermanently(request.path.rstrip("/") or "/")


# ------------------------------------------------------------------------- faults
async def _stall(request: web.Request, resp: web.Response, seconds: float, *, hang: bool
                 ) -> web.StreamResponse:
    """Announce the whole body, send part of it, then hang (stall) or close (truncate)."""
    body = bytes(resp.body) if isinstance(resp.body, bytes | bytearray) else b""
    out = web.StreamResponse(status=resp.status, headers={"Content-Type": resp.content_type
                                                          + "; charset=utf-8"})
    out.content_length = len(body) + (0 if hang else 4096)
    await out.prepare(request)
    await out.write(body[: len(body) // 2])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (seconds if hang else 0)
    # Poll instead of one long sleep: aiohttp does not cancel handlers when clients leave.
    while loop.time() < deadline:
        t = request.transport
        if t is None or t.is_closing():
            break
        await asyncio.sleep(0.05)
    if request.transport is not None:
        request.transport.close()
    return out


async def _with_faults(request: web.Request, handler: Handler, sim: Simulator, kind: str
                       ) -> tuple[web.StreamResponse, int | str]:
    f, rng = sim.faults, sim.fault_rng

    def hit(rate: float) -> bool:
        return rate > 0 and rng.random() < rate

    if hit(f.rate_drop):
        _applied(request, "drop")
        if request.transport is not None:
            request.transport.abort()
        return web.Response(), "dropped"
    if (not f.challenge_paths or request.path.startswith(f.challenge_paths)) and hit(
            f.rate_challenge):
        _applied(request, "challenge")
        challenge = _html(render.CHALLENGE, 403)
        challenge.headers["cf-mitigated"] = "challenge"
        return challenge, 403
    if hit(f.rate_429):
        _applied(request, "429")
        limited = _html(render.error_page(429), 429)
        if f.retry_after > 0:
            limited.headers["Retry-After"] = str(f.retry_after)
        return limited, 429
    if hit(f.rate_5xx):
        status = rng.choice((500, 502, 503))
        _applied(request, "5xx")
        return _html(render.error_page(status), status), status
    if hit(f.rate_slow):
        _applied(request, "slow")
        await asyncio.sleep(f.slow_seconds)
    if kind == "inbox":
        request[JUNK] = hit(f.rate_junk)
        request[SSE_BLANK] = hit(f.rate_sse_blank)
        request[CONTENT_404] = hit(f.rate_404_content)
    resp = await handler(request)
    if isinstance(resp, web.Response) and resp.status == 200:
        if hit(f.rate_stall):
            _applied(request, "stall")
            return await _stall(request, resp, f.stall_seconds, hang=True), "stalled"
        if hit(f.rate_truncate):
            _applied(request, "truncate")
            return await _stall(request, resp, 0, hang=False), resp.status
    return resp, resp.status


@web.middleware
async def site_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    sim = request.app[SIM]
    if request.path.startswith("/__"):
        return await handler(request)
    name = request.match_info.route.name or ""
    kind = name if name in KINDS else "other"
    started = sim.now()
    sim.in_flight += 1
    sim.max_in_flight = max(sim.max_in_flight, sim.in_flight)
    status: int | str = 500
    try:
        resp, status = await _with_faults(request, handler, sim, kind)
        return resp
    except web.HTTPNotFound:
        status = 404
        return _html(render.NOT_FOUND, 404)
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        sim.in_flight -= 1
        client = request.headers.get("X-Crawler-Id") or request.headers.get("User-Agent") or ""
        applied = request.get(APPLIED)
        sim.record(LogEntry(request.path, kind, status, started, sim.clock.now(), client,
                            ",".join(applied) if applied else None))


async def _stamp(request: web.Request, response: web.StreamResponse) -> None:
    sim = request.app[SIM]
    response.headers["Date"] = http_date(sim.clock.now())
    response.headers["Server"] = "cloudflare"  # Cloudflare fronts the real site


# ------------------------------------------------------------------------- control
async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json() if request.can_read_body else {}
    except json.JSONDecodeError as exc:
        raise _bad(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _bad("expected a JSON object")
    return data


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


async def ctl_truth(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIM].truth())


async def ctl_requests(request: web.Request) -> web.Response:
    log = request.query.get("log", "") not in ("", "0", "false")
    return web.json_response(request.app[SIM].request_counts(log=log))


async def ctl_requests_reset(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    sim.reset_requests()
    return web.json_response(sim.request_counts())


async def ctl_clock(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    if request.method == "POST":
        data = await _json_body(request)
        try:
            sim.advance(float(data.get("advance", 0)))
        except (TypeError, ValueError) as exc:
            raise _bad(str(exc)) from None
    return web.json_response({"now": iso(sim.now())})


async def ctl_arrive(request: web.Request) -> web.Response:
    sim, data = request.app[SIM], await _json_body(request)
    try:
        added = sim.add_messages(str(data["number"]), int(data.get("count", 1)),
                                 float(data.get("repeat_ratio", 0.0)))
    except KeyError as exc:
        raise _bad(f"unknown number or missing field: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise _bad(str(exc)) from None
    return web.json_response({"now": iso(sim.now()), "number": data["number"], "messages": added})


async def ctl_faults(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    if request.method == "POST":
        data = await _json_body(request)
        try:
            if data.pop("reset", False):
                sim.set_faults(None)
            sim.set_faults(**data)
        except (TypeError, ValueError) as exc:
            raise _bad(str(exc)) from None
    return web.json_response(sim.faults.as_dict())


# ------------------------------------------------------------------------- app + runners
def build_app(sim: Simulator) -> web.Application:
    app = web.Application(middlewares=[site_middleware])
    app[SIM] = sim
    app.on_response_prepare.append(_stamp)
    r = app.router
    r.add_get("/", home, name="home")
    r.add_get("/robots.txt", robots, name="robots")
    r.add_get("/country/{slug}", country, name="country")
    r.add_get("/{slug}/phone/{digits}/sms/{sms_id}", inbox, name="inbox")
    r.add_route("*", "/sign-in", sign_in, name="sign_in")
    r.add_get("/__truth__", ctl_truth)
    r.add_get("/__requests__", ctl_requests)
    r.add_post("/__requests__/reset", ctl_requests_reset)
    r.add_route("*", "/__clock__", ctl_clock)
    r.add_post("/__arrive__", ctl_arrive)
    r.add_route("*", "/__faults__", ctl_faults)
    r.add_get("/{tail:.+}/", trailing_slash)
    return app


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@asynccontextmanager
async def running_simulator(options: SimOptions | None = None, host: str = "127.0.0.1",
                            port: int = 0) -> AsyncIterator[Simulator]:
    """Serve a fresh `Simulator` on host:port (0 = a free port); `sim.base_url` is set."""
    sim = Simulator(options)
    # A short shutdown timeout: stalled handlers must not hold a test suite for a minute.
    runner = web.AppRunner(build_app(sim), access_log=None, handle_signals=False,
                           shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
        sim.base_url = _url(host, runner.addresses[0][1])
        yield sim
    finally:
        await runner.cleanup()


def serve(options: SimOptions, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Run until SIGINT/SIGTERM (blocking). Prints the base URL once listening."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError):  # not on Windows event loops
                loop.add_signal_handler(sig, stop.set)
        async with running_simulator(options, host, port) as sim:
            print(f"Simulator listening on {sim.base_url} (seed {options.seed}); "
                  f"truth at {sim.base_url}/__truth__. Ctrl+C to stop.", flush=True)
            await stop.wait()
        print("Simulator stopped.", flush=True)

    asyncio.run(main())
