"""The simulator in a separate process (`python -m crawler sim`), as a context manager.

Frozen clock, no arrivals, no faults: every pass sees the same site, so a repeat pass must
cost exactly one request per inbox.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from crawler.bench.scenarios import Scenario

START_TIMEOUT = 300.0  # a large world takes a while to generate


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def get_json(url: str, *, post: bool = False, timeout: float = 30.0) -> Any:
    req = urllib.request.Request(url, data=b"{}" if post else None, method="POST" if post else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


@dataclass
class SimProcess:
    base_url: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float | None:
        return cpu_seconds(self.pid)

    def requests(self) -> dict[str, Any]:
        counts: dict[str, Any] = get_json(f"{self.base_url}/__requests__")
        return counts

    def reset_requests(self) -> None:
        get_json(f"{self.base_url}/__requests__/reset", post=True)


def sim_command(scenario: Scenario, port: int) -> list[str]:
    return [
        sys.executable, "-m", "crawler", "sim", "--host", "127.0.0.1", "--port", str(port),
        "--seed", str(scenario.seed), "--countries", str(scenario.countries),
        "--numbers-per-country", str(scenario.numbers_per_country),
        "--messages-per-number", str(scenario.messages_per_number),
        "--arrivals-per-minute", "0", "--numbers-per-hour", "0", "--frozen",
        "--log-limit", "1",
    ]  # fmt: skip


@contextmanager
def simulator(scenario: Scenario) -> Iterator[SimProcess]:
    """Start the simulator, wait until it answers, stop it on exit (SIGTERM, then SIGKILL)."""
    port = free_port()
    proc = subprocess.Popen(
        sim_command(scenario, port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    sim = SimProcess(f"http://127.0.0.1:{port}", proc)
    try:
        _wait_ready(sim)
        yield sim
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _wait_ready(sim: SimProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if sim.process.poll() is not None:
            err = sim.process.stderr.read().decode(errors="replace") if sim.process.stderr else ""
            last = err.strip().splitlines()[-1] if err.strip() else f"exit status {sim.process.returncode}"
            raise RuntimeError(f"the simulator did not start: {last}")
        try:
            sim.requests()
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"the simulator did not answer within {START_TIMEOUT:.0f} s")
