"""Markup helpers shared by the site parsers: text extraction, URL resolution, paging.

Pure functions over selectolax (Lexbor) nodes; nothing here knows which site it reads.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.sites.base import PageKind, Pagination

# Hosts whose links are rewritten: onto https when we read the site itself, onto the
# page's own origin when we read a mirror or the local simulator (which may still carry
# absolute links to the real site, and following those would leave the mirror).
SITE_HOSTS = frozenset({"smstome.com", "www.smstome.com"})

_INVISIBLE_PARENTS = frozenset({"script", "style", "template"})
_DIGITS = re.compile(r"[0-9]+")


def parse_document(body: bytes) -> LexborHTMLParser:
    # encoding=True only changes anything when a BOM or <meta charset> names another
    # encoding; undeclared bytes stay UTF-8 and invalid sequences become U+FFFD.
    # This is the ONE place odd bytes are normalised (tests/test_hostile.py): the HTML5
    # tree builder drops NUL from text (and reads &#0; as U+FFFD), so no NUL reaches the
    # archive (PostgreSQL text cannot hold one); other controls are kept as shown.
    return LexborHTMLParser(body, encoding=True)


def squash(text: str) -> str:
    """Collapse whitespace runs to one space, for labels (never for message bodies)."""
    return " ".join(text.split())


def cell_text(node: LexborNode) -> str:
    """The text of `node`, with element boundaries (and each <br>) read as one space.

    Comments (Cloudflare's <!--sse--> markers) are not boundaries, so text split by them
    is rejoined exactly. Inside a run of text nothing is touched: bidi, zero-width and
    repeated spaces survive, because the archive keeps a message as the site showed it.
    """
    only = node.child
    if only is not None and only.next is None and only.is_text_node and node.tag not in _INVISIBLE_PARENTS:
        return (only.text_content or "").strip()  # the common cell: one run of text
    segments: list[str] = []
    current: list[str] = []
    last_parent = -1
    for child in node.traverse(include_text=True):
        if child.is_text_node:
            parent = child.parent
            if parent is None or parent.tag in _INVISIBLE_PARENTS:
                continue
            if parent.mem_id != last_parent and current:
                segments.append("".join(current))
                current = []
            last_parent = parent.mem_id
            current.append(child.text_content or "")
        elif child.is_element_node:
            if current:
                segments.append("".join(current))
                current = []
            last_parent = -1
    if current:
        segments.append("".join(current))
    return " ".join(stripped for seg in segments if (stripped := seg.strip()))


# Login wall (SITE.md §3, E2/E3) and Cloudflare markers, matched lower-cased.
GATE_MARKERS = (
    "please log in to view messages for this number",
    "require a free account to access",
    "required to register or log in",
    "please login",
)
CHALLENGE_TITLES = ("just a moment", "attention required")
CHALLENGE_MARKERS = ("checking your browser", "you have been blocked", "attention required")


def visible_text(tree: LexborHTMLParser) -> str:
    """Lower-cased, whitespace-collapsed body text with scripts and styles removed.

    Mutates `tree` (strips script/style), so call it after extraction is done.
    """
    tree.strip_tags(["script", "style", "template"])
    body = tree.body
    return squash(body.text(deep=True)).lower() if body is not None else ""


def title_text(tree: LexborHTMLParser) -> str:
    node = tree.css_first("title")
    return squash(node.text()).lower() if node is not None else ""


def absolute_url(href: str | None, page_url: str) -> str | None:
    """Resolve `href` against the page; None for anchors, scripts and unusable values.

    Links onto smstome.com are forced to https, or moved onto the page's origin when the
    page itself came from elsewhere (a mirror, the simulator on 127.0.0.1).
    """
    if href is None:
        return None
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    try:
        parts = urlsplit(href)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            # Relative (or odd): resolve. An absolute http(s) URL with a host resolves to
            # itself, so the common case skips urljoin's second parse.
            parts = urlsplit(urljoin(page_url, href))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None
        scheme, netloc = parts.scheme, parts.netloc
        if (parts.hostname or "") in SITE_HOSTS:
            page = urlsplit(page_url)
            if page.netloc and (page.hostname or "") not in SITE_HOSTS:
                scheme, netloc = page.scheme, page.netloc
            else:
                scheme = "https"
        return urlunsplit((scheme, netloc, parts.path, parts.query, ""))
    except ValueError:  # e.g. a malformed IPv6 host or port in either URL
        return None


def page_param(url: str) -> int | None:
    """The `page` query parameter as a positive int, None when absent or unusable."""
    if "page=" not in url and "%" not in url:
        return None  # no `page` parameter can be in there (the common page-1 URL)
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    if "%" in query or "+" in query:
        values = parse_qs(query).get("page")
        value = values[0] if values else None
    else:  # nothing to unquote: parse_qs's first non-blank `page` value, without its cost
        value = next((v for n, sep, v in (p.partition("=") for p in query.split("&")) if sep and v and n == "page"), None)
    if not value:
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        return None
    return int(value)


def with_page(url: str, page: int) -> str:
    """`url` with its `page` parameter set to `page` (removed for page 1, like the site)."""
    if page < 1:
        raise ValueError(f"page must be a whole number >= 1, got {page}")
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    if page > 1:
        query.append(("page", str(page)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _int_text(node: LexborNode) -> int | None:
    text = node.text(deep=True).strip()
    return int(text) if text.isascii() and text.isdigit() else None


def pagination(tree: LexborHTMLParser, url: str, *, rows: int) -> Pagination:
    """Read the paging widget and apply the stop rules of SITE.md §2.2.

    Rule (c) (fewer than 20 cards) is left to the caller on purpose: the widget is the
    better witness, and §6.8 says 20 per page is not guaranteed.
    """
    from_url = page_param(url) or 1  # ?page=0 / ?page=abc: the site falls back to page 1
    widget = tree.css_first(".pagination") or tree.css_first('nav[aria-label*="agination"]')
    if widget is None:
        return Pagination(current=from_url, last=None, next_url=None)
    current = from_url
    for node in widget.css('.active, [aria-current="page"]'):
        if (number := _int_text(node)) is not None:
            current = number
            break
    numbers = [n for node in widget.css("a, span, li") if (n := _int_text(node)) is not None]
    last = max(numbers) if numbers else None
    next_url = None
    if rows > 0 and (last is None or current < last):  # rules (d) and (b)
        for link in widget.css("a"):
            href = link.attributes.get("href")
            # Resolving keeps an href's query, so its own `page` must already match: only
            # that link is resolved (resolving every link cost about 3% of an inbox parse).
            if href is None or page_param(href.strip()) != current + 1:
                continue
            target = absolute_url(href, url)
            if target is not None and page_param(target) == current + 1:  # rule (a)
                next_url = target
                break
    return Pagination(current=current, last=last, next_url=next_url)


def access_kind(tree: LexborHTMLParser) -> PageKind | None:
    """GATED / CHALLENGED from the page's visible text (SITE.md §3), else None. Mutates `tree`.

    Callers remove message rows first: an SMS saying "please login" must not gate its page.
    """
    text = visible_text(tree)
    if any(marker in text for marker in GATE_MARKERS):
        return PageKind.GATED
    title = title_text(tree)
    if any(marker in title for marker in CHALLENGE_TITLES) or any(
        marker in text for marker in CHALLENGE_MARKERS
    ):
        return PageKind.CHALLENGED
    return None


def is_sign_in(tree: LexborHTMLParser) -> bool:
    """A page whose job is to log in: a form with a password field (SITE.md §3, "the sign-in
    form"). Only asked about pages that carry none of the content that was requested (a
    login wall that *redirects* to /sign-in instead of showing its marker text), so a
    login box in a page's header never turns a real page into a gated one."""
    return tree.css_first('form input[type="password" i]') is not None
