"""Correct a front by hand in headless Debian chromium (issue 15 §4): edit mode, drag a vertex,
save, the GeoPackage on disk holds the moved line, a reloaded page draws it."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from _dashboard_helpers import (
    pane_text,
    plot_geometry,
    renderer_data,
    to_screen,
    wait_plot,
    wait_until,
)

pytestmark = [pytest.mark.browser]

T = 60_000  # ms


def test_drag_a_vertex_save_and_reload(page, server, world, edits_dir, artifacts):
    from workbench.data.demo import load_manifest

    g1 = load_manifest(world)["glaciers"][1]["name"]  # no test runs a model on it
    url = f"{server}?glacier={g1}&date=2019-02-18"
    page.set_default_timeout(T)
    page.goto(url, timeout=T)
    geo = wait_plot(page, "wb-map", title=g1)
    page.get_by_role("button", name="✎ Edit front").click()
    line = wait_until(lambda: (d := renderer_data(page, "editing")) and d["xs"] and d)
    xs, ys = np.asarray(line["xs"][0]), np.asarray(line["ys"][0])
    k = len(xs) // 2
    x, y = xs[k], ys[k]
    sx, sy = to_screen(geo, x, y)
    # press (hold) on the line: its points appear
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.wait_for_timeout(700)
    page.mouse.up()
    assert wait_until(lambda: len((renderer_data(page, "vertices") or {}).get("x", [])) == len(xs))
    # drag that point 40 px to the right
    page.mouse.move(sx, sy)
    page.mouse.down()
    for step in range(1, 9):
        page.mouse.move(sx + 5 * step, sy)
        page.wait_for_timeout(30)
    page.mouse.up()
    metres_per_px = (geo["x_range"][1] - geo["x_range"][0]) / geo["frame"]["width"]
    moved = wait_until(
        lambda: (
            (d := renderer_data(page, "editing"))
            and abs(d["xs"][0][k] - x) > 20 * metres_per_px
            and d
        )
    )
    assert moved and moved["xs"][0][k] == pytest.approx(
        x + 40 * metres_per_px, abs=3 * metres_per_px
    )
    page.screenshot(path=str(artifacts / "edit_front.png"))
    page.get_by_role("button", name="Save").click()
    assert wait_until(lambda: "Saved the corrected front" in pane_text(page, ".wb-edit-note"))
    # on disk: one row for this glacier and day, the moved vertex in it
    saved = gpd.read_file(edits_dir / "corrected_fronts.gpkg", layer="fronts")
    row = saved[
        (saved["glacier"] == g1)
        & (pd.to_datetime(saved["date"]).dt.strftime("%Y-%m-%d") == "2019-02-18")
    ]
    assert len(row) == 1 and row["source"].iloc[0] == "manual"
    coords = np.asarray(row.geometry.iloc[0].coords)
    assert coords[k, 0] == pytest.approx(moved["xs"][0][k], abs=1e-6) and coords[
        k, 1
    ] == pytest.approx(y)
    # a new page on the same link draws the corrected front of that date
    other = page.context.new_page()
    other.goto(url, timeout=T)
    wait_plot(other, "wb-map", title=g1)
    drawn = wait_until(lambda: (d := renderer_data(other, "corrected front")) and d["xs"] and d)
    assert drawn["xs"][0][k] == pytest.approx(coords[k, 0], abs=1e-6)
    labels = [
        label
        for v in plot_geometry(other)["views"]
        if v["type"] == "Legend"
        for label in v.get("labels", [])
    ]
    assert "corrected front (by hand)" in labels
    other.close()
