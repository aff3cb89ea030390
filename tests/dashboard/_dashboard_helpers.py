"""Fixtures of the dashboard tests: a small demo world, a tiny checkpoint, a live server.

The server is the real ``panel serve dashboards/explorer.py`` on a free port, started once per
session and always killed at teardown. Browser tests use Debian's chromium through
pytest-playwright (``browser_type_launch_args``); they skip when /usr/bin/chromium is absent.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "outputs" / "test-artifacts" / "dashboard"


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> Path:
    """Two glaciers, 10 dates, 128² at 40 m."""
    from workbench.data.demo import make_demo_world

    root = tmp_path_factory.mktemp("dash") / "world"
    make_demo_world(root, n_glaciers=2, years=0.3, size=128, pixel_size=40)
    return root


@pytest.fixture(scope="session")
def wide_stacks(tmp_path_factory) -> Path:
    """A folder of scene stacks (dataset "stacks") with one stack that is not square: 96 rows ×
    160 columns at 30 m, 4 dates, EPSG:32633."""
    import numpy as np
    import pandas as pd
    import rioxarray  # noqa: F401 - the .rio accessor
    import xarray as xr

    from workbench.data.stack import write_stack

    rng = np.random.default_rng(3)
    rows, cols, px = 96, 160, 30.0
    ds = xr.Dataset(
        {
            "sigma0_db": (
                ("time", "y", "x"),
                rng.normal(-12, 3, (4, rows, cols)).astype("float32"),
                {"units": "dB"},
            )
        },
        coords={
            "time": pd.date_range("2021-03-01", periods=4, freq="12D").values,
            "y": 8.75e6 - px * (np.arange(rows) + 0.5),
            "x": 4.9e5 + px * (np.arange(cols) + 0.5),
            "sensor": ("time", ["S1A"] * 4),
            "orbit": ("time", ["14"] * 4),
        },
    )
    root = tmp_path_factory.mktemp("wide") / "stacks"
    root.mkdir()
    write_stack(ds.rio.write_crs("EPSG:32633"), root / "Widebreen.zarr")
    return root


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A random-weight small caffe_unet checkpoint (the demo models may be absent)."""
    import torch

    from workbench.models import create_model, save_checkpoint

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ckpt")
    return save_checkpoint(create_model("caffe_unet", preset="small"), folder / "tiny_zones.pt")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 90.0, proc: subprocess.Popen | None = None) -> bytes:
    t0 = time.time()
    last: Exception | None = None
    while time.time() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                if r.status == 200:
                    return r.read()
        except Exception as err:  # noqa: BLE001 - not up yet
            last = err
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer in {timeout} s: {last}")


def start_server(args: list[str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "panel",
        "serve",
        str(REPO / "dashboards" / "explorer.py"),
        "--port",
        str(port),
        "--address",
        "127.0.0.1",
        "--allow-websocket-origin",
        f"127.0.0.1:{port}",
        "--args",
        *args,
    ]
    fh = open(log, "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True
    )
    proc._log = fh  # type: ignore[attr-defined]
    return proc, f"http://127.0.0.1:{port}/explorer"


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    proc._log.close()  # type: ignore[attr-defined]


server_log: list[Path | None] = [None]


# A browser tab that closes while the server still pushes an update makes tornado log
# "Task exception was never retrieved ... WebSocketClosedError": the client left; not an app error.
CLIENT_GONE = ("WebSocketClosedError", "StreamClosedError")


def log_errors(log: Path) -> list[str]:
    """First lines of the server log's application errors (tracebacks and failed handlers),
    leaving out the traceback of a write to a websocket whose browser tab has closed."""
    text = log.read_text(errors="replace") if log and log.exists() else ""
    lines = text.splitlines()
    errors = []
    for i, ln in enumerate(lines):
        if "Error running application handler" in ln:
            errors.append(ln)
        elif "Traceback" in ln and not (i and "Traceback" in lines[i - 1]):
            block = [ln]
            for nxt in lines[i + 1 :]:
                if nxt[:4].isdigit() or nxt.startswith("WARNING:"):  # the next log record
                    break
                block.append(nxt)
            if not any(gone in b for b in block for gone in CLIENT_GONE):
                errors.append(ln)
    return errors


@pytest.fixture(scope="session")
def edits_dir(tmp_path_factory) -> Path:
    """Where the test server saves fronts corrected by hand (``--edits``)."""
    return tmp_path_factory.mktemp("edits")


@pytest.fixture(scope="session")
def server(world, wide_stacks, tiny_checkpoint, edits_dir, tmp_path_factory):
    """URL of a live explorer with the tiny checkpoint and the packaged demo_zones (no shared data) over three datasets:
    "world" (the small demo world, the default view), "stacks" (:func:`wide_stacks`) and
    "caffe" (the world's CaFFe-layout PNGs); corrected fronts go to :func:`edits_dir`."""
    from workbench.checkpoints import packaged_checkpoints

    log = tmp_path_factory.mktemp("server") / "panel.log"
    proc, url = start_server(
        [
            str(world),
            str(wide_stacks),
            str(world / "caffe"),
            "--checkpoint",
            str(tiny_checkpoint),
            "--checkpoint",  # a trained model: fronts, and a TTA spread for the retreat band
            str(packaged_checkpoints()["demo_zones"]),
            "--no-shared",
            "--edits",
            str(edits_dir),
        ],
        log,
    )
    try:
        wait_http(url, proc=proc)
        server_log[0] = log
        yield url
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM.exists():
        pytest.skip("browser tests need Debian's chromium at /usr/bin/chromium (make chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
        ],
        "timeout": 60_000,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "viewport": {"width": 1500, "height": 1100},
        "accept_downloads": True,
    }


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# A Bokeh plot of the page by its model name ("wb-map", "wb-retreat", "wb-point"): the frame and
# every renderer's box in screen pixels, the ranges, the visible legend labels, as the browser
# has laid them out (Bokeh's own views, found from Bokeh.index through the view tree).
PLOT_JS = """(name) => {
  if (!window.Bokeh || !Bokeh.index) return null;
  const seen = new Set(); let found = null;
  const walk = (v) => { if (!v || seen.has(v) || found) return; seen.add(v);
    if (v.model && v.model.name === name && v.frame) { found = v; return; }
    const kids = v.child_views ?? (v.children ? [...v.children()] : []);
    for (const c of kids) walk(c); };
  for (const r of Object.values(Bokeh.index)) walk(r);
  if (!found) return null;
  const box = (b) => b ? {x: b.x, y: b.y, width: b.width, height: b.height} : null;
  const views = [];
  const rv = found.renderer_views;
  for (const v of (rv instanceof Map ? rv.values() : Object.values(rv || {}))) {
    const entry = {type: v.model.type, name: v.model.name, visible: v.model.visible,
                   bbox: box(v.bbox ?? v.layout?.bbox)};
    if (v.model.type === 'Legend') entry.labels = v.model.items.filter(i => i.visible).map(i => i.label.value);
    if (v.model.type === 'Span') entry.location = v.model.location;
    if (v.model.type === 'GlyphRenderer') entry.n = v.model.data_source.get_length();
    views.push(entry);
  }
  const m = found.model;
  return {frame: box(found.frame.bbox), x_range: [m.x_range.start, m.x_range.end],
          y_range: [m.y_range.start, m.y_range.end], title: m.title ? m.title.text : null,
          sizing_mode: m.sizing_mode, views: views, page: box(found.el.getBoundingClientRect())};
}"""


RENDERER_DATA_JS = """([plot, name]) => {
  const seen = new Set(); let found = null;
  const walk = (v) => { if (!v || seen.has(v) || found) return; seen.add(v);
    if (v.model && v.model.name === plot && v.frame) { found = v; return; }
    const kids = v.child_views ?? (v.children ? [...v.children()] : []);
    for (const c of kids) walk(c); };
  for (const r of Object.values(Bokeh.index)) walk(r);
  if (!found) return null;
  const r = found.model.renderers.find((r) => r.name === name);
  if (!r) return null;
  const out = {};
  const data = r.data_source.data;
  const entries = data instanceof Map ? [...data.entries()] : Object.entries(data);
  for (const [k, v] of entries) out[k] = Array.from(v, (e) => (e && e.length !== undefined) ? Array.from(e) : e);
  return out;
}"""


def renderer_data(page, name: str, plot: str = "wb-map") -> dict | None:
    """The data source columns of the renderer ``name`` of plot ``plot``, as the browser has them."""
    return page.evaluate(RENDERER_DATA_JS, [plot, name])


def to_screen(geo: dict, x: float, y: float) -> tuple[float, float]:
    """Page pixel position of map coordinates (x, y) in a plot's :data:`PLOT_JS` geometry."""
    f, (x0, x1), (y0, y1) = geo["frame"], geo["x_range"], geo["y_range"]
    return (
        geo["page"]["x"] + f["x"] + (x - x0) / (x1 - x0) * f["width"],
        geo["page"]["y"] + f["y"] + (y1 - y) / (y1 - y0) * f["height"],
    )


def plot_geometry(page, name: str = "wb-map") -> dict | None:
    """:data:`PLOT_JS` of the plot ``name`` (None while the page has not drawn it)."""
    return page.evaluate(PLOT_JS, name)


def wait_until(fn, timeout: float = 30.0):
    """Poll ``fn`` every 0.2 s until it returns something truthy (or ``timeout`` s pass);
    return its last value."""
    deadline = time.time() + timeout
    value = fn()
    while not value and time.time() < deadline:
        time.sleep(0.2)
        value = fn()
    return value


def wait_plot(
    page, name: str = "wb-map", *, title: str | None = None, timeout: float = 60.0
) -> dict:
    """The plot's geometry once drawn (with ``title``, when given: after a dataset switch)."""
    deadline = time.time() + timeout
    geo = None
    while time.time() < deadline:
        geo = plot_geometry(page, name)
        if geo and geo["frame"]["width"] > 0 and (title is None or geo["title"] == title):
            return geo
        page.wait_for_timeout(200)
    raise AssertionError(f"plot {name} (title {title!r}) not drawn in {timeout} s: {geo}")


def pane_text(page, selector: str) -> str:
    """Text of the Panel pane(s) with CSS class selector ``selector``, including what they draw
    inside their shadow root (where ``inner_text`` does not look)."""
    return page.evaluate(
        """(sel) => [...document.querySelectorAll('*')].length && (() => {
        const out = []; const walk = (n) => { if (!n) return;
          if (n.matches && n.matches(sel)) out.push((n.shadowRoot ? n.shadowRoot.textContent : '') + n.textContent);
          if (n.shadowRoot) walk(n.shadowRoot); for (const c of n.children || []) walk(c); };
        walk(document.documentElement); return out.join(' ');
    })()""",
        selector,
    )
