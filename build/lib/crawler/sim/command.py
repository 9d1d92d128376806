"""`crawler sim`: serve the simulated smstome.com on a local port until Ctrl+C."""

from __future__ import annotations

from typing import Any

import click

from crawler.sim.options import DEFAULT_START, GENERATIONS, Faults, SimOptions
from crawler.sim.server import serve
from crawler.sim.world import country_slugs

PROB = click.FloatRange(0.0, 1.0)
NONNEG = click.FloatRange(min=0.0)


def _slugs(values: tuple[str, ...]) -> tuple[str, ...]:
    # Accept both `--gated a --gated b` and `--gated a,b`.
    return tuple(s.strip() for v in values for s in v.split(",") if s.strip())


@click.command("sim", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (loopback by default: the simulator is for tests).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port; 0 picks a free one.")
@click.option("--seed", default=1, show_default=True, type=int,
              help="Seed of the world, the arrivals and the fault decisions.")
@click.option("--countries", default=4, show_default=True, type=click.IntRange(min=1),
              help="Number of countries (real slugs; more than 11 get -b, -c suffixes).")
@click.option("--generation", default="mixed", show_default=True, type=click.Choice(GENERATIONS),
              help="Markup generation: legacy, redesign, or mixed (alternating per country).")
@click.option("--numbers-per-country", default=25, show_default=True,
              type=click.IntRange(min=1), help="Numbers listed on each country's pages.")
@click.option("--messages-per-number", default=None, type=click.IntRange(min=0),
              help="Fixed inbox size; by default sizes vary from 0 to --max-messages.")
@click.option("--max-messages", default=35, show_default=True, type=click.IntRange(min=0),
              help="Largest varied inbox size.")
@click.option("--repeat-ratio", default=0.2, show_default=True, type=PROB,
              help="Share of messages repeating an earlier (sender, body) of the same inbox.")
@click.option("--arrivals-per-minute", default=6.0, show_default=True, type=NONNEG,
              help="New messages per minute, site-wide, to random numbers (0 = none).")
@click.option("--numbers-per-hour", default=0.0, show_default=True, type=NONNEG,
              help="New numbers appearing per hour, site-wide.")
@click.option("--start", default=DEFAULT_START, show_default=True,
              help="Initial simulator time (ISO 8601).")
@click.option("--real-clock", is_flag=True, help="Start at the current UTC time instead of --start.")
@click.option("--frozen", is_flag=True,
              help="Stop the clock; time moves only through POST /__clock__.")
@click.option("--country-page-size", default=20, show_default=True, type=click.IntRange(min=1),
              help="Numbers per country page.")
@click.option("--inbox-page-size", default=10, show_default=True, type=click.IntRange(min=1),
              help="Messages per inbox page.")
@click.option("--no-quirks", is_flag=True,
              help="Drop the markup quirks (<br> in bodies, <!--sse--> markers, relative hrefs).")
@click.option("--public-url", default=None,
              help="Base of absolute hrefs (default: the Host the request was sent to).")
@click.option("--log-limit", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="Request-log entries kept for GET /__requests__?log=1.")
@click.option("--rate-429", default=0.0, type=PROB, help="Probability of a 429 answer.")
@click.option("--retry-after", default=1, show_default=True, type=click.IntRange(min=0),
              help="Retry-After seconds on 429 (0 = omit the header).")
@click.option("--rate-5xx", default=0.0, type=PROB, help="Probability of a 500/502/503 answer.")
@click.option("--rate-slow", default=0.0, type=PROB, help="Probability of a delayed answer.")
@click.option("--slow-seconds", default=2.0, show_default=True, type=NONNEG,
              help="Delay of a slow answer.")
@click.option("--rate-drop", default=0.0, type=PROB,
              help="Probability of closing the connection without any answer.")
@click.option("--rate-stall", default=0.0, type=PROB,
              help="Probability of sending half a page and then hanging.")
@click.option("--stall-seconds", default=300.0, show_default=True, type=NONNEG,
              help="Longest hang of a stalled answer (it ends earlier if the client leaves).")
@click.option("--rate-truncate", default=0.0, type=PROB,
              help="Probability of a body shorter than its Content-Length.")
@click.option("--gated", multiple=True,
              help="Country slug behind the login wall (repeat, or comma-separate).")
@click.option("--gate-all", is_flag=True, help="Put every country behind the login wall.")
@click.option("--rate-challenge", default=0.0, type=PROB,
              help="Probability of a Cloudflare 'Just a moment...' page (403).")
@click.option("--challenge-path", multiple=True,
              help="Only paths starting with this prefix get challenges (repeatable).")
@click.option("--rate-junk", default=0.0, type=PROB,
              help="Probability of ad rows and stray header rows in an inbox table.")
@click.option("--rate-404-content", default=0.0, type=PROB,
              help="Probability of an inbox answered 404 with its full valid page.")
@click.option("--rate-sse-blank", default=0.0, type=PROB,
              help="Probability of inbox cells blanked as Cloudflare SSE does.")
def sim_command(host: str, port: int, seed: int, **kw: Any) -> None:
    """Serve a simulated smstome.com (both markup generations, arriving messages,
    switchable faults) with its ground truth at /__truth__.

    Control endpoints (JSON, never faulted): GET /__truth__, GET /__requests__[?log=1],
    POST /__requests__/reset, POST /__clock__ {"advance": s}, POST /__arrive__
    {"number", "count", "repeat_ratio"}, GET/POST /__faults__ {switch: value, ...}.

    Example:

    \b
        crawler sim --port 8080 --seed 7 --countries 6 --rate-429 0.05 --gated united-kingdom
        curl -s localhost:8080/__truth__ | head -c 300
        curl -s -XPOST localhost:8080/__clock__ -d '{"advance": 3600}'
    """
    gated = _slugs(kw.pop("gated"))
    known = set(country_slugs(kw["countries"]))
    for slug in gated:
        if slug not in known:
            raise click.BadParameter(f"unknown country slug {slug!r}; this world has: "
                                     f"{', '.join(sorted(known))}", param_hint="--gated")
    try:
        faults = Faults(
            rate_429=kw.pop("rate_429"), retry_after=kw.pop("retry_after"),
            rate_5xx=kw.pop("rate_5xx"), rate_slow=kw.pop("rate_slow"),
            slow_seconds=kw.pop("slow_seconds"), rate_drop=kw.pop("rate_drop"),
            rate_stall=kw.pop("rate_stall"), stall_seconds=kw.pop("stall_seconds"),
            rate_truncate=kw.pop("rate_truncate"), gated=gated, gate_all=kw.pop("gate_all"),
            rate_challenge=kw.pop("rate_challenge"),
            challenge_paths=tuple(kw.pop("challenge_path")), rate_junk=kw.pop("rate_junk"),
            rate_404_content=kw.pop("rate_404_content"), rate_sse_blank=kw.pop("rate_sse_blank"))
        options = SimOptions(seed=seed, quirks=not kw.pop("no_quirks"), faults=faults, **kw)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    serve(options, host, port)
