"""The plot of every scenario `v2g sim` knows: the title inside the figure, no legend over the data, units on
every y axis (rendered on the Agg canvas from each scenario's run over the memory link)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from matplotlib.cbook import STEP_LOOKUP_MAP
from matplotlib.path import Path as MplPath
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from harness.bench import load_scenario, scenario_names
from harness.bench.plot import figure
from harness.virtual.runner import plot_title
from tests.sim.conftest import RunSim

_UNIT = re.compile(r"\([^()]+\)$")


def _inside(inner: Bbox, outer: Bbox) -> bool:
    return bool(outer.x0 <= inner.x0 and inner.x1 <= outer.x1 and outer.y0 <= inner.y0 and inner.y1 <= outer.y1)


def _drawn_path(line: Any) -> MplPath:
    """A line as drawn, in display coordinates (steps expanded into their corners)."""
    x = np.asarray(line.get_xdata(orig=False), float)
    y = np.asarray(line.get_ydata(orig=False), float)
    vertices = np.column_stack(STEP_LOOKUP_MAP[line.get_drawstyle()](x, y))
    return MplPath(line.get_transform().transform(vertices))


@pytest.mark.parametrize("name", scenario_names())
def test_plot_layout(name: str, run_sim: RunSim) -> None:
    scenario = load_scenario(name)
    result = run_sim(name, "memory")
    fig = figure(result.trace, title=plot_title(scenario, "memory"))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox

    title = [t for t in fig.findobj(Text) if t.get_text() and t.get_text() == fig.get_suptitle()]
    assert len(title) == 1
    assert _inside(title[0].get_window_extent(renderer), page), f"{name}: the title runs off the figure"
    assert " ".join(fig.get_suptitle().split()) == plot_title(scenario, "memory")

    axes = fig.get_axes()
    assert len(axes) >= 4
    for ax in axes:
        label = ax.get_ylabel()
        assert _UNIT.search(label), f"{name}: y label {label!r} has no unit"
        legend = ax.get_legend()
        assert legend is not None, f"{name}: {label} has no legend"
        box = legend.get_window_extent(renderer)
        assert _inside(box, page), f"{name}: the legend of {label} runs off the figure"
        for line in ax.get_lines():
            assert not _drawn_path(line).intersects_bbox(box, filled=False), (
                f"{name}: the legend of {label} covers {line.get_label()!r}"
            )
        for patch in ax.patches:
            assert not box.overlaps(patch.get_window_extent(renderer)), (
                f"{name}: the legend of {label} covers the span {patch.get_label()!r}"
            )
    assert axes[-1].get_xlabel() == "time (h)"


def test_each_threshold_is_drawn_against_its_own_battery(run_sim: RunSim) -> None:
    fig = figure(run_sim("powerwall-outage-charging", "memory").trace)
    labels = {
        ax.get_ylabel(): {str(line.get_label()) for line in ax.get_lines() if not str(line.get_label()).startswith("_")}
        for ax in fig.get_axes()
    }
    assert labels["truck SoC (%)"] == {"truck SoC", "truck reserve (20 %)"}
    assert labels["Powerwall SoC (%)"] == {"Powerwall SoC", "outage threshold (60 %)"}
    # The grid panel holds kW only: the outage and islanded periods are spans, not 0/1 curves.
    assert labels["grid (kW)"] == {"grid (+ import, - export)"}
    spans = {p.get_label() for p in fig.get_axes()[-1].patches}
    assert {"grid down", "islanded"} <= spans
