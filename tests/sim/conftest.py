"""Session-wide cache of simulation runs: each (scenario, link, options) runs once per test session.

Runs are deterministic in their physics (the step sizes do not depend on real time unless a speed is set),
so the tests of one scenario share one run per link.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.bench import load_scenario
from harness.virtual.links import LinkKind, WiringOptions
from harness.virtual.runner import SimOptions, SimResult, simulate
from tests.support.netns import require_netns

RunSim = Callable[..., SimResult]


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where cached runs write their plots, traces and captures."""
    return tmp_path_factory.mktemp("sim")


@pytest.fixture(scope="session")
def run_sim(sim_dir: Path) -> Iterator[RunSim]:
    """``run_sim(scenario, link, pcap=False, trace=False)``: the (cached) result of one run."""
    cache: dict[tuple[str, str, bool, bool], SimResult] = {}

    def run(scenario: str, link: str, *, pcap: bool = False, trace: bool = False) -> SimResult:
        key = (scenario, link, pcap, trace)
        if key not in cache:
            kind = LinkKind(link)
            if kind is LinkKind.VETH:
                require_netns()
            stem = sim_dir / f"{scenario}-{link}{'-pcap' if pcap else ''}{'-trace' if trace else ''}"
            options = SimOptions(
                link=kind,
                wiring=WiringOptions(pcap=stem.with_suffix(".pcapng") if pcap else None),
                trace=stem.with_suffix(".jsonl") if trace else None,
            )
            cache[key] = simulate(load_scenario(scenario), options)
        return cache[key]

    yield run
