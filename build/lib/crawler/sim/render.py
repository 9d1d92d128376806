"""HTML of the simulated site, shaped like the samples of SITE.md section 7.

Two generations: legacy (Milligram `.column`/`.numview`, `table.messagesTable`, absolute
hrefs) and redesign (`article.cp-phone-card`, `table.mp-table`, relative hrefs, masked
senders, abbreviated relative times). Every text is HTML-escaped; nothing the site's users
send can become markup.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from html import escape

from crawler.sim.relative import relative
from crawler.sim.world import BR, DAY, SSE, Country, Message, Number, World

NOT_FOUND = (
    "<!DOCTYPE html>\n<html><head><title>Not Found</title></head>"
    "<body><div>404 | Not Found</div></body></html>\n"
)
CHALLENGE = """<!DOCTYPE html>
<html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="refresh" content="390"></head>
<body><div class="main-wrapper" role="main"><div class="main-content">
<h1 class="zone-name-title h1">Checking your browser before accessing the site.</h1>
<h2 class="h2">Verifying you are human. This may take a few seconds.</h2>
<noscript>Enable JavaScript and cookies to continue</noscript>
</div></div></body></html>
"""
ROBOTS = "User-agent: *\nAllow: /\n"
_HEADER_ROW = "<tr><th>From</th><th>Received</th><th>Message</th></tr>"
_AD_ROW = '<tr><td colspan="3" class="ad-slot">Advertisement</td></tr>'


def _doc(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>{escape(title)} | SMSToMe</title></head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def pages_for(count: int, size: int) -> int:
    return max(1, -(-count // size))


def pagination(current: int, last: int, href: Callable[[int], str]) -> str:
    """Laravel-like widget: prev/next arrows, the current page as `a.active` with href "#",
    a window of numbers that always names the first and the last page. Past the end there is
    no active link (SITE.md 7.2/7.3)."""
    if last <= 1:
        return ""
    if last <= 9:
        shown = list(range(1, last + 1))
    else:
        mid = min(current, last)
        shown = sorted({1, 2, last - 1, last} | {p for p in range(mid - 2, mid + 3) if 1 <= p <= last})
    parts = []
    if current > 1:
        parts.append(f'<a href="{href(min(current - 1, last))}">&laquo;</a>')
    prev = 0
    for p in shown:
        if p > prev + 1:
            parts.append('<span class="dots">&hellip;</span>')
        if p == current:
            parts.append(f'<a href="#" class="active">{p}</a>')
        else:
            parts.append(f'<a href="{href(p)}">{p}</a>')
        prev = p
    if current < last:
        parts.append(f'<a href="{href(current + 1)}">&raquo;</a>')
    return '<div class="pagination">\n  ' + "\n  ".join(parts) + "\n</div>"


# ------------------------------------------------------------------------- home
def home(world: World, redesign: bool) -> str:
    if redesign:
        links = "\n".join(
            f'    <a class="cp-country" href="/country/{c.slug}"><img src="/static/flags/{c.flag}.svg" '
            f'alt=""> <span>{escape(c.name)}</span> <span class="cp-country__code">+{c.calling_code}</span></a>'
            for c in world.countries)
        first = world.countries[0]
        return _doc("Free SMS numbers", f"""<header class="cp-header"><a href="/">SMSToMe</a>
  <nav><a href="/country/{first.slug}">{escape(first.name)}</a> <a href="/sign-in">Sign in</a></nav></header>
<section class="container">
  <h1>Receive SMS Online</h1>
  <div class="cp-countries">
{links}
  </div>
</section>""")
    # Legacy: two columns of `li`, plus the duplicate nav link of SITE.md 7.1.
    items = [
        f'<li><a href="/country/{c.slug}"><img src="/static/flags/{c.flag}.svg" alt="">'
        f"{escape(c.name)}<small>+{c.calling_code}</small></a></li>"
        for c in world.countries]
    half = -(-len(items) // 2)
    cols = "\n".join(
        '      <div class="column fields">\n        <ul>\n          '
        + "\n          ".join(chunk) + "\n        </ul>\n      </div>"
        for chunk in (items[:half], items[half:]) if chunk)
    first = world.countries[0]
    return _doc("Receive SMS Online", f"""<nav class="navigation">
  <a href="/">Home</a>
  <a href="/country/{first.slug}">{escape(first.name)} numbers</a>
</nav>
<section class="container">
  <h1 class="title">Receive SMS Online</h1>
  <div class="row">
{cols}
  </div>
</section>""")


# ------------------------------------------------------------------------- country
def _added(n: Number, now: float, redesign: bool) -> str:
    return "Added " + relative(now - n.added_at, redesign=redesign)


def country(c: Country, page: int, now: float, base: str, size: int, quirks: bool) -> str:
    newest = c.numbers[::-1]
    last = pages_for(len(newest), size)
    chunk = newest[(page - 1) * size: page * size]
    if c.redesign:
        cards = "\n".join(_card_redesign(n, now) for n in chunk)
        widget = pagination(page, last, lambda p: f"/country/{c.slug}?page={p}")
        return _doc(f"{c.name} numbers", f"""<section class="container">
  <h1>{escape(c.name)} phone numbers</h1>
  <div class="cp-grid">
{cards}
  </div>
{widget}
</section>""")
    rows = []
    for i in range(0, len(chunk), 2):
        cards = "\n".join(_card_legacy(n, now, base, quirks) for n in chunk[i:i + 2])
        rows.append(f'    <div class="row">\n{cards}\n    </div>')
    widget = pagination(page, last, lambda p: f"{base}/country/{c.slug}?page={p}")
    body = "\n".join(rows)
    return _doc(f"{c.name} numbers", f"""<section class="container">
  <h1 class="title">{escape(c.name)} phone numbers</h1>
  <div class="column">
{body}
  </div>
{widget}
</section>""")


def _card_legacy(n: Number, now: float, base: str, quirks: bool) -> str:
    new = "<strong>New</strong> " if now - n.added_at < DAY else ""
    # Mostly absolute hrefs (E7/E8), a few relative ones as in the 7.2 sample.
    href = n.path if quirks and n.sms_id % 5 == 0 else base + n.path
    return f"""      <div class="column numview">
        <div class="row"><div><small>{escape(n.location)}</small></div></div>
        <div class="row">{new}<small>{_added(n, now, False)}</small></div>
        <div class="row"><a class="button button-outline button-small numbutton" href="{href}">+{n.digits}</a></div>
      </div>"""


def _card_redesign(n: Number, now: float) -> str:
    badge = '<span class="badge">NEW</span> ' if now - n.added_at < DAY else ""
    return f"""    <article class="cp-phone-card">
      <a class="cp-phone-card__number" href="{n.path}">+{n.digits}</a>
      <div class="cp-phone-card__meta">{badge}{_added(n, now, True)}</div>
      <a class="cp-phone-card__btn" href="{n.path}">View Messages</a>
    </article>"""


# ------------------------------------------------------------------------- inbox
def _body_html(m: Message) -> str:
    if m.flags & BR:
        spaces = [i for i, ch in enumerate(m.body) if ch == " "]
        if spaces:
            i = spaces[len(spaces) // 2]
            return escape(m.body[:i]) + "<br>" + escape(m.body[i + 1:])
    return escape(m.body)


def _row(m: Message, now: float, redesign: bool, blank: bool) -> str:
    received = relative(now - m.at, redesign=redesign)
    if blank:  # what Cloudflare SSE leaves for a flagged client: the cells, emptied
        return f"<tr><td></td><td>{received}</td><td></td></tr>"
    sender, body = escape(m.sender), _body_html(m)
    if m.flags & SSE:
        sender, body = f"<!--sse-->{sender}<!--/sse-->", f"<!--sse-->{body}<!--/sse-->"
    return f"<tr><td>{sender}</td><td>{received}</td><td>{body}</td></tr>"


def page_messages(n: Number, page: int, size: int) -> list[Message]:
    """Newest first; page 1 holds the newest `size` messages."""
    end = len(n.messages) - (page - 1) * size
    if end <= 0:
        return []
    return n.messages[max(0, end - size):end][::-1]


def inbox(n: Number, page: int, now: float, base: str, size: int,
          junk: random.Random | None = None, blank: random.Random | None = None) -> str:
    redesign = n.country.redesign
    msgs = page_messages(n, page, size)
    blanked: set[int] = set()
    if blank is not None and msgs:
        # SSE hides the flagged cells; on a hit also a random half, at least one row.
        blanked = {i for i, m in enumerate(msgs) if m.flags & SSE or blank.random() < 0.5}
        blanked.add(blank.randrange(len(msgs)))
    rows = [_row(m, now, redesign, i in blanked) for i, m in enumerate(msgs)]
    if junk is not None:
        _insert_junk(rows, junk)
    if not n.messages and page == 1 and not redesign:
        rows.append('<tr><td colspan="3" class="text-center">No messages received yet</td></tr>')
    tbody = "\n        ".join(rows)
    last = pages_for(len(n.messages), size)
    added = relative(now - n.added_at, redesign=redesign)
    meta = f"<p>Region: {escape(n.location)} &middot; Added: {added}</p>"
    if redesign:
        widget = pagination(page, last, lambda p: f"{n.path}?page={p}")
        return _doc(f"+{n.digits}", f"""<section class="container mp-container">
  <h1 class="mp-title">+{n.digits}</h1>
  {meta}
  <div class="mp-table-wrap">
    <table class="mp-table">
      <thead><tr><th>From</th><th>Received</th><th>Message</th></tr></thead>
      <tbody>
        {tbody}
      </tbody>
    </table>
  </div>
{widget}
</section>""")
    widget = pagination(page, last, lambda p: f"{base}{n.path}?page={p}")
    return _doc(f"+{n.digits}", f"""<section class="container">
  <h1 class="title">+{n.digits}</h1>
  {meta}
  <button type="button" class="button">Refresh</button>
  <table class="messagesTable">
    <thead><tr><th>From</th><th>Received</th><th>Message</th></tr></thead>
    <tbody>
        {tbody}
    </tbody>
  </table>
{widget}
</section>""")


def _insert_junk(rows: list[str], rng: random.Random) -> None:
    for junk_row in (_AD_ROW, _HEADER_ROW, _AD_ROW)[: rng.randint(1, 3)]:
        rows.insert(rng.randint(0, len(rows)), junk_row)


# ------------------------------------------------------------------------- special pages
def gate_country(c: Country) -> str:
    # Both marker families: E3 "Required To Register Or Log In", E2 "require a free account".
    return _doc(f"{c.name} numbers", f"""<section class="container">
  <h1>{escape(c.name)} phone numbers</h1>
  <div class="alert">Required To Register Or Log In. You require a free account to access
  the numbers of this country.</div>
  <a href="/sign-in">Sign in</a>
</section>""")


def gate_inbox(n: Number) -> str:
    return _doc(f"+{n.digits}", f"""<section class="container">
  <h1>+{n.digits}</h1>
  <div class="alert">Please log in to view messages for this number.</div>
  <a href="/sign-in">Sign in</a>
</section>""")


def sign_in(error: bool = False) -> str:
    err = '<div class="alert">These credentials do not match our records.</div>' if error else ""
    return _doc("Sign in", f"""<section class="container">
  <h1>Sign in</h1>{err}
  <form method="POST" action="/sign-in">
    <input type="hidden" name="_token" value="simulatortoken">
    <input type="hidden" name="csrf_v" value="MiArIDY=">
    <input type="email" name="email"> <input type="password" name="password">
    <label>What is 2 + 6?</label> <input type="text" name="captcha">
    <button type="submit">Sign in</button>
  </form>
</section>""")


def error_page(status: int) -> str:
    """Plain origin error pages for the 5xx fault (no site markup)."""
    reason = {500: "Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
              429: "Too Many Requests"}.get(status, "Error")
    return (f"<!DOCTYPE html>\n<html><head><title>{reason}</title></head>"
            f"<body><div>{status} | {reason}</div></body></html>\n")


