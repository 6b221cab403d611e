"""The plot: a real PNG with one non-trivial panel per quantity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import image

from harness.bench import plot
from tests.harness.bench_support import bench_run


def test_plot_writes_a_non_trivial_png(tmp_path: Path) -> None:
    run = bench_run("v2h-outage")
    out = plot(run.trace, tmp_path / "sub" / "v2h.png")
    assert out.exists() and out.stat().st_size > 30_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(out)
    assert pixels.shape[:2] == (880, 1200)  # four 2-inch panels and the title, 12 inches wide, 100 dpi
    rgb = pixels[..., :3].reshape(-1, 3)
    assert float(rgb.std()) > 0.05  # not a blank canvas
    colours = np.unique((rgb * 255).astype(np.uint8), axis=0)
    assert len(colours) > 50  # curves, legends, axes
    # Each of the four panels (truck SoC, truck power, home, grid) has ink in it (non-white pixels in each quarter
    # of the height).
    for quarter in np.array_split(pixels[..., :3], 4, axis=0):
        assert float((quarter < 0.9).any(axis=-1).mean()) > 0.01


def test_plot_of_a_powerwall_run(tmp_path: Path) -> None:
    run = bench_run("powerwall-outage-charging")
    out = plot(run.trace, tmp_path / "pw.png", title="Powerwall outage")
    assert out.stat().st_size > 30_000
    assert image.imread(out).shape[:2] == (1080, 1200)  # a fifth panel: the Powerwall's SoC
