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
    cmd = [sys.executable, "-m", "panel", "serve", str(REPO / "dashboards" / "explorer.py"),
           "--port", str(port), "--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}",
           "--args", *args]
    fh = open(log, "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
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
            for nxt in lines[i + 1:]:
                if nxt[:4].isdigit() or nxt.startswith("WARNING:"):  # the next log record
                    break
                block.append(nxt)
            if not any(gone in b for b in block for gone in CLIENT_GONE):
                errors.append(ln)
    return errors


@pytest.fixture(scope="session")
def server(world, tiny_checkpoint, tmp_path_factory):
    """URL of a live explorer on the small world with the tiny checkpoint (no shared data)."""
    log = tmp_path_factory.mktemp("server") / "panel.log"
    proc, url = start_server([str(world), "--checkpoint", str(tiny_checkpoint), "--no-shared"], log)
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
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"],
        "timeout": 60_000,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1500, "height": 1100}, "accept_downloads": True}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
