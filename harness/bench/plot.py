"""Plot of a bench trace: one panel per quantity, each with one unit on its y axis.

Panels, top to bottom: the truck's state of charge with its reserve; the Powerwall's state of charge with its
outage threshold (with a Powerwall); charge-port, outlet and DC-inlet power; the home; the DC charger's output
voltage and current (on a DC charger); the grid's power, with outages, islanded periods and grid-support events
as shaded spans (states are spans, never values on a kW axis). Legends sit to the right of their panel,
outside the data, and the title wraps to the figure's width.

Owns :func:`figure` (the matplotlib Figure, for tests and callers that want to save it otherwise) and
:func:`plot` (the PNG). matplotlib is imported lazily, and only its object-oriented Agg canvas is used (no
pyplot, no global backend switch), so importing the bench stays light and plotting works headless.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness.bench.trace import Sample, Trace

__all__ = ["figure", "plot"]

_WIDTH_IN = 12.0
_PANEL_IN = 2.0
_DPI = 100
_TITLE_PT = 12.0


def plot(trace: Trace, path: str | Path, *, title: str | None = None) -> Path:
    """Write a PNG of ``trace`` to ``path`` (see :func:`figure`) and return the path."""
    fig = figure(trace, title=title)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def figure(trace: Trace, *, title: str | None = None) -> Any:
    """The figure of ``trace``: a matplotlib ``Figure`` on an Agg canvas, laid out and ready to save."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = _panels(trace)
    fig = Figure(figsize=(_WIDTH_IN, 0.8 + _PANEL_IN * len(panels)), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    hours = [s.t / 3600.0 for s in trace.samples]
    for ax, draw in zip(axes, panels, strict=True):
        draw(ax, hours, trace)
        # Outside the axes, to the right: a legend never covers a curve.
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small")
    axes[-1].set_xlabel("time (h)")
    fig.suptitle(_wrap(title or f"{trace.meta.scenario}: {trace.meta.vehicle}"), fontsize=_TITLE_PT)
    return fig


Panel = Callable[[Any, list[float], Trace], None]


def _panels(trace: Trace) -> list[Panel]:
    panels: list[Panel] = [_truck_soc]
    if trace.meta.pw_capacity_wh and any(s.pw_wh is not None for s in trace.samples):
        panels.append(_powerwall_soc)
    panels += [_port_power, _home]
    if trace.meta.dc is not None:
        panels += [_dc_voltage, _dc_current]
    panels.append(_grid)
    return panels


def _wrap(title: str) -> str:
    """``title`` broken into lines that fit the figure's width (about 0.55 em per character, with margins)."""
    columns = int(_WIDTH_IN * 72.0 / (_TITLE_PT * 0.55) * 0.9)
    return "\n".join(textwrap.wrap(title, width=columns)) or title


def _step(ax: Any, hours: list[float], values: list[float], **style: Any) -> None:
    ax.step(hours, values, where="post", **style)


def _truck_soc(ax: Any, hours: list[float], trace: Trace) -> None:
    _step(ax, hours, [s.soc_pct for s in trace.samples], color="tab:blue", label="truck SoC")
    reserve = trace.meta.reserve_pct
    ax.axhline(reserve, color="tab:red", linestyle="--", linewidth=1, label=f"truck reserve ({reserve:g} %)")
    ax.set_ylabel("truck SoC (%)")
    ax.set_ylim(0, 100)


def _powerwall_soc(ax: Any, hours: list[float], trace: Trace) -> None:
    cap = trace.meta.pw_capacity_wh
    assert cap
    _step(ax, hours, [100.0 * (s.pw_wh or 0.0) / cap for s in trace.samples], color="tab:green", label="Powerwall SoC")
    threshold = trace.meta.pw_threshold_pct
    if threshold is not None:
        ax.axhline(
            threshold, color="tab:olive", linestyle="--", linewidth=1, label=f"outage threshold ({threshold:g} %)"
        )
    ax.set_ylabel("Powerwall SoC (%)")
    ax.set_ylim(0, 100)


def _port_power(ax: Any, hours: list[float], trace: Trace) -> None:
    samples = trace.samples
    _step(ax, hours, [s.port_w / 1000.0 for s in samples], color="tab:purple", label="charge port (+ in, - out)")
    _step(ax, hours, [-s.outlet_w / 1000.0 for s in samples], color="tab:orange", label="outlets (out)")
    if trace.meta.dc is not None:
        _step(
            ax,
            hours,
            [(s.dc.inlet_w if s.dc else 0.0) / 1000.0 for s in samples],
            color="tab:red",
            label="DC inlet (+ in, - out)",
        )
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set_ylabel("truck power (kW)")


def _home(ax: Any, hours: list[float], trace: Trace) -> None:
    samples = trace.samples
    _step(ax, hours, [s.home_served_w / 1000.0 for s in samples], color="tab:green", label="home served")
    # Dashed on top: where the home is fully served the two curves coincide, and both stay visible.
    _step(ax, hours, [s.home_load_w / 1000.0 for s in samples], color="tab:gray", linestyle="--", label="home load")
    if any(s.solar_w for s in samples):
        _step(ax, hours, [s.solar_w / 1000.0 for s in samples], color="gold", label="solar")
    ax.set_ylabel("home (kW)")


def _dc_voltage(ax: Any, hours: list[float], trace: Trace) -> None:
    _step(ax, hours, [s.dc.output_v if s.dc else 0.0 for s in trace.samples], color="tab:blue", label="output")
    ax.set_ylabel("DC voltage (V)")


def _dc_current(ax: Any, hours: list[float], trace: Trace) -> None:
    _step(ax, hours, [s.dc.output_a if s.dc else 0.0 for s in trace.samples], color="tab:orange", label="output (+ in)")
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set_ylabel("DC current (A)")


def _grid(ax: Any, hours: list[float], trace: Trace) -> None:
    samples = trace.samples
    _step(ax, hours, [s.grid_w / 1000.0 for s in samples], color="tab:cyan", label="grid (+ import, - export)")
    ax.axhline(0.0, color="black", linewidth=0.5)
    # States as shaded spans across the panel, not as values on its kW axis.
    for start, end in _spans(samples, lambda s: not s.grid_up):
        ax.axvspan(start, end, color="tab:red", alpha=0.12, linewidth=0, label="grid down")
    for start, end in _spans(samples, lambda s: s.gateway in ("islanded", "resync")):
        ax.axvspan(start, end, facecolor="none", edgecolor="tab:blue", hatch="//", alpha=0.4, label="islanded")
    for start, end in _spans(samples, lambda s: s.event_w > 0.0):
        ax.axvspan(start, end, color="tab:green", alpha=0.12, linewidth=0, label="grid-support event")
    _deduplicate_labels(ax)
    ax.set_ylabel("grid (kW)")


def _spans(samples: list[Sample], state: Callable[[Sample], bool]) -> Iterator[tuple[float, float]]:
    """The (start, end) hours of the runs of consecutive samples in ``state``."""
    start: float | None = None
    for s in samples:
        if state(s) and start is None:
            start = s.t / 3600.0
        elif not state(s) and start is not None:
            yield start, s.t / 3600.0
            start = None
    if start is not None and samples:
        yield start, (samples[-1].t + samples[-1].dt) / 3600.0


def _deduplicate_labels(ax: Any) -> None:
    """One legend entry per label: repeated spans keep their label on the first only."""
    seen: set[str] = set()
    for artist in (*ax.patches, *ax.lines):
        label = artist.get_label()
        if label in seen:
            artist.set_label("_" + label)
        seen.add(label)
