"""The locator map (where the scene lies, drawn offline) and the optional tile basemap, off by
default (issue 15 §3), in headless Debian chromium. No test needs the tile server: tile
requests are answered here with an error."""

from __future__ import annotations

import pytest
from _dashboard_helpers import plot_geometry, renderer_data, wait_plot, wait_until

pytestmark = [pytest.mark.browser]

T = 60_000  # ms


def test_locator_offline_and_basemap_on_request(page, server):
    tiles: list[str] = []
    page.route(
        "**/*openstreetmap*/**", lambda route: (tiles.append(route.request.url), route.abort())
    )
    page.set_default_timeout(T)
    page.goto(server, timeout=T)
    wait_plot(page, "wb-map")
    geo = wait_plot(page, "wb-locator")
    assert "° N" in geo["title"] and "° E" in geo["title"]
    names = {v["name"] for v in geo["views"]}
    assert {"graticule", "footprint"} <= names and "basemap" not in names
    footprint = renderer_data(page, "footprint", "wb-locator")
    (x0, x1), (y0, y1) = geo["x_range"], geo["y_range"]
    assert all(x0 < x < x1 for x in footprint["x"]) and all(y0 < y < y1 for y in footprint["y"])
    page.wait_for_timeout(500)
    assert tiles == []  # nothing fetched while the basemap is off
    page.locator(".wb-basemap input").check()
    assert wait_until(
        lambda: any(
            v["name"] == "basemap" and v["visible"]
            for v in plot_geometry(page, "wb-locator")["views"]
        )
    )
    for _ in range(100):  # route handlers run while playwright waits (not in time.sleep)
        if tiles:
            break
        page.wait_for_timeout(200)
    assert tiles  # the browser asked for tiles (refused here: offline)
    page.locator(".wb-basemap input").uncheck()
    assert wait_until(
        lambda: (
            not any(
                v["name"] == "basemap" and v["visible"]
                for v in plot_geometry(page, "wb-locator")["views"]
            )
        )
    )
    # CaFFe images in pixel coordinates: no locator, the toggle disabled
    page.locator("select").first.select_option("caffe")
    assert wait_until(
        lambda: (
            plot_geometry(page, "wb-locator") is None
            or not page.locator(".wb-locator").is_visible()
        )
    )
    assert page.locator(".wb-basemap input").is_disabled()
