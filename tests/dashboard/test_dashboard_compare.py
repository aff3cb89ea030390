"""Two dates side by side with both fronts drawn, kept in the share link (issue 15 §3), in
headless Debian chromium."""

from __future__ import annotations

from urllib.parse import parse_qs

import geopandas as gpd
import pandas as pd
import pytest
from _dashboard_helpers import plot_geometry, renderer_data, wait_plot, wait_until

pytestmark = [pytest.mark.browser]

T = 60_000  # ms


def _query(page) -> dict:
    """The page's query now (``page.url`` is only refreshed while playwright waits)."""
    return parse_qs(page.evaluate("() => location.search").lstrip("?"))


def _fronts_days(world) -> list[str]:
    from workbench.data.demo import load_manifest

    g = load_manifest(world)["glaciers"][0]["name"]
    fronts = gpd.read_file(world / "fronts.gpkg")
    days = pd.to_datetime(fronts.loc[fronts["glacier"] == g, "date"]).dt.strftime("%Y-%m-%d")
    return sorted(set(days))


def test_compare_two_dates_side_by_side(page, server, world):
    days = _fronts_days(world)
    first, other = days[0], days[-1]
    page.set_default_timeout(T)
    page.goto(f"{server}?date={first}&compare={other}", timeout=T)
    main = wait_plot(page, "wb-map")
    second = wait_plot(page, "wb-compare")
    assert second["title"].endswith(other)
    # side by side: the second map right of the first, on the same row, the same size
    assert second["page"]["x"] >= main["page"]["x"] + 0.8 * main["frame"]["width"]
    assert abs(second["page"]["y"] - main["page"]["y"]) < 40
    assert abs(second["frame"]["width"] - main["frame"]["width"]) <= 2
    # each map draws its own date's reference front and the other date's front (dashed)
    for plot in ("wb-map", "wb-compare"):
        own = renderer_data(page, "reference front", plot)
        dashed = renderer_data(page, "other front", plot)
        assert own and own["xs"] and dashed and dashed["xs"], plot
    # the dashed line on the first map is what the second map draws as its date's front
    # (a predicted one when another test has run the model on this glacier, else the reference)
    drawn = [
        renderer_data(page, name, "wb-compare")["xs"]
        for name in ("corrected front", "front", "reference front")
    ]
    assert renderer_data(page, "other front", "wb-map")["xs"] in [d for d in drawn if d]
    labels = [v for v in plot_geometry(page)["views"] if v["type"] == "Legend"][0]["labels"]
    assert any(str(label).endswith(f"front of {other} (other date)") for label in labels)
    # pan/zoom is shared: one range object for both maps
    assert main["x_range"] == second["x_range"]
    # the link names the second date; choosing "none" goes back to one map and out of the link
    assert wait_until(lambda: _query(page).get("compare") == [other])
    page.locator(".wb-compare-select select").select_option(index=0)
    assert wait_until(lambda: plot_geometry(page, "wb-compare") is None)
    wait_plot(page, "wb-map")
    assert wait_until(lambda: not _query(page).get("compare"))
    # and the select brings it back (the date chosen there reaches the link)
    page.locator(".wb-compare-select select").select_option(index=2)
    wait_plot(page, "wb-compare")
    assert wait_until(lambda: _query(page).get("compare"))
