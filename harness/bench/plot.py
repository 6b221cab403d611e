"""Plot of a bench trace: state of charge, charge-port and outlet power, home load, grid state; on a DC charger
also the DC power and a panel with the charger's output voltage and current.

Owns :func:`plot`. matplotlib is imported lazily, and only its object-oriented Agg canvas is used (no
pyplot, no global backend switch), so importing the bench stays light and plotting works headless.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.bench.trace import Trace

__all__ = ["plot"]


def plot(trace: Trace, path: str | Path, *, title: str | None = None) -> Path:
    """Write a four-panel PNG of ``trace`` to ``path`` (five on a DC charger) and return the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = Path(path)
    samples = trace.samples
    hours = [s.t / 3600.0 for s in samples]
    dc = trace.meta.dc is not None
    fig = Figure(figsize=(11, 11 if dc else 9), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(5 if dc else 4, 1, sharex=True)
    ax_soc, ax_port, ax_home, ax_grid = axes[0], axes[1], axes[2], axes[-1]
    ax_soc.step(hours, [s.soc_pct for s in samples], where="post", color="tab:blue", label="truck SoC")
    ax_soc.axhline(trace.meta.reserve_pct, color="tab:red", linestyle="--", linewidth=1, label="reserve")
    if any(s.pw_wh is not None for s in samples) and trace.meta.pw_capacity_wh:
        cap = trace.meta.pw_capacity_wh
        ax_soc.step(
            hours,
            [100.0 * (s.pw_wh or 0.0) / cap for s in samples],
            where="post",
            color="tab:green",
            label="Powerwall SoC",
        )
    ax_soc.set_ylabel("SoC (%)")
    ax_soc.set_ylim(0, 100)
    ax_soc.legend(loc="upper right", fontsize="small")
    ax_port.step(
        hours,
        [s.port_w / 1000.0 for s in samples],
        where="post",
        color="tab:purple",
        label="charge port (+ charge, - discharge)",
    )
    ax_port.step(
        hours,
        [-s.outlet_w / 1000.0 for s in samples],
        where="post",
        color="tab:orange",
        label="outlets (out)",
    )
    if dc:
        ax_port.step(
            hours,
            [(s.dc.inlet_w if s.dc else 0.0) / 1000.0 for s in samples],
            where="post",
            color="tab:red",
            label="DC inlet (+ charge, - discharge)",
        )
        _dc_panel(axes[3], hours, trace)
    ax_port.axhline(0.0, color="black", linewidth=0.5)
    ax_port.set_ylabel("power (kW)")
    ax_port.legend(loc="upper right", fontsize="small")
    ax_home.step(hours, [s.home_load_w / 1000.0 for s in samples], where="post", color="tab:gray", label="home load")
    ax_home.step(
        hours,
        [s.home_served_w / 1000.0 for s in samples],
        where="post",
        color="tab:green",
        label="home served",
    )
    if any(s.solar_w for s in samples):
        ax_home.step(hours, [s.solar_w / 1000.0 for s in samples], where="post", color="gold", label="solar")
    ax_home.set_ylabel("home (kW)")
    ax_home.legend(loc="upper right", fontsize="small")
    ax_grid.step(hours, [1.0 if s.grid_up else 0.0 for s in samples], where="post", color="tab:blue", label="grid up")
    ax_grid.step(
        hours,
        [0.5 if s.gateway in ("islanded", "resync") else 0.0 for s in samples],
        where="post",
        color="tab:red",
        label="islanded",
    )
    ax_grid.step(
        hours,
        [s.grid_w / 1000.0 / 12.0 for s in samples],
        where="post",
        color="tab:cyan",
        linewidth=0.8,
        label="grid import (kW / 12)",
    )
    ax_grid.set_ylabel("grid")
    ax_grid.set_xlabel("time (h)")
    ax_grid.legend(loc="upper right", fontsize="small")
    fig.suptitle(title or f"{trace.meta.scenario}: {trace.meta.vehicle}")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def _dc_panel(ax: Any, hours: list[float], trace: Trace) -> None:
    """The DC charger's output voltage (left axis) and current (right axis)."""
    samples = trace.samples
    ax.step(hours, [s.dc.output_v if s.dc else 0.0 for s in samples], where="post", color="tab:blue", label="output V")
    ax.set_ylabel("DC output (V)")
    amps = ax.twinx()
    amps.step(hours, [s.dc.output_a if s.dc else 0.0 for s in samples], where="post", color="tab:orange", label="A")
    amps.set_ylabel("current (A)")
    ax.legend(loc="upper left", fontsize="small")
    amps.legend(loc="upper right", fontsize="small")
