"""The explorer's map in headless Debian chromium: right on first load, one time slider, model
layers disabled until a run, legend and hover, the caffe dataset (issue 15 §1).

Geometry is read from Bokeh's own views in the page (:data:`_dashboard_helpers.PLOT_JS`): what
the browser laid out, not what the server asked for.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from _dashboard_helpers import (
    log_errors,
    pane_text,
    plot_geometry,
    server_log,
    wait_plot,
    wait_until,
)

pytestmark = [pytest.mark.browser]

DATE = ".wb-slider .bk-slider-value"  # the time slider's value text: date · sensor · orbit (i / n)

T = 60_000  # ms


def _open(page, url):
    errors = []
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type in ("error", "warning") and "GL Driver" not in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(T)
    page.goto(url, timeout=T)
    page.wait_for_selector(DATE, timeout=T)
    return errors


def _view(geo, type_, name=None):
    return [v for v in geo["views"] if v["type"] == type_ and (name is None or v["name"] == name)]


def _extent(series):
    """(width, height) of the images' pixel-edge extent, from the data on disk."""
    x, y = series.images["x"].values, series.images["y"].values
    return abs(x[1] - x[0]) * len(x), abs(y[1] - y[0]) * len(y)


def _assert_map_right(geo, series):
    """The frame's width/height ratio is the data's, the ranges are the data's extent, the colour
    bar is drawn beside the frame inside the page, the figure is not stretched."""
    w, h = _extent(series)
    frame = geo["frame"]
    assert frame["width"] / frame["height"] == pytest.approx(w / h, rel=0.02), (frame, w, h)
    assert geo["x_range"][1] - geo["x_range"][0] == pytest.approx(w, rel=1e-6)
    assert geo["y_range"][1] - geo["y_range"][0] == pytest.approx(h, rel=1e-6)
    assert geo["sizing_mode"] != "stretch_width"
    bar = _view(geo, "ColorBar", "wb-colorbar")[0]
    assert (
        bar["visible"]
        and bar["bbox"]["width"] > 20
        and bar["bbox"]["height"] > 0.8 * frame["height"]
    )
    assert bar["bbox"]["x"] >= frame["x"] + frame["width"] - 1  # beside the frame, not over it
    assert (
        geo["page"]["x"] + bar["bbox"]["x"] + bar["bbox"]["width"] <= 1500
    )  # on screen (viewport 1500)


def _series(world_or_root, glacier):
    from workbench.viz.sources import DataRoots, discover, open_series

    roots = DataRoots([world_or_root])
    entry = next(iter(discover(roots).values()))
    return open_series(entry, glacier, roots)


def test_first_load_and_dataset_switch_draw_the_map_right(
    page, server, world, wide_stacks, artifacts
):
    """Issue 15 §1.1: no stretched map without colour bar on a fresh page or after a switch."""
    from workbench.data.demo import load_manifest

    errors = _open(page, server)
    g0 = load_manifest(world)["glaciers"][0]["name"]
    geo = wait_plot(page, "wb-map", title=g0)  # as first drawn: no slider has moved
    _assert_map_right(geo, _series(world, g0))
    assert geo["frame"]["width"] >= 400  # room for the tick labels
    page.screenshot(path=str(artifacts / "map_first_load.png"))
    # a dataset whose images are wider than tall, reached by the dataset selector
    page.locator("select").first.select_option("stacks")
    geo = wait_plot(page, "wb-map", title="Widebreen.zarr")
    _assert_map_right(geo, _series(wide_stacks, "Widebreen.zarr"))
    assert geo["frame"]["width"] > geo["frame"]["height"] * 1.5
    page.screenshot(path=str(artifacts / "map_dataset_switch.png"))
    assert errors == []


def test_one_time_slider_with_labelled_buttons(page, server):
    """Issue 15 §1.2: one slider for the time, buttons with text and tooltips, play advances."""
    _open(page, server)
    assert page.locator(".wb-slider").count() == 1
    assert page.get_by_text("Acquisition").count() == 0  # the second slider of before is gone
    assert (
        page.locator("input[type=range]").count() == 0
    )  # so is Panel's Player with its own slider
    for label in ("|◀ first", "◀ previous", "▶ play", "next ▶", "last ▶|"):
        assert page.get_by_role("button", name=label).count() == 1, label
    page.get_by_role("button", name="▶ play").hover()
    tooltip = page.get_by_text("Play the time series").first
    tooltip.wait_for(state="visible", timeout=10_000)
    page.mouse.move(5, 5)  # away: the tooltip goes
    tooltip.wait_for(state="hidden", timeout=10_000)
    date = page.locator(DATE).first
    first = date.inner_text()
    page.get_by_role("button", name="next ▶").click()
    assert wait_until(lambda: date.inner_text() != first)
    second = date.inner_text()
    page.get_by_role("button", name="▶ play").click()
    seen = {second}
    deadline = time.time() + 20
    while len(seen) < 4 and time.time() < deadline:
        seen.add(date.inner_text())
        page.wait_for_timeout(50)
    page.get_by_role("button", name="⏸ pause").click()
    assert len(seen) >= 4, seen


def test_model_layers_wait_for_a_run_and_status_clears(page, server, world, artifacts):
    """Issue 15 §1.3: model layers are disabled with the reason until a run; zones and
    confidence exclude each other and leave the image visible; the status line goes with the
    glacier it belongs to."""
    from workbench.data.demo import load_manifest

    g1 = load_manifest(world)["glaciers"][1]["name"]  # never run by any test
    _open(page, f"{server}?glacier={g1}")
    wait_plot(page, "wb-map", title=g1)
    assert page.locator(".wb-layer input").first.is_disabled()
    assert all(page.locator(".wb-model-lines input").nth(i).is_disabled() for i in range(2))
    assert "appear after Run model" in pane_text(page, ".wb-layer-note")
    # the first glacier: run (or the cached run of another test), then the layers work
    page.locator("select").nth(1).select_option(index=0)
    page.get_by_role("button", name="Run model on this glacier").click()
    page.wait_for_selector("text=predictions (zones)", timeout=2 * T)
    assert wait_until(lambda: page.locator(".wb-layer input").first.is_enabled())
    image = np.asarray(_gray(page.locator(".wb-map canvas").first.screenshot()))
    page.get_by_label("zones", exact=True).check()
    geo = wait_until(
        lambda: (
            (g := plot_geometry(page))
            and [v for v in _view(g, "GlyphRenderer", "zones") if v["visible"] and v["n"]]
            and g
        )
    )
    assert "zone: glacier" in _view(geo, "Legend", "wb-legend")[0]["labels"]
    with_zones = np.asarray(_gray(page.locator(".wb-map canvas").first.screenshot()))
    # the image still shows through the zones (speckle texture stays), it is not a flat wash
    assert _texture(with_zones) > 0.5 * _texture(image)
    page.get_by_label("confidence", exact=True).check()
    assert wait_until(lambda: not page.get_by_label("zones", exact=True).is_checked())
    geo = wait_until(
        lambda: (
            (g := plot_geometry(page))
            and not _view(g, "GlyphRenderer", "zones")[0]["visible"]
            and g
        )
    )
    assert [v for v in _view(geo, "GlyphRenderer", "confidence") if v["visible"]]
    page.screenshot(path=str(artifacts / "map_confidence.png"))
    # another glacier: no status line of this run, layers disabled again
    page.locator("select").nth(1).select_option(g1)
    wait_plot(page, "wb-map", title=g1)
    assert wait_until(lambda: "predictions" not in pane_text(page, ".wb-status"))
    assert wait_until(lambda: page.locator(".wb-layer input").first.is_disabled())


def _gray(png: bytes):
    import io

    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("L")


def _texture(a: np.ndarray) -> float:
    """Mean absolute difference of neighbouring pixels in the middle of the map (speckle)."""
    h, w = a.shape
    mid = a[h // 4 : 3 * h // 4, w // 4 : w // 2].astype(float)
    return float(np.abs(np.diff(mid, axis=1)).mean())


def test_legend_and_hover_in_metres_and_degrees(page, server, world):
    """Issue 15 §1.4: a legend of what is drawn; hover shows metres (not 5.1e+5), latitude and
    longitude (checked against pyproj) and the value."""
    from pyproj import Transformer

    _open(page, server)
    geo = wait_plot(page, "wb-map")
    labels = _view(geo, "Legend", "wb-legend")[0]["labels"]
    assert "reference front" in labels and "reference outline" in labels
    frame = geo["frame"]
    x0, y0 = geo["page"]["x"] + frame["x"], geo["page"]["y"] + frame["y"]
    page.mouse.move(x0 + frame["width"] * 0.4, y0 + frame["height"] * 0.6)
    page.mouse.move(x0 + frame["width"] * 0.4 + 2, y0 + frame["height"] * 0.6 + 1)
    tip = page.locator(".bk-tooltip-content").first
    tip.wait_for(state="visible", timeout=10_000)
    text = tip.inner_text()
    assert "e+" not in text
    xy = re.search(r"(\d{5,7}) m, (\d{6,8}) m", text)
    ll = re.search(r"(\d+\.\d{5})° ([NS]), (\d+\.\d{5})° ([EW])", text)
    assert xy and ll and "σ0 [dB]" in text, text
    lon, lat = Transformer.from_crs(32633, 4326, always_xy=True).transform(
        float(xy[1]), float(xy[2])
    )
    # the hover rounds x, y to a metre: compare at 1e-4° (~10 m in latitude)
    assert float(ll[1]) * (1 if ll[2] == "N" else -1) == pytest.approx(lat, abs=1e-4)
    assert float(ll[3]) * (1 if ll[4] == "E" else -1) == pytest.approx(lon, abs=1e-4)


def test_caffe_dataset_square_pixels_no_retreat_no_model(page, server, world, artifacts):
    """Issue 15 §1.5: CaFFe images in pixel coordinates: square pixels, no empty retreat plot,
    no Run-model button (no checkpoint was trained on CaFFe)."""
    errors = _open(page, f"{server}?dataset=caffe")
    geo = wait_plot(page, "wb-map")
    series = _series(world / "caffe", geo["title"])
    rows, cols = series.images.shape[1:]
    assert geo["frame"]["width"] / geo["frame"]["height"] == pytest.approx(cols / rows, rel=0.02)
    assert (
        page.get_by_role("button", name="Run model on this glacier").count() == 0
        or not page.get_by_role("button", name="Run model on this glacier").is_visible()
    )
    assert "No model applies to these images" in pane_text(page, ".wb-model-note")
    assert not page.locator(".wb-retreat").is_visible()
    assert "No retreat curve" in pane_text(page, ".wb-retreat-note")
    page.screenshot(path=str(artifacts / "map_caffe.png"), full_page=True)
    assert errors == []


def test_no_layout_warnings_in_the_server_log(page, server):
    """Issue 15 §1.6: the warnings of the HoloViews map (aspect with a fixed size, responsive
    mode refused) and Bokeh's sizing warnings are gone at their cause, not filtered."""
    _open(page, server)
    wait_plot(page, "wb-map")
    page.locator("select").first.select_option("stacks")
    wait_plot(page, "wb-map", title="Widebreen.zarr")
    text = server_log[0].read_text(errors="replace")
    for warning in (
        "Due to internal constraints",
        "responsive mode could not be enabled",
        "W-1005",
        "FIXED_SIZING_MODE",
    ):
        assert warning not in text
    assert log_errors(server_log[0]) == []
