"""Ten people at once: 10 concurrent browser sessions on one `panel serve` (2 cores).

Every session loads the page, moves the date slider and sees the label change; the server log
stays free of errors; and the server's memory grows by far less per session than a copy of the
glacier's images would take, because series and models are cached once per process
(:func:`workbench.viz.sources.open_series`, :func:`workbench.inference.cached_predictor`).
"""

from __future__ import annotations

import time

import psutil
import pytest
from _dashboard_helpers import log_errors, start_server, stop_server, wait_http

pytestmark = [pytest.mark.browser]

DATE = ".wb-slider .bk-slider-value"  # the time slider's value text: date · sensor · orbit (i / n)

SESSIONS = 10
T = 120_000  # ms: ten sessions are built one after the other on a busy 2-core machine


@pytest.fixture(scope="module")
def load_world(tmp_path_factory):
    """One glacier, 31 dates at 256²: its images take 8 MB, a number a per-session copy would show."""
    from workbench.data.demo import make_demo_world

    root = tmp_path_factory.mktemp("load") / "world"
    make_demo_world(root, n_glaciers=1, years=1.0, size=256, pixel_size=40)
    return root


def _rss_mb(proc) -> float:
    p = psutil.Process(proc.pid)
    return sum(c.memory_info().rss for c in [p, *p.children(recursive=True)]) / 2**20


def test_ten_concurrent_sessions(browser, load_world, tmp_path, artifacts):
    from workbench.data.demo import load_manifest

    n_dates = int(load_manifest(load_world)["glaciers"][0]["n_dates"])
    series_mb = n_dates * 256 * 256 * 4 / 2**20
    log = tmp_path / "panel.log"
    proc, url = start_server([str(load_world), "--no-shared"], log)
    contexts, pages, errors = [], [], []
    try:
        wait_http(url, proc=proc)  # one session built (and dropped) by the probe
        time.sleep(2)
        rss_one = _rss_mb(proc)
        t0 = time.perf_counter()
        for _ in range(SESSIONS):  # start every navigation before waiting for any
            ctx = browser.new_context(viewport={"width": 1300, "height": 1000})
            page = ctx.new_page()
            page.set_default_timeout(T)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(url, wait_until="commit", timeout=T)
            contexts.append(ctx)
            pages.append(page)
        labels = []
        for page in pages:
            page.wait_for_selector(DATE, timeout=T)
            page.wait_for_selector("canvas", timeout=T)
            labels.append(page.locator(DATE).first.inner_text())
        all_rendered_s = time.perf_counter() - t0
        # every session moves its own slider; the others are unaffected
        for k, page in enumerate(pages):
            page.locator(".wb-slider .noUi-handle").first.focus()
            for _ in range(k % 3 + 1):
                page.keyboard.press("ArrowRight")
        moved = []
        for page, before in zip(pages, labels, strict=True):
            deadline = time.time() + 60
            now = page.locator(DATE).first.inner_text()
            while now == before and time.time() < deadline:
                page.wait_for_timeout(300)
                now = page.locator(DATE).first.inner_text()
            moved.append(now != before)
        rss_all = _rss_mb(proc)
        pages[-1].screenshot(path=str(artifacts / "explorer_load_session10.png"))
        growth = (rss_all - rss_one) / (SESSIONS - 1)
        print(
            f"\n{SESSIONS} sessions rendered in {all_rendered_s:.1f} s; server RSS {rss_one:.0f} MB "
            f"with one session, {rss_all:.0f} MB with {SESSIONS} ({growth:.1f} MB per session; "
            f"one copy of the images: {series_mb:.1f} MB)"
        )
    finally:
        for ctx in contexts:
            ctx.close()
        stop_server(proc)
    assert all(moved), (
        f"sessions whose date did not move: {[i for i, m in enumerate(moved) if not m]}"
    )
    assert len(set(labels)) == 1  # every session opened on the same default view
    assert errors == []
    assert log_errors(log) == []
    # bounded memory: a session costs its Bokeh document, not a copy of the data
    assert growth < series_mb, (
        f"{growth:.1f} MB per session ≥ one copy of the images ({series_mb:.1f} MB)"
    )
