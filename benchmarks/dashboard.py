"""Explorer speed in the real browser: first complete render, slider step, play rate.

    .venv/bin/python benchmarks/dashboard.py                 # 512² (61 dates) and 4096² (6 dates)
    .venv/bin/python benchmarks/dashboard.py --sizes 512 --steps 30 --json out.json
    .venv/bin/python benchmarks/dashboard.py --repo /tmp/old  # another checkout, same data

For each size a real ``panel serve dashboards/explorer.py`` is started on 127.0.0.1 (not
timed) and driven by headless Debian chromium (playwright):

* **first render**: from ``page.goto`` (the server already up) until the page is complete:
  the date label is shown, the map's canvas holds an image and Bokeh reports its document
  idle. Median of ``--loads`` fresh pages, with the CPU time the server and the browser
  spent on it (what a busy machine stretches into the wall time).
* **slider step**: the time slider's handle gets an arrow key; the time from that key press
  (a capturing ``keydown`` listener in the page) until the map's canvas shows different
  pixels (compared on every animation frame). Median and 90th percentile of ``--steps``.
* **play**: the play button is pressed and the distinct map images drawn in 5 s are counted
  (frames per second).
* **Run model** (512² only, ``--no-model`` leaves it out): from the click on *Run model on
  this glacier* until the status line reports the 61 predictions (fronts traced, the retreat
  curve ready), on a server that has not loaded the model yet, with the server's CPU seconds.
* **server CPU per step**: CPU seconds the server process used during the steps, per step:
  unlike the wall times it hardly depends on what else the machine runs (the load average
  is printed with every result).

512² is a demo world as ``make serve`` makes it (one glacier × 61 dates, 20 m pixels);
4096² a synthetic stack of 6 dates (speckle, 20 m pixels) in a folder of stacks. Goals of
issue 15: step ≤ 150 ms at 512² and ≤ 300 ms at 4096² (median), play ≥ 5 frames/s at 512²,
first complete render ≤ 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

# Every canvas of the page, through Panel's shadow roots; the map is the largest one in the
# upper part of the page (or the one inside .wb-map).
FIND_MAP = """
window.__wbCanvases = (root) => {
  const out = [];
  const walk = (node) => {
    if (!node) return;
    if (node.tagName === 'CANVAS') out.push(node);
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const c of node.children || []) walk(c);
  };
  walk(root || document.documentElement);
  return out;
};
window.__wbMap = () => {
  const host = document.querySelector('.wb-map');
  let cs = window.__wbCanvases(host || undefined).filter(c => c.width > 100 && c.height > 100);
  if (!host) cs = cs.filter(c => c.getBoundingClientRect().top < 700);
  cs.sort((a, b) => b.width * b.height - a.width * a.height);
  return cs[0] || null;
};
window.__wbHash = () => {
  // four 12 × 12 px patches inside the map: reading a whole canvas back on every animation
  // frame would cost the page more than what is measured
  const c = window.__wbMap();
  if (!c) return null;
  const ctx = c.getContext('2d', {willReadFrequently: true});
  if (!ctx) return null;
  let h = 0, spread = 0, first = null;
  for (const [fx, fy] of [[0.3, 0.3], [0.6, 0.35], [0.35, 0.65], [0.62, 0.6]]) {
    const d = ctx.getImageData(Math.floor(c.width * fx), Math.floor(c.height * fy), 12, 12).data;
    for (let i = 0; i < d.length; i += 4) {
      h = (h * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) % 1000000007;
      if (first === null) first = d[i];
      if (Math.abs(d[i] - first) > 8) spread++;
    }
  }
  return {hash: h, varied: spread > 40};
};
window.__wbT0 = null;
window.addEventListener('keydown', () => { window.__wbT0 = performance.now(); }, true);
window.__wbWaitChange = (before, timeout) => new Promise((resolve) => {
  const t0 = performance.now();
  const tick = () => {
    const h = window.__wbHash();
    if (h && h.hash !== before) { resolve(performance.now() - (window.__wbT0 || t0)); return; }
    if (performance.now() - t0 > timeout) { resolve(null); return; }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
});
"""

COMPLETE = """() => {
  const idle = window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents.every(d => d.is_idle);
  if (!idle) return false;
  const h = window.__wbHash && window.__wbHash();
  const label = document.querySelector('.wb-date') || (function () {  // the date text (before: .wb-date)
    const walk = (n) => { if (!n) return null;
      if (n.classList && (n.classList.contains('wb-date') || n.classList.contains('bk-slider-value'))) return n;
      if (n.shadowRoot) { const r = walk(n.shadowRoot); if (r) return r; }
      for (const c of n.children || []) { const r = walk(c); if (r) return r; } return null; };
    return walk(document.documentElement); })();
  return Boolean(h && h.varied && idle && label);
}"""


def demo_world(folder: Path) -> Path:
    """One glacier × 61 dates at 512², 20 m (the size ``make serve`` makes)."""
    from workbench.data.demo import make_demo_world

    root = folder / "world512"
    make_demo_world(root, n_glaciers=1, years=2.0, size=512, pixel_size=20)
    return root


def big_stacks(folder: Path, size: int = 4096, n: int = 6) -> Path:
    """A folder with one synthetic ``size``² stack of ``n`` dates (speckled dB values)."""
    import rioxarray  # noqa: F401 - the .rio accessor
    import xarray as xr

    from workbench.data.stack import write_stack

    rng = np.random.default_rng(0)
    px = 20.0
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = (-18 + 10 * np.sin(6 * xx) * np.cos(4 * yy)).astype("float32")
    data = np.stack(
        [
            base + rng.gamma(4.4, 1 / 4.4, (size, size)).astype("float32") * 3 - 3 + k
            for k in range(n)
        ]
    )
    ds = xr.Dataset(
        {"sigma0_db": (("time", "y", "x"), data, {"units": "dB"})},
        coords={
            "time": pd.date_range("2020-01-01", periods=n, freq="12D").values,
            "y": 8.7e6 - px * (np.arange(size) + 0.5),
            "x": 5e5 + px * (np.arange(size) + 0.5),
            "sensor": ("time", ["S1A"] * n),
            "orbit": ("time", ["160"] * n),
        },
    )
    root = folder / f"stacks{size}"
    root.mkdir(parents=True, exist_ok=True)
    write_stack(ds.rio.write_crs("EPSG:32633"), root / f"big{size}.zarr")
    return root


def serve(data: Path, port: int, repo: Path = REPO) -> subprocess.Popen:
    env = dict(os.environ)
    if repo != REPO:  # another checkout's explorer and package (before/after comparisons)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "panel",
            "serve",
            str(repo / "dashboards" / "explorer.py"),
            "--port",
            str(port),
            "--address",
            "127.0.0.1",
            "--args",
            str(data),
            "--no-shared",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=repo,
        env=env,
    )
    t0 = time.perf_counter()
    while True:  # the first request builds (and drops) one session: the server is warm afterwards
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/explorer", timeout=60)
            return proc
        except Exception:  # noqa: BLE001 - not up yet
            if proc.poll() is not None or time.perf_counter() - t0 > 180:
                proc.kill()
                raise RuntimeError("the explorer did not start") from None
            time.sleep(0.3)


def first_render(page, url: str) -> float:
    page.add_init_script(FIND_MAP)
    t0 = time.perf_counter()
    page.goto(url, timeout=120_000)
    page.wait_for_function(COMPLETE, timeout=120_000, polling=20)
    return time.perf_counter() - t0


def slider_steps(page, steps: int) -> list[float | None]:
    handle = page.locator(".wb-slider .noUi-handle").first
    times: list[float | None] = []
    key = "ArrowRight"
    for _ in range(steps):
        now, top = (float(handle.get_attribute(a)) for a in ("aria-valuenow", "aria-valuemax"))
        low = float(handle.get_attribute("aria-valuemin"))
        key = "ArrowLeft" if now >= top else "ArrowRight" if now <= low else key  # back and forth
        handle.focus()
        page.wait_for_timeout(250)  # the previous frame is settled
        before = page.evaluate("() => window.__wbHash().hash")
        page.evaluate(
            "(b) => { window.__wbT0 = null; window.__wbR = undefined;"
            " window.__wbWaitChange(b, 5000).then((v) => { window.__wbR = v; }); }",
            before,
        )
        page.keyboard.press(key)
        page.wait_for_function("() => window.__wbR !== undefined", timeout=10_000, polling=50)
        dt = page.evaluate("() => window.__wbR")
        times.append(None if dt is None else float(dt))
    return times


def play_rate(page, seconds: float = 5.0) -> float | None:
    button = page.locator(".wb-play button").first
    # before issue 15 the page had Panel's Player: nine unlabelled buttons, the sixth plays
    player = """(k) => { const walk = (n) => { if (!n) return null;
        const b = [...(n.children || [])].filter(c => c.tagName === 'BUTTON');
        if (b.length === 9) return b; if (n.shadowRoot) { const r = walk(n.shadowRoot); if (r) return r; }
        for (const c of n.children || []) { const r = walk(c); if (r) return r; } return null; };
      const b = walk(document.documentElement); if (!b) return false; b[k].click(); return true; }"""
    if button.count():
        button.click()
    elif not page.evaluate(player, 5):
        return None
    frames = page.evaluate(
        """(ms) => new Promise((resolve) => {
      let last = window.__wbHash().hash, n = 0; const t0 = performance.now();
      const tick = () => { const h = window.__wbHash().hash; if (h !== last) { n++; last = h; }
        if (performance.now() - t0 < ms) requestAnimationFrame(tick); else resolve(n); };
      requestAnimationFrame(tick); })""",
        seconds * 1000,
    )
    if button.count():
        button.click()  # pause
    else:
        page.evaluate(player, 4)
    return frames / seconds


def run_model(page, proc: subprocess.Popen) -> tuple[float, float]:
    """Wall seconds from the click on *Run model on this glacier* until the status line reports
    the predictions and the retreat curve has its predicted positions (model not yet loaded in
    the server, nothing cached), and the server's CPU seconds meanwhile."""
    cpu0 = _cpu_seconds(proc)
    t0 = time.perf_counter()
    page.get_by_role("button", name="Run model on this glacier").click()
    page.wait_for_selector("text=predictions (zones)", timeout=300_000)
    return time.perf_counter() - t0, _cpu_seconds(proc) - cpu0


def run(
    data: Path,
    label: str,
    port: int,
    steps: int,
    loads: int,
    repo: Path = REPO,
    model: bool = False,
) -> dict:
    from playwright.sync_api import sync_playwright

    proc = serve(data, port, repo)
    url = f"http://127.0.0.1:{port}/explorer"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            firsts, server_cpu, browser_cpu = [], [], []
            for _ in range(loads):
                ctx = browser.new_context(viewport={"width": 1500, "height": 1100})
                page = ctx.new_page()
                s0, b0 = _cpu_seconds(proc), _browser_cpu_seconds(proc)
                firsts.append(first_render(page, url))
                server_cpu.append(_cpu_seconds(proc) - s0)
                browser_cpu.append(_browser_cpu_seconds(proc) - b0)
                ctx.close()
            ctx = browser.new_context(viewport={"width": 1500, "height": 1100})
            page = ctx.new_page()
            first_render(page, url)
            page.wait_for_timeout(1000)
            cpu0, load0 = _cpu_seconds(proc), os.getloadavg()[0]
            times = slider_steps(page, steps)
            cpu_per_step = (_cpu_seconds(proc) - cpu0) / steps
            fps = play_rate(page)
            model_s, model_cpu = run_model(page, proc) if model else (None, None)
            ctx.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(30)
    got = [t for t in times if t is not None]
    return {
        "data": label,
        "first_render_s": statistics.median(firsts),
        "first_render_all_s": firsts,
        "first_render_server_cpu_s": statistics.median(server_cpu),
        "first_render_browser_cpu_s": statistics.median(browser_cpu),
        "step_ms_median": statistics.median(got) if got else None,
        "step_ms_p90": float(np.percentile(got, 90)) if got else None,
        "steps": len(times),
        "steps_without_change": len(times) - len(got),
        "play_fps": fps,
        "server_cpu_ms_per_step": 1e3 * cpu_per_step,
        "load_average": load0,
        "run_model_s": model_s,
        "run_model_server_cpu_s": model_cpu,
        "load_average_after": os.getloadavg()[0],
    }


def _browser_cpu_seconds(server: subprocess.Popen) -> float:
    """CPU time of this process's other descendants (playwright's driver and chromium)."""
    import psutil

    skip = {server.pid, *(q.pid for q in psutil.Process(server.pid).children(recursive=True))}
    total = 0.0
    for q in psutil.Process().children(recursive=True):
        if q.pid not in skip:
            try:
                total += sum(q.cpu_times()[:2])
            except psutil.NoSuchProcess:
                pass
    return total


def _cpu_seconds(proc: subprocess.Popen) -> float:
    """CPU time (user + system) of the server process and its children so far: what a step costs
    the server whatever else the machine is doing (wall times depend on the load)."""
    import psutil

    p = psutil.Process(proc.pid)
    return sum(sum(q.cpu_times()[:2]) for q in [p, *p.children(recursive=True)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[512, 4096], choices=[512, 4096])
    ap.add_argument("--steps", type=int, default=24, help="slider steps per size (median of these)")
    ap.add_argument("--loads", type=int, default=3, help="fresh page loads for the first render")
    ap.add_argument(
        "--data", type=Path, help="folder to keep the generated data in (default: a temp folder)"
    )
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument(
        "--no-model",
        action="store_true",
        help="leave out *Run model* (61 dates at 512² with the packaged demo_zones model)",
    )
    ap.add_argument(
        "--repo",
        type=Path,
        default=REPO,
        help="serve the explorer of another checkout (its package first on PYTHONPATH), e.g. "
        "`mkdir /tmp/old && git archive COMMIT | tar -x -C /tmp/old`, for before/after numbers",
    )
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"needs Debian's chromium at {CHROMIUM} (make chromium)")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data or Path(tmp)
        for k, size in enumerate(args.sizes):
            make = demo_world if size == 512 else big_stacks
            name = "world512" if size == 512 else f"stacks{size}"
            data = folder / name if (folder / name).exists() else make(folder)
            model = size == 512 and not args.no_model
            r = run(data, f"{size}²", 5391 + k, args.steps, args.loads, args.repo.resolve(), model)
            results.append(r)
            fps = f"{r['play_fps']:.1f} frames/s" if r["play_fps"] is not None else "no play button"
            print(
                f"{r['data']}: first render {r['first_render_s']:.2f} s (median of {args.loads}; CPU "
                f"{r['first_render_server_cpu_s']:.2f} s server + {r['first_render_browser_cpu_s']:.2f} s "
                f"browser); "
                f"slider step {r['step_ms_median']:.0f} ms median, {r['step_ms_p90']:.0f} ms p90 "
                f"({r['steps']} steps, {r['steps_without_change']} without a new image; server CPU "
                f"{r['server_cpu_ms_per_step']:.0f} ms per step); play {fps}; load average "
                f"{r['load_average']:.1f} on {os.cpu_count()} cores",
                flush=True,
            )
            if r["run_model_s"] is not None:
                print(
                    f"{r['data']}: Run model (61 dates, demo_zones, cold) {r['run_model_s']:.1f} s "
                    f"(server CPU {r['run_model_server_cpu_s']:.1f} s; load average "
                    f"{r['load_average_after']:.1f})",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
