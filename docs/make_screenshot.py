"""Make the README's explorer screenshot (docs/dashboard.png) in headless Debian chromium.

    .venv/bin/python docs/make_screenshot.py                     # demo_data (make demo)
    .venv/bin/python docs/make_screenshot.py --data /tmp/world512 --out /tmp/shot.png

Serves ``DATA`` with the packaged models (``panel serve dashboards/explorer.py``), opens the
first glacier at ``--date`` beside ``--compare``, runs the packaged demo_zones model with TTA
(the retreat curve's uncertainty band), shows the zones, clicks a point for its time series,
and saves the full page (1500 × 1720 viewport).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from dashboard import ARGS, CHROMIUM, serve  # noqa: E402 - the benchmark's server and browser


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=REPO / "demo_data")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "dashboard.png")
    ap.add_argument("--date", default="2019-08-29")
    ap.add_argument("--compare", default="2020-08-23")
    ap.add_argument("--port", type=int, default=5397)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    proc = serve(args.data, args.port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1720})
            page.set_default_timeout(120_000)
            page.goto(
                f"http://127.0.0.1:{args.port}/explorer?date={args.date}&compare={args.compare}"
            )
            page.locator(".wb-compare canvas").first.wait_for()
            page.locator(".wb-tta input").check()
            page.get_by_role("button", name="Run model on this glacier").click()
            page.wait_for_selector("text=predictions (zones)", timeout=600_000)
            page.get_by_label("zones", exact=True).check()
            box = page.locator(".wb-map canvas").first.bounding_box()
            page.mouse.click(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.55)
            page.locator(".wb-point").wait_for(state="visible")
            time.sleep(3)
            page.evaluate(  # the sidebar back at its top (ticking TTA scrolled it)
                "() => document.querySelectorAll('#sidebar, .sidenav, nav')"
                ".forEach((e) => { e.scrollTop = 0; })"
            )
            page.mouse.move(5, 5)
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(30)
    print(args.out)


if __name__ == "__main__":
    main()
