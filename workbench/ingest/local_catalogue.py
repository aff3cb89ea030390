"""Write a small static STAC catalogue of Sentinel-1 RTC-like Cloud-Optimized GeoTIFFs.

``workbench stack`` reads real catalogues (Planetary Computer, OPERA, Copernicus Data Space);
this module writes a local one with the same layout so the whole path can be tried, tested
and timed offline: one STAC Item per acquisition with one COG asset per polarisation, the
``sar``, ``sat`` and ``proj`` properties real catalogues carry, and the footprint in
longitude/latitude. Items are described by :class:`Scene`; :func:`write_catalogue` writes
them with ``pystac`` (a self-contained ``catalog.json``) and ``rasterio`` (the COGs).

Examples
--------
>>> import tempfile, pathlib, datetime
>>> import numpy as np
>>> from affine import Affine
>>> scene = Scene(id="S1A_20190412", datetime=datetime.datetime(2019, 4, 12, 7, 12),
...               crs="EPSG:32633", transform=Affine(20, 0, 500000, 0, -20, 8700000),
...               bands={"vv": np.full((32, 32), 0.05, np.float32)})
>>> root = write_catalogue(pathlib.Path(tempfile.mkdtemp()) / "cat", [scene])
>>> import pystac
>>> [item.id for item in pystac.Catalog.from_file(root).get_items(recursive=True)]
['S1A_20190412']
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench._io import atomic_path

__all__ = ["Scene", "write_catalogue", "glacier_catalogue"]

PC_NODATA = -32768.0
"""The nodata value of Planetary Computer's ``sentinel-1-rtc`` COGs (float32)."""


@dataclass
class Scene:
    """One acquisition: its pixels per polarisation (asset key → 2-D array) and metadata.

    ``bands`` keys become the asset keys (``"vv"`` like Planetary Computer, ``"VV"`` like
    OPERA); the polarisation list in ``sar:polarizations`` is derived from them unless
    ``polarizations`` is given (``[]`` leaves the property out, as some catalogues do). NaN
    pixels are written as ``nodata``.
    """

    id: str
    datetime: _dt.datetime
    crs: Any
    transform: Any
    bands: Mapping[str, np.ndarray]
    platform: str = "SENTINEL-1A"
    orbit_state: str = "ascending"
    relative_orbit: int = 15
    polarizations: list[str] | None = None
    nodata: float = PC_NODATA
    unit: str | None = None
    """``raster:bands[0].unit`` of every asset (e.g. ``"linear power"``), if any."""
    properties: dict[str, Any] = field(default_factory=dict)


def _footprint(crs: Any, transform: Any, shape: tuple[int, int]) -> dict[str, Any]:
    """The raster's outline in EPSG:4326 as GeoJSON (edges densified)."""
    from rasterio.transform import array_bounds
    from rasterio.warp import transform_geom
    from shapely.geometry import box, mapping

    west, south, east, north = array_bounds(*shape, transform)  # (height, width, transform)
    outline = box(west, south, east, north)
    return transform_geom(
        crs, "EPSG:4326", mapping(outline), antimeridian_cutting=True, precision=-1
    )


def _write_cog(path: Path, array: np.ndarray, crs: Any, transform: Any, nodata: float) -> None:
    import rasterio

    data = np.where(np.isfinite(array), array, nodata).astype(np.float32)
    with atomic_path(path) as tmp:
        with rasterio.open(
            tmp,
            "w",
            driver="COG",
            width=data.shape[1],
            height=data.shape[0],
            count=1,
            dtype="float32",
            crs=crs,
            transform=transform,
            nodata=nodata,
            compress="deflate",
            blocksize=256,
        ) as dst:
            dst.write(data, 1)


def write_catalogue(
    root: str | os.PathLike[str],
    scenes: Iterable[Scene],
    *,
    collection_id: str = "sentinel-1-rtc",
    description: str = "Sentinel-1 RTC-like scenes written by the workbench",
) -> Path:
    """Write ``scenes`` as a self-contained static STAC catalogue under ``root``.

    Layout: ``root/catalog.json``, ``root/<collection_id>/collection.json`` and per item
    ``root/<collection_id>/<id>/<id>.json`` with its COGs ``<id>_<asset>.tif`` beside it.
    Returns the path of ``catalog.json``.
    """
    import pystac
    from rasterio.crs import CRS
    from shapely.geometry import shape as to_shape

    root = Path(root)
    scenes = list(scenes)
    if not scenes:
        raise ValueError("write_catalogue needs at least one scene")
    items = []
    for s in scenes:
        first = next(iter(s.bands.values()))
        geometry = _footprint(s.crs, s.transform, first.shape)
        when = s.datetime if s.datetime.tzinfo else s.datetime.replace(tzinfo=_dt.UTC)
        crs = CRS.from_user_input(s.crs)
        props = {
            "platform": s.platform,
            "constellation": "Sentinel-1",
            "sar:instrument_mode": "IW",
            "sar:frequency_band": "C",
            "sar:product_type": "RTC",
            "sar:polarizations": (
                [k.upper() for k in s.bands] if s.polarizations is None else s.polarizations
            ),
            "sat:orbit_state": s.orbit_state,
            "sat:relative_orbit": int(s.relative_orbit),
            "proj:code": f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else None,
            **s.properties,
        }
        props = {k: v for k, v in props.items() if v not in (None, [])}  # [] leaves it out
        item = pystac.Item(
            id=s.id,
            geometry=geometry,
            bbox=list(to_shape(geometry).bounds),
            datetime=when,
            properties=props,
            collection=collection_id,
        )
        folder = root / collection_id / s.id
        for key, array in s.bands.items():
            href = folder / f"{s.id}_{key}.tif"
            _write_cog(href, array, s.crs, s.transform, s.nodata)
            band: dict[str, Any] = {"data_type": "float32", "nodata": s.nodata}
            if s.unit is not None:
                band["unit"] = s.unit
            item.add_asset(
                key,
                pystac.Asset(
                    href=str(href),
                    media_type=pystac.MediaType.COG,
                    roles=["data"],
                    title=f"{key.upper()} backscatter",
                    extra_fields={
                        "raster:bands": [band],
                        "proj:shape": list(array.shape),
                        "proj:transform": list(s.transform)[:6],
                    },
                ),
            )
        items.append(item)

    lon0, lat0, lon1, lat1 = (
        min(i.bbox[0] for i in items),
        min(i.bbox[1] for i in items),
        max(i.bbox[2] for i in items),
        max(i.bbox[3] for i in items),
    )
    times = sorted(i.datetime for i in items)
    collection = pystac.Collection(
        id=collection_id,
        description=description,
        license="CC-BY-4.0",
        extent=pystac.Extent(
            pystac.SpatialExtent([[lon0, lat0, lon1, lat1]]),
            pystac.TemporalExtent([[times[0], times[-1]]]),
        ),
    )
    collection.add_items(items)
    catalog = pystac.Catalog(id="workbench-local", description=description)
    catalog.add_child(collection)
    root.mkdir(parents=True, exist_ok=True)
    catalog.normalize_hrefs(str(root))
    for item in items:  # asset hrefs relative to their item, as a self-contained catalogue needs
        for asset in item.assets.values():
            asset.href = os.path.relpath(asset.href, Path(item.get_self_href()).parent)
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


def glacier_catalogue(
    root: str | os.PathLike[str],
    *,
    n_dates: int = 8,
    size: int = 256,
    pixel_size: float = 40.0,
    seed: int = 0,
    start: str = "2019-01-01",
    tiles: int = 2,
) -> Path:
    """A catalogue of the demo world's synthetic glacier (:mod:`workbench.data.synthetic`).

    Each date's σ0 becomes linear power split into ``tiles`` overlapping strips (items of
    one pass, to be mosaicked), all from ascending relative orbit 15 (the simulator has one
    look direction); CRS UTM 33N like the demo world. A model trained on the demo world
    (``demo_zones``) finds the fronts in a stack built from it. Every item carries the
    simulator's flow direction as ``workbench:flow_azimuth_deg`` (degrees clockwise from
    north, down flow), from which a retreat box can be drawn
    (:func:`workbench.viz.sources.demo_box`).
    """
    from affine import Affine

    from workbench.data.synthetic import simulate_glacier

    years = max(n_dates * 12 / 365.25, 0.05)
    g = simulate_glacier(
        seed=seed,
        start=start,
        years=years,
        size=(size, size),
        pixel_size=pixel_size,
        optical_bands=("B4",),
    )
    stack = g.stack.isel(time=slice(0, n_dates))
    db = stack["sigma0_db"].values
    x0 = float(stack.x.values[0]) - pixel_size / 2
    y0 = float(stack.y.values[0]) + pixel_size / 2
    scenes = []
    overlap = max(size // 16, 2)
    edges = np.linspace(0, size, tiles + 1).astype(int)
    for i, when in enumerate(stack["time"].values):
        stamp = _dt.datetime.fromisoformat(str(np.datetime_as_string(when, "s"))) + _dt.timedelta(
            hours=7, minutes=12
        )
        platform = (
            "SENTINEL-1" + str(stack["sensor"].values[i])[-1]
            if "sensor" in stack.coords
            else "SENTINEL-1A"
        )
        for t in range(tiles):
            r0, r1 = max(edges[t] - overlap, 0), min(edges[t + 1] + overlap, size)
            power = 10.0 ** (db[i, r0:r1] / 10.0)
            transform = Affine(pixel_size, 0, x0, 0, -pixel_size, y0 - r0 * pixel_size)
            sid = (
                f"S1{platform[-1]}_IW_{np.datetime_as_string(when, 'D').replace('-', '')}"
                f"T071200_{t}"
            )
            scenes.append(
                Scene(
                    id=sid,
                    datetime=stamp + _dt.timedelta(seconds=25 * t),
                    crs="EPSG:32633",
                    transform=transform,
                    bands={"vv": power.astype(np.float32)},
                    platform=platform,
                    orbit_state="ascending",
                    relative_orbit=15,
                    properties={
                        "workbench:flow_azimuth_deg": float(g.stack.attrs["flow_azimuth_deg"])
                    },
                )
            )
    return write_catalogue(root, scenes)
