"""Click a point on the map: σ0 over time there (mean over a small window), the current date
marked, the series as CSV (issue 15 §3), in headless Debian chromium."""

from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd
import pytest
from _dashboard_helpers import pane_text, plot_geometry, wait_plot

pytestmark = [pytest.mark.browser]

T = 60_000  # ms


def _span(geo) -> float:
    return next(v["location"] for v in geo["views"] if v["type"] == "Span")


def test_point_time_series_follows_the_date_and_exports(page, server, world, tmp_path):
    from workbench.data.demo import load_manifest
    from workbench.data.stack import open_stack

    page.set_default_timeout(T)
    page.goto(server, timeout=T)
    geo = wait_plot(page, "wb-map")
    assert not page.locator(".wb-point").is_visible()
    assert page.locator(".wb-dl-point-csv button").is_disabled()
    frame = geo["frame"]
    page.mouse.click(
        geo["page"]["x"] + frame["x"] + frame["width"] * 0.3,
        geo["page"]["y"] + frame["y"] + frame["height"] * 0.7,
    )
    page.locator(".wb-point").wait_for(state="visible", timeout=T)
    point = wait_plot(page, "wb-point")
    title = pane_text(page, ".wb-point-title")
    assert "mean over 5×5 px (200 m)" in title and "° N" in title
    # the clicked point is marked on the map, the current date on the time series
    marker = next(v for v in plot_geometry(page)["views"] if v["name"] == "point")
    assert marker["n"] == 1
    first = _span(point)
    page.get_by_role("button", name="next ▶").click()
    deadline = time.time() + 30
    while _span(plot_geometry(page, "wb-point")) == first and time.time() < deadline:
        page.wait_for_timeout(200)
    assert _span(plot_geometry(page, "wb-point")) > first
    # the CSV: one row per date, the values computed again here from the stack on disk
    with page.expect_download(timeout=T) as dl:
        page.locator(".wb-dl-point-csv button").click()
    path = tmp_path / "point.csv"
    dl.value.save_as(path)
    text = path.read_text()
    head = dict(line[2:].split(": ", 1) for line in text.splitlines() if line.startswith("# "))
    df = pd.read_csv(io.StringIO(text), comment="#", parse_dates=["date"])
    g = load_manifest(world)["glaciers"][0]
    ds = open_stack(world / g["zarr"])
    assert len(df) == ds.sizes["time"] and dl.value.suggested_filename == f"{g['name']}_point.csv"
    col = int(np.abs(ds["x"].values - float(head["x"])).argmin())
    row = int(np.abs(ds["y"].values - float(head["y"])).argmin())
    assert int(head["window_px"]) == 5 and head["crs"] == "EPSG:32633"
    block = ds["sigma0_db"].values[:, row - 2 : row + 3, col - 2 : col + 3].astype(float)
    expected = 10 * np.log10(np.nanmean(10 ** (block / 10), axis=(1, 2)))
    np.testing.assert_allclose(df["sigma0_db"].to_numpy(), expected, atol=1e-4)
    assert (
        df["date"].dt.strftime("%Y-%m-%d")
        == pd.DatetimeIndex(ds["time"].values).strftime("%Y-%m-%d")
    ).all()
    # the link names the point: a new tab opens with the same time series
    deadline = time.time() + 30
    while "point=" not in page.url and time.time() < deadline:
        page.wait_for_timeout(200)
    from urllib.parse import parse_qs, urlparse

    x, y = (float(v) for v in parse_qs(urlparse(page.url).query)["point"][0].split(","))
    assert (
        abs(x - float(head["x"])) <= 20 and abs(y - float(head["y"])) <= 20
    )  # in the clicked pixel
    other = page.context.new_page()
    other.goto(page.url, timeout=T)
    other.locator(".wb-point").wait_for(state="visible", timeout=T)
    assert pane_text(other, ".wb-point-title") == title
    other.close()
