"""`crawler wait NUMBER`: block until a new matching SMS reaches that inbox; print it and its code."""

from __future__ import annotations

import click

from crawler.cli import AppContext, check_number, pass_app, with_archive
from crawler.cli.read import clean, echo_json, shown_time
from crawler.export import iso
from crawler.wait import Match, wait_for


@click.command("wait")
@click.argument("number", callback=check_number)
@click.option("--sender", metavar="S", help="Only messages whose sender contains S (case-insensitive).")
@click.option("--contains", metavar="TEXT", help="Only messages whose text contains TEXT (case-insensitive).")
@click.option("--timeout", "seconds", type=click.FloatRange(min=0, min_open=True), default=300.0, show_default=True, metavar="SECONDS", help="Give up (exit 1) after this long.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=5.0, show_default=True, metavar="SECONDS", help="Seconds between polls (never faster than http.requests_per_second allows).")
@click.option("--json", "as_json", is_flag=True, help="Print the message as one JSON object.")
@pass_app
def wait_command(app: AppContext, number: str, sender: str | None, contains: str | None, seconds: float, interval: float, as_json: bool) -> None:
    """Poll NUMBER's live inbox until a NEW message arrives that matches; print it.

    The last line printed is the one-time code alone (when the message has one), so
    `crawler wait ... | tail -n 1` gives the code. Exit 0 when a message came, 1 on
    timeout. The number must be in the archive (`crawler crawl --country SLUG` first).

    Example: crawler wait +447700900121 --sender whatsapp --timeout 120
    """
    config = app.config

    def problem(text: str) -> None:
        click.echo(f"warning: {clean(text)}; still waiting", err=True)

    got = with_archive(
        config.database.url,
        lambda engines: wait_for(
            engines, config, number, Match(sender, contains), seconds=seconds, interval=interval, on_problem=problem
        ),
    )
    m = got.message
    if as_json:
        echo_json({"number": got.number, "country": got.country, "from": m.sender, "received_at": iso(m.received_at),
                   "received_text": m.received_text, "message": m.body, "code": m.code, "service": m.service})  # fmt: skip
        return
    when = shown_time(m.received_at) or clean(m.received_text)
    click.echo(f"+{got.number} from {clean(m.sender)} at {when}:")
    click.echo(f"    {clean(m.body)}")
    if m.code:
        click.echo(clean(m.code))
