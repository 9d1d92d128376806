"""The aiohttp application: envelope, errors, bearer token, request counting.

Every response is JSON in the hosted API's envelope (`{"status": "success", "data": ...}`
or `{"status": "error", "error": "..."}`), /metrics excepted. Stored text was written by
strangers, so it never reaches a client as HTML: `<`, `>` and `&` are escaped as \\u003c
etc. (still the same JSON string), and `nosniff` stops a browser from guessing otherwise.
An unexpected failure is logged with its traceback and answered with a generic 500.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from crawler.api.params import ApiError
from crawler.storage.db import Engines

log = logging.getLogger(__name__)

ENGINES = web.AppKey("engines", Engines)
REGISTRY = web.AppKey("registry", CollectorRegistry)
REQUESTS = web.AppKey("requests", Counter)
TOKEN = web.AppKey("token", str)
OPEN_PATHS = frozenset({"/health"})  # liveness probes need no token; it tells nothing
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def dumps(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=dumps(obj).encode("utf-8", "replace"),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers={**HEADERS, **(headers or {})},
    )


def success(data: Any) -> web.Response:
    return _json({"status": "success", "data": data})


def failure(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return _json({"status": "error", "error": message}, status, headers)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return failure(exc.status, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        extra = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        message = "no such endpoint; see /openapi.json" if exc.status == 404 else exc.reason
        return failure(exc.status, message, extra)
    except Exception:
        log.exception("internal error answering %s %s", request.method, request.path)
        return failure(500, "internal error; the server log has the details")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = request.app[TOKEN]
    if token and request.path not in OPEN_PATHS:
        given = request.headers.get("Authorization", "")
        # Constant time over the whole header: a timing side channel must not leak the token.
        if not hmac.compare_digest(given.encode("utf-8", "replace"), f"Bearer {token}".encode()):
            return failure(401, "Authorization: a valid 'Bearer <api.token>' header is required",
                           {"WWW-Authenticate": 'Bearer realm="crawler"'})  # fmt: skip
    return await handler(request)


@web.middleware
async def count_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    resource = request.match_info.route.resource
    # Route templates, never raw paths: a scanner must not create unbounded label values.
    route = resource.canonical if resource is not None else "unmatched"
    request.app[REQUESTS].labels(route=route, status=str(response.status)).inc()
    return response


def create_app(engines: Engines, *, token: str = "") -> web.Application:
    """The read API over `engines` (reader only); `token` non-empty requires a bearer token."""
    from crawler.api import metrics, openapi, routes

    app = web.Application(middlewares=[errors_middleware, count_middleware, auth_middleware])
    app[ENGINES] = engines
    app[TOKEN] = token
    registry = CollectorRegistry(auto_describe=True)
    app[REGISTRY] = registry
    app[REQUESTS] = Counter(
        "crawler_api_requests", "API requests answered, by route and status", ["route", "status"], registry=registry
    )
    metrics.install(app, registry)
    routes.install(app)
    app.router.add_get("/openapi.json", openapi.handler)
    return app
