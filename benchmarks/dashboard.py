"""Explorer speed: server-side frame time on a date change, and serve → first browser render.

    .venv/bin/python benchmarks/dashboard.py              # 1024² and 4096², 5 dates each
    .venv/bin/python benchmarks/dashboard.py --sizes 1024 --no-browser

Frame time is what the dashboard's DynamicMap does when the date changes: select the image
of the new date, build the hv.Image (datashader-rasterized above 1024²) with the overlays,
and render the Bokeh model (holoviews' bokeh renderer), measured in this process. Goal:
≤ 100 ms at 1024². Browser time: from starting `panel serve dashboards/explorer.py` to the
first canvas and the date label in headless Debian chromium (skipped without it).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401 - the .rio accessor
import xarray as xr

REPO = Path(__file__).resolve().parents[1]


def synthetic_stack(size: int, n: int = 5) -> xr.Dataset:
    rng = np.random.default_rng(0)
    px = 20.0
    data = rng.normal(-12, 4, (n, size, size)).astype("float32")
    ds = xr.Dataset({"sigma0_db": (("time", "y", "x"), data)},
                    coords={"time": pd.date_range("2020-01-01", periods=n, freq="12D").values,
                            "y": 8.7e6 - px * (np.arange(size) + 0.5), "x": 5e5 + px * (np.arange(size) + 0.5),
                            "sensor": ("time", ["S1A"] * n), "orbit": ("time", [160] * n)})
    return ds.rio.write_crs("EPSG:32633")


def frame_times(size: int, repeats: int = 8) -> dict[str, float]:
    import holoviews as hv

    hv.extension("bokeh", logo=False)
    from workbench.viz.sources import SceneSeries
    from workbench.viz.views import frame_image, lines_path

    ds = synthetic_stack(size)
    series = SceneSeries(key="bench", glacier="bench", kind="stacks", images=ds["sigma0_db"],
                         sensor=["S1A"] * 5, orbit=["160"] * 5, crs=ds.rio.crs)
    renderer = hv.renderer("bokeh")
    dm = hv.DynamicMap(lambda i: frame_image(series, i, (-25, 0)) * lines_path(None), kdims=["i"])
    dm = dm.redim.values(i=list(range(len(series))))
    plot = renderer.get_plot(dm)  # the live plot, as on the server
    build, update = [], []
    for k in range(repeats):
        i = (k % (len(series) - 1)) + 1
        t0 = time.perf_counter()
        el = frame_image(series, i, (-25, 0))
        build.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        plot.update((i,))  # what a stream event does: callback + Bokeh data source update
        update.append(time.perf_counter() - t0)
    del el
    return {"size": size, "element_ms": 1e3 * statistics.median(build),
            "frame_ms": 1e3 * statistics.median(update), "frame_max_ms": 1e3 * max(update)}


def first_render(world: Path) -> float | None:
    if not Path("/usr/bin/chromium").exists():
        return None
    from playwright.sync_api import sync_playwright

    port = 5391
    url = f"http://127.0.0.1:{port}/explorer"
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "panel", "serve", str(REPO / "dashboards" / "explorer.py"),
                             "--port", str(port), "--address", "127.0.0.1", "--args", str(world), "--no-shared"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except Exception:  # noqa: BLE001
                if time.perf_counter() - t0 > 120:
                    raise
                time.sleep(0.2)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium",
                                  args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = b.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(url, timeout=120_000)
            page.wait_for_selector(".wb-date", timeout=120_000)
            page.wait_for_selector("canvas", timeout=120_000)
            dt = time.perf_counter() - t0
            b.close()
        return dt
    finally:
        proc.terminate()
        proc.wait(20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[1024, 4096])
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    for size in args.sizes:
        r = frame_times(size)
        print(f"{size}²: new frame {r['frame_ms']:.0f} ms median (max {r['frame_max_ms']:.0f} ms), "
              f"hv element alone {r['element_ms']:.0f} ms")
    if not args.no_browser:
        from workbench.data.demo import make_demo_world

        with tempfile.TemporaryDirectory() as tmp:
            make_demo_world(Path(tmp) / "w", n_glaciers=1, years=0.3, size=256, pixel_size=40)
            dt = first_render(Path(tmp) / "w")
        print("serve → first render: " + (f"{dt:.1f} s" if dt else "skipped (no /usr/bin/chromium)"))


if __name__ == "__main__":
    main()
