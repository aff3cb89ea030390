"""A small static STAC catalogue of Sentinel-1 RTC-like COGs for the ``workbench stack`` tests
(imported as ``_stac_helpers``), and a real STAC API server (``rustac serve``) over it.

The catalogue (collection ``sentinel-1-rtc``, Planetary Computer's conventions: lowercase
asset keys, linear γ0 power, nodata -32768) lies around 15° E, 78.9° N (UTM 33N). Every
item holds one constant power value, so the expected dB of each date is exact:

=====================  ===========  ==========  =====================================
date (UTC)             orbit        value       what it tests
=====================  ===========  ==========  =====================================
2019-04-01 07:12:00    asc 15  S1A  0.10        plain
2019-04-06 16:05:00    desc 110 S1B 0.05        descending orbit
2019-04-13 07:12:00    asc 15  S1A  0.10/0.01   two items (west/east) → one mosaic
2019-04-18 16:05:00    desc 110 S1B 0.02        item in EPSG:3413 (another CRS)
2019-04-25 07:12:00    asc 15  S1A  0.20        plain
2019-04-30 16:05:00    desc 110 S1B 0.10        footprint covers ~40 % of the AOI → skipped
2019-05-07 07:12:00    asc 15  S1A  0.10        nodata over ~60 % of the AOI → skipped
=====================  ===========  ==========  =====================================
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pyproj
from affine import Affine

from workbench.ingest.local_catalogue import Scene, write_catalogue

PX = 20.0
X0, Y0 = 500000.0, 8760000.0  # UTM 33N corner of the full tiles
SIZE = 128  # tile size in pixels (2.56 km)
# the AOI: the central 64 x 64 px of the tiles, as a lon/lat box
_AOI_UTM = (X0 + 32 * PX, Y0 - 96 * PX, X0 + 96 * PX, Y0 - 32 * PX)

ASC = dict(platform="SENTINEL-1A", orbit_state="ascending", relative_orbit=15)
DESC = dict(platform="SENTINEL-1B", orbit_state="descending", relative_orbit=110)


def aoi_box() -> str:
    """``W,S,E,N`` of the test AOI (the lon/lat box inside the central 64² px)."""
    t = pyproj.Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    xs, ys = t.transform(
        [_AOI_UTM[0], _AOI_UTM[2], _AOI_UTM[0], _AOI_UTM[2]],
        [_AOI_UTM[1], _AOI_UTM[1], _AOI_UTM[3], _AOI_UTM[3]],
    )
    # the largest lon/lat box inside the UTM square
    return f"{sorted(xs)[1]:.6f},{sorted(ys)[1]:.6f},{sorted(xs)[2]:.6f},{sorted(ys)[2]:.6f}"


def _tile(value: float, cols: slice = slice(None), size: int = SIZE) -> np.ndarray:
    a = np.full((size, size), np.nan, np.float32)
    a[:, cols] = value
    return a


def _full(when: dt.datetime, value: float, orbit: dict, sid: str, **kw) -> Scene:
    return Scene(
        id=sid,
        datetime=when,
        crs="EPSG:32633",
        transform=Affine(PX, 0, X0, 0, -PX, Y0),
        bands={"vv": _tile(value), "vh": _tile(value / 5)},
        **orbit,
        **kw,
    )


def _polar_scene(when: dt.datetime, value: float, sid: str) -> Scene:
    """A 40 m tile in EPSG:3413 that contains the whole AOI."""
    t = pyproj.Transformer.from_crs("EPSG:32633", "EPSG:3413", always_xy=True)
    xs, ys = t.transform(
        [X0, X0 + SIZE * PX, X0, X0 + SIZE * PX], [Y0, Y0, Y0 - SIZE * PX, Y0 - SIZE * PX]
    )
    x0, y1 = np.floor(min(xs) / 40) * 40 - 400, np.ceil(max(ys) / 40) * 40 + 400
    n = int(np.ceil((max(max(xs) - x0, y1 - min(ys)) + 400) / 40))
    return Scene(
        id=sid,
        datetime=when,
        crs="EPSG:3413",
        transform=Affine(40, 0, x0, 0, -40, y1),
        bands={"vv": _tile(value, size=n), "vh": _tile(value / 5, size=n)},
        **DESC,
    )


EXPECTED = {  # kept date → (linear power, orbit direction, relative orbit, sensor)
    np.datetime64("2019-04-01T07:12:00"): (0.10, "ascending", 15, "S1A"),
    np.datetime64("2019-04-06T16:05:00"): (0.05, "descending", 110, "S1B"),
    np.datetime64("2019-04-13T07:12:00"): (None, "ascending", 15, "S1A"),  # the mosaic
    np.datetime64("2019-04-18T16:05:00"): (0.02, "descending", 110, "S1B"),
    np.datetime64("2019-04-25T07:12:00"): (0.20, "ascending", 15, "S1A"),
}
SKIPPED = {
    np.datetime64("2019-04-30T16:05:00"): "footprints cover",
    np.datetime64("2019-05-07T07:12:00"): "valid pixels cover",
}
MOSAIC_SPLIT_X = X0 + 64 * PX  # west of it 0.10, east 0.01


def scenes() -> list[Scene]:
    d = dt.datetime
    half = SIZE // 2
    west = Scene(
        id="S1A_20190413T071200_W",
        datetime=d(2019, 4, 13, 7, 12),
        crs="EPSG:32633",
        transform=Affine(PX, 0, X0, 0, -PX, Y0),
        bands={
            "vv": _tile(0.10, slice(0, half))[:, :half],
            "vh": _tile(0.02, slice(0, half))[:, :half],
        },
        **ASC,
    )
    east = Scene(
        id="S1A_20190413T071220_E",
        datetime=d(2019, 4, 13, 7, 12, 20),
        crs="EPSG:32633",
        transform=Affine(PX, 0, X0 + half * PX, 0, -PX, Y0),
        bands={"vv": _tile(0.01)[:, :half], "vh": _tile(0.002)[:, :half]},
        **ASC,
    )
    partial = Scene(
        id="S1B_20190430T160500",
        datetime=d(2019, 4, 30, 16, 5),
        crs="EPSG:32633",
        transform=Affine(PX, 0, X0, 0, -PX, Y0),
        bands={"vv": _tile(0.1)[:, :58], "vh": _tile(0.02)[:, :58]},
        **DESC,
    )
    holes = _full(d(2019, 5, 7, 7, 12), 0.1, ASC, "S1A_20190507T071200")
    holes.bands = {
        k: np.where(np.arange(SIZE)[None, :] < 58, v, np.nan).astype(np.float32)
        for k, v in holes.bands.items()
    }
    return [
        _full(d(2019, 4, 1, 7, 12), 0.10, ASC, "S1A_20190401T071200"),
        _full(d(2019, 4, 6, 16, 5), 0.05, DESC, "S1B_20190406T160500"),
        west,
        east,
        _polar_scene(d(2019, 4, 18, 16, 5), 0.02, "S1B_20190418T160500"),
        _full(d(2019, 4, 25, 7, 12), 0.20, ASC, "S1A_20190425T071200"),
        partial,
        holes,
    ]


def build_catalogue(root: Path, **kw) -> Path:
    """The catalogue above under ``root``; returns its ``catalog.json``."""
    return write_catalogue(root, scenes(), **kw)


def item_collection(catalog: Path, target: Path) -> tuple[Path, Path]:
    """An ItemCollection file (absolute asset hrefs) and its collection.json, for an API."""
    import pystac

    cat = pystac.Catalog.from_file(str(catalog))
    features = []
    collection = None
    for item in cat.get_items(recursive=True):
        collection = item.get_collection()
        item.make_asset_hrefs_absolute()
        for (
            asset
        ) in item.assets.values():  # file:// URIs: a bare path would resolve against the API URL
            asset.href = Path(asset.href).as_uri()
        d = item.to_dict(transform_hrefs=False)
        d["links"] = []
        features.append(d)
    target.mkdir(parents=True, exist_ok=True)
    items_path = target / "items.json"
    items_path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    col = collection.to_dict(include_self_link=False, transform_hrefs=False)
    col["links"] = []
    col_path = target / "collection.json"
    col_path.write_text(json.dumps(col))
    return items_path, col_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rustac_binary() -> str:
    """The ``rustac`` command of this environment (installed by the dev extra)."""
    exe = Path(sys.executable).with_name("rustac")
    found = str(exe) if exe.exists() else shutil.which("rustac")
    if not found:
        raise RuntimeError("rustac is not installed: pip install -e '.[dev]' installs it")
    return found


class StacServer:
    """``rustac serve`` (a real STAC API, in-memory backend) on 127.0.0.1, as a context."""

    def __init__(self, *hrefs: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.hrefs = [str(h) for h in hrefs]
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> StacServer:
        self.proc = subprocess.Popen(
            [rustac_binary(), "serve", *self.hrefs, "--addr", f"127.0.0.1:{self.port}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"rustac serve exited: {self.proc.stdout.read().decode()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("rustac serve did not answer within 30 s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
