"""The explorer in headless Debian chromium (pytest-playwright); each step has a timeout."""

from __future__ import annotations

import json
import re
import time

import pytest

pytestmark = [pytest.mark.browser]

DATE = ".wb-slider .bk-slider-value"  # the time slider's value text: date · sensor · orbit (i / n)

T = 60_000  # ms


def _open(page, url):
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(T)
    page.goto(url, timeout=T)
    page.wait_for_selector(DATE, timeout=T)
    page.wait_for_selector("canvas", timeout=T)
    page.wait_for_timeout(1500)
    return errors


def _date(page) -> str:
    return page.locator(DATE).first.inner_text()


def _map_png(page) -> bytes:
    return page.locator("canvas").first.screenshot()


def _wait_change(fn, old, timeout=30):
    t0 = time.time()
    while time.time() - t0 < timeout:
        new = fn()
        if new != old:
            return new
        time.sleep(0.3)
    return fn()


def test_loads_without_console_errors(page, server, artifacts):
    errors = _open(page, server)
    assert re.match(r"\d{4}-\d\d-\d\d · S1", _date(page))
    page.screenshot(path=str(artifacts / "explorer_main.png"), full_page=True)
    # a fresh page's link already names the whole view, so sharing it at once reopens it
    href = _wait_change(lambda: page.evaluate("window.location.href"), server)
    assert "glacier=" in href and f"date={_date(page)[:10]}" in href and "overlays=" in href
    assert errors == []


def test_slider_moves_date_and_image(page, server):
    _open(page, server)
    before_date, before_img = _date(page), _map_png(page)
    handle = page.locator(".wb-slider .noUi-handle").first
    handle.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    new_date = _wait_change(lambda: _date(page), before_date)
    assert new_date != before_date
    page.wait_for_timeout(1500)
    assert _map_png(page) != before_img


def test_front_overlay_toggle_changes_plot(page, server):
    _open(page, server)
    before = _map_png(page)
    page.get_by_label("reference front").uncheck()
    page.get_by_label("reference outline").uncheck()
    after = _wait_change(lambda: _map_png(page), before)
    assert after != before


def test_click_on_retreat_curve_moves_date(page, server):
    _open(page, server)
    before = _date(page)
    box = page.locator(".wb-retreat canvas").first.bounding_box()
    # click near the right end of the curve: a later date than the first one
    page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.5)
    assert _wait_change(lambda: _date(page), before) != before


def test_geojson_download(page, server, tmp_path):
    _open(page, server)
    with page.expect_download(timeout=T) as dl:
        page.get_by_text("fronts .geojson").click()
    path = tmp_path / "fronts.geojson"
    dl.value.save_as(path)
    data = json.loads(path.read_text())
    assert data["type"] == "FeatureCollection" and data["features"]


def test_url_restores_view(page, server, world):
    from workbench.data.demo import load_manifest

    g = load_manifest(world)["glaciers"][1]["name"]
    errors = _open(
        page, f"{server}?glacier={g}&date=2019-02-07&overlays=%5B%22reference+front%22%5D"
    )
    assert _date(page).startswith("2019-02-06")
    assert page.get_by_label("reference front").is_checked()
    assert not page.get_by_label("reference outline").is_checked()
    assert page.locator("select").nth(1).input_value() == g
    # moving on updates the URL, so the link reopens this view
    page.get_by_label("reference outline").check()
    href = _wait_change(lambda: page.evaluate("window.location.href"), page.url)
    assert "reference+outline" in href or "reference%20outline" in href
    # ... and that link opens the same view in a new tab
    other = page.context.new_page()
    _open(other, href)
    assert (
        _date(other).startswith("2019-02-06")
        and other.get_by_label("reference outline").is_checked()
    )
    other.close()
    assert errors == []


def test_run_model_shows_progress_and_results(page, server, artifacts):
    _open(page, server)
    page.get_by_role("button", name="Run model on this glacier").click()
    page.wait_for_selector("text=predictions (zones)", timeout=T * 2)
    page.get_by_label("zones", exact=True).check()
    # the retreat curve gains the predicted positions
    from _dashboard_helpers import plot_geometry

    deadline = time.time() + 30
    while "predicted" not in _legend(plot_geometry(page, "wb-retreat")) and time.time() < deadline:
        page.wait_for_timeout(300)
    assert "predicted" in _legend(plot_geometry(page, "wb-retreat"))
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "explorer_model.png"), full_page=True)


def _legend(geo) -> list[str]:
    return [label for v in geo["views"] if v["type"] == "Legend" for label in v.get("labels", [])]
