"""The built-in demo world on disk: what ``workbench demo`` and ``make serve`` write.

Layout of the folder (written atomically: complete, or absent)::

    manifest.json              what is here, with the parameters that made it
    preview.png                mosaic: SAR image, zones and front positions per glacier
    stacks/<glacier>.zarr      every variable (sigma0_db, coherence, optical, dem, labels)
    stacks/<glacier>.tif       sigma0_db, one band per date (+ <glacier>.dates.csv)
    caffe/sar_images/…png      CaFFe-layout export (8-bit image, zones, fronts), see
    caffe/zones/…_zones.png    :data:`DB_RANGE` for the dB → 8-bit mapping
    caffe/fronts/…_front.png
    fronts.gpkg                exact ground-truth front lines, one row per glacier and date
    outlines.gpkg              exact glacier outlines, one row per glacier and date
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from workbench._io import atomic_path
from workbench.data.caffe import write_caffe_sample
from workbench.data.stack import write_stack
from workbench.data.synthetic import SyntheticGlacier, preview_figure, simulate_world
from workbench.errors import DataError

__all__ = ["DB_RANGE", "MANIFEST", "make_demo_world", "db_to_uint8", "caffe_stem", "load_manifest"]

MANIFEST = "manifest.json"
DB_RANGE: tuple[float, float] = (-30.0, 5.0)
"""sigma0 range in dB mapped linearly onto 1..255 in the CaFFe-layout PNGs (0 = no data)."""


def db_to_uint8(sigma0_db: np.ndarray, db_range: tuple[float, float] = DB_RANGE) -> np.ndarray:
    """Map backscatter in dB onto 8-bit grey values: ``db_range`` → 1..255, NaN → 0.

    Examples
    --------
    >>> db_to_uint8(np.array([-40.0, -30.0, -12.5, 5.0, np.nan]))
    array([  1,   1, 128, 255,   0], dtype=uint8)
    """
    lo, hi = db_range
    scaled = 1.0 + 254.0 * (np.clip(sigma0_db, lo, hi) - lo) / (hi - lo)
    return np.where(np.isfinite(sigma0_db), np.rint(scaled), 0).astype(np.uint8)


def caffe_stem(
    glacier: str, date: Any, sensor: str, pixel_size: float, orbit: Any, quality: int = 1
) -> str:
    """The CaFFe file stem ``Glacier_Date_Sensor_Resolution_Quality_Orbit`` of one date.

    Examples
    --------
    >>> caffe_stem("Kongsbreen", "2019-01-13", "S1A", 20.0, 14)
    'Kongsbreen_2019-01-13_S1_20_1_014'
    """
    name = glacier.replace("_", "-")
    day = pd.Timestamp(date).strftime("%Y-%m-%d")
    sensor = "S1" if str(sensor).upper().startswith("S1") else str(sensor)
    return f"{name}_{day}_{sensor}_{pixel_size:g}_{quality}_{int(orbit):03d}"


def _write_glacier(g: SyntheticGlacier, root: Path, bar: tqdm) -> dict[str, Any]:
    ds = g.stack
    name = g.name
    write_stack(ds, root / "stacks" / f"{name}.zarr")
    write_stack(ds, root / "stacks" / f"{name}.tif")
    px = float(ds.attrs["pixel_size"])
    sigma = ds["sigma0_db"].values
    zones = ds["zones"].values
    front = ds["front"].values
    for i, t in enumerate(ds["time"].values):
        stem = caffe_stem(name, t, ds["sensor"].values[i], px, ds["orbit"].values[i])
        write_caffe_sample(
            root / "caffe", stem, db_to_uint8(sigma[i]), zones[i], front[i].astype(bool)
        )
        bar.update(1)
    position = g.front_position_m
    return {
        "name": name,
        "seed": int(ds.attrs["seed"]),
        "n_dates": int(ds.sizes["time"]),
        "start": str(ds["time"].values[0])[:10],
        "end": str(ds["time"].values[-1])[:10],
        "zarr": f"stacks/{name}.zarr",
        "geotiff": f"stacks/{name}.tif",
        "bounds": [float(v) for v in ds.rio.bounds()],
        "net_front_change_m": float(position.iloc[-1] - position.iloc[0]),
    }


def make_demo_world(
    out: str | Path = "demo_data",
    *,
    n_glaciers: int = 3,
    years: float = 2.0,
    seed: int = 0,
    size: int = 512,
    pixel_size: float = 20.0,
    start: str = "2019-01-01",
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Simulate the demo world and write it to ``out``; return its manifest.

    Parameters
    ----------
    out
        Target folder. It is built beside itself and renamed into place at the end, so an
        interrupted run leaves nothing behind.
    n_glaciers, years, seed, size, pixel_size, start
        Passed to :func:`workbench.data.synthetic.simulate_world` (square scenes of ``size``
        pixels, dates every 12 days).
    overwrite
        Replace an existing world; otherwise an existing ``out`` is an error.
    progress
        Show progress bars.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "world"
    >>> manifest = make_demo_world(root, n_glaciers=1, years=0.1, size=96, pixel_size=50)
    >>> sorted(p.name for p in root.iterdir())
    ['caffe', 'fronts.gpkg', 'manifest.json', 'outlines.gpkg', 'preview.png', 'stacks']
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise DataError(
            "already exists",
            path=out,
            expected="a new folder, or overwrite=True (workbench demo --force)",
        )
    if n_glaciers < 1 or years <= 0 or size < 32 or pixel_size <= 0:
        raise DataError(
            f"got glaciers={n_glaciers}, years={years}, size={size}, pixel_size={pixel_size}",
            expected="glaciers ≥ 1, years > 0, size ≥ 32, pixel_size > 0",
        )
    t0 = time.perf_counter()
    glaciers = simulate_world(
        n_glaciers,
        seed=seed,
        years=years,
        size=(size, size),
        pixel_size=pixel_size,
        start=start,
        progress=progress,
    )
    with atomic_path(out) as tmp:
        tmp.mkdir()
        n_dates = sum(g.stack.sizes["time"] for g in glaciers)
        with tqdm(
            total=n_dates, desc="writing demo world", unit="date", disable=not progress
        ) as bar:
            entries = [_write_glacier(g, tmp, bar) for g in glaciers]
        fronts = pd.concat([g.fronts for g in glaciers], ignore_index=True)
        outlines = pd.concat([g.outlines for g in glaciers], ignore_index=True)
        gpd.GeoDataFrame(fronts, crs=glaciers[0].fronts.crs).to_file(
            tmp / "fronts.gpkg", driver="GPKG"
        )
        gpd.GeoDataFrame(outlines, crs=glaciers[0].outlines.crs).to_file(
            tmp / "outlines.gpkg", driver="GPKG"
        )
        fig = preview_figure(glaciers)
        fig.savefig(tmp / "preview.png", dpi=80)
        manifest = {
            "format": "glacier-workbench demo world 1",
            "seed": seed,
            "years": years,
            "size": size,
            "pixel_size": pixel_size,
            "start": start,
            "crs": str(glaciers[0].stack.rio.crs),
            "caffe": "caffe",
            "fronts": "fronts.gpkg",
            "outlines": "outlines.gpkg",
            "db_range": list(DB_RANGE),
            "glaciers": entries,
            "seconds": round(time.perf_counter() - t0, 2),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def load_manifest(root: str | Path) -> dict[str, Any]:
    """Read a demo world's manifest, with a clear error when ``root`` is not one."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise DataError(
            "has no manifest.json", path=root, expected="a demo world written by `workbench demo`"
        )
    return json.loads(path.read_text())
