"""`/openapi.json`: an OpenAPI 3.1 description of every route, written by hand (it is short)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from crawler.api import params as p


def _param(name: str, doc: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": doc, "schema": schema}


_TEXT = {"type": "string", "maxLength": p.MAX_TEXT}
_PAGE = {"type": "integer", "minimum": 1, "maximum": p.MAX_PAGE, "default": 1}
NUMBER = _param("number", "Phone number: +447700900121, 447700900121 or 44 7700 900121", _TEXT)
SMS_ID = _param("sms_id", "The site's inbox id, for a number the site recycled", {"type": "integer", "minimum": 1})
COUNTRY = _param("country", "Country slug from /list_countries", _TEXT)
ENVELOPE = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"enum": ["success", "error"]},
        "data": {"type": "object"},
        "error": {"type": "string", "description": "Names the parameter at fault"},
    },
}


def _get(summary: str, parameters: list[dict[str, Any]], errors: tuple[int, ...] = (400,)) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "success", "content": {"application/json": {"schema": ENVELOPE}}},
        "401": {"description": "missing or wrong bearer token (only when api.token is set)"},
    }
    for code in errors:
        responses[str(code)] = {"description": "invalid parameter", "content": {"application/json": {"schema": ENVELOPE}}}
    return {"get": {"summary": summary, "parameters": parameters, "responses": responses}}


SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "crawler read API",
        "version": "1",
        "description": "The hosted smstome API's endpoints served from the local archive: no credits, "
        "no rate limit, full history. Read-only. Envelope {status, data} or {status, error}.",
    },
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/list_countries": _get("Archived countries with number and message counts", [], ()),
        "/list_phone_numbers": _get(
            "Archived numbers, 20 a page, newest first; all countries when country is omitted",
            [COUNTRY, _param("page", "Page, 1-based; past the end gives an empty list", _PAGE)],
            (400, 404),
        ),
        "/get_messages": _get(
            "A number's messages, 10 a page, newest first",
            [{**NUMBER, "required": True}, SMS_ID, COUNTRY, _param("page", "Page, 1-based; past the end: empty list", _PAGE)],
            (400, 404),
        ),
        "/search_messages": _get(
            "Case-insensitive search of sender and body. With number: pages start_page.. of that "
            "inbox, as the hosted API scans them. Without: the whole archive (or one country) "
            "through the full-text index, newest first, 10 results a page.",
            [
                _param("query", "Text to find (case-insensitive substring)", {"type": "string", "maxLength": p.MAX_QUERY}, True),
                NUMBER, SMS_ID, COUNTRY,
                _param("start_page", "First page", _PAGE),
                _param("max_pages", "Pages to return", {"type": "integer", "minimum": 1, "maximum": p.MAX_PAGES_SCANNED, "default": 5}),
                _param("sender", "Sender contains this (case-insensitive)", _TEXT),
                _param("service", "Service equals this (case-insensitive), e.g. Google", _TEXT),
                _param("has_code", "Only messages with (true) or without (false) a one-time code", {"type": "boolean"}),
                _param("since", "received_at at or after this ISO-8601 time (UTC if no zone)", {"type": "string", "format": "date-time"}),
                _param("until", "received_at at or before this ISO-8601 time", {"type": "string", "format": "date-time"}),
            ],
            (400, 404),
        ),
        "/health": {"get": {"summary": "Liveness: the database answers (no token needed)", "responses": {"200": {"description": "ok"}, "503": {"description": "database unreachable"}}}},
        "/metrics": {"get": {"summary": "Prometheus text format: archive size, codes, crawl runs, API requests", "responses": {"200": {"description": "text/plain; version=1.0.0"}}}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
    },
}


async def handler(request: web.Request) -> web.Response:
    # Served bare, as OpenAPI tools expect, not inside the {status, data} envelope.
    from crawler.api.app import HEADERS, TOKEN, dumps

    spec = {**SPEC, "security": [{"bearer": []}]} if request.app[TOKEN] else SPEC
    return web.Response(text=dumps(spec), content_type="application/json", headers=HEADERS)
