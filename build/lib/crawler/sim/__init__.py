"""A local, seeded stand-in for smstome.com (CONTRACT.md section 7).

Tests, `crawler demo` and `crawler bench` run it in-process::

    async with running_simulator(SimOptions(seed=3, frozen=True)) as sim:
        ...  # crawl sim.base_url, then compare with sim.truth()
"""

from crawler.sim.options import Faults, SimOptions
from crawler.sim.relative import relative
from crawler.sim.server import build_app, running_simulator, serve
from crawler.sim.simulator import Simulator

__all__ = ["Faults", "SimOptions", "Simulator", "build_app", "relative", "running_simulator",
           "serve"]
