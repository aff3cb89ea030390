"""What the explorer can open: data roots, datasets found in them, glacier time series.

The explorer (``dashboards/explorer.py``) and notebooks see every dataset through
:class:`SceneSeries`: dated images on one grid with per-date sensor/orbit, reference fronts
and outlines where they exist, and the box for the retreat curve. Readers are the package's
own (:func:`workbench.data.stack.open_stack`, :class:`workbench.data.caffe.CaffeDataset`,
:func:`workbench.geo.read_front_lines`); this module only arranges them.

Security: a :class:`DataRoots` is the only way paths are opened. Datasets are chosen by
*name* from the catalogue built when the server starts, and every path is resolved and
checked to lie inside one of the roots (``Path.resolve().is_relative_to(root)``) before
anything reads it.

Examples
--------
>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> roots = DataRoots([root])
>>> roots.resolve(root / "a" / ".." / "b") == (root / "b").resolve()
True
>>> roots.resolve("/etc/passwd")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
workbench.errors.DataError: /etc/passwd: lies outside the data roots (expected a path inside [...])
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from workbench.data.kinds import (
    PRODUCT_MANIFEST,
    detect_dataset_kind,
    is_stack_path,
    product_scenes,
)
from workbench.errors import DataError

__all__ = [
    "DataRoots",
    "DatasetEntry",
    "SceneSeries",
    "discover",
    "open_series",
    "clear_cache",
    "demo_box",
    "STACK_SUFFIXES",
]

STACK_SUFFIXES = (".zarr", ".nc", ".tif", ".tiff")
_LOCK = threading.RLock()
_SERIES: dict[tuple, SceneSeries] = {}


class DataRoots:
    """The folders a server may read, resolved once; :meth:`resolve` refuses anything else."""

    def __init__(self, roots: Iterable[str | os.PathLike[str]]) -> None:
        self.roots = tuple(dict.fromkeys(Path(r).expanduser().resolve() for r in roots))
        if not self.roots:
            raise DataError("no data roots given", expected="at least one folder")

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """``path`` resolved (symlinks, ``..``) if it lies inside a root, else DataError."""
        p = Path(path).expanduser()
        resolved = p.resolve()
        if not any(resolved == r or resolved.is_relative_to(r) for r in self.roots):
            raise DataError(
                "lies outside the data roots",
                path=p,
                expected=f"a path inside {[str(r) for r in self.roots]}",
            )
        return resolved

    def __contains__(self, path: Any) -> bool:
        try:
            self.resolve(path)
        except DataError:
            return False
        return True

    def __repr__(self) -> str:
        return f"DataRoots({[str(r) for r in self.roots]})"


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset in the catalogue: a display name, its kind and its (checked) path."""

    name: str
    kind: str  # demo | stacks | caffe | harald | products
    path: Path
    glaciers: tuple[str, ...]
    skipped: tuple[str, ...] = ()
    """Members left out because they cannot be opened ("file: reason"), shown as notes."""


_VIZ_KIND = {
    "demo_world": "demo",
    "products": "products",
    "caffe": "caffe",
    "lines": "harald",
    "stacks": "stacks",
}
"""The explorer's name for each kind of :func:`workbench.data.kinds.detect_dataset_kind` it
shows (a single stack or an unknown folder is not a dataset root)."""


def _kind_of(path: Path) -> str | None:
    kind = _VIZ_KIND.get(detect_dataset_kind(path).kind)
    if kind == "caffe" and not (path / "sar_images").is_dir():
        return None  # a split CaFFe layout (train/sar_images, ...): not browsed here
    return kind


def _glaciers(kind: str, path: Path) -> tuple[str, ...]:
    if kind == "demo":
        from workbench.data.demo import load_manifest

        return tuple(g["name"] for g in load_manifest(path)["glaciers"])
    if kind == "caffe":
        names = sorted({p.name.split("_")[0] for p in (path / "sar_images").glob("*.png")})
        return tuple(names)
    if kind == "harald":
        return tuple(sorted(p.name for p in (path / "lines").iterdir() if p.is_dir())) or (
            path.name,
        )
    if kind == "products":
        return tuple(c.name for c in product_scenes(path))
    return tuple(c.name for c in sorted(path.iterdir()) if is_stack_path(c))


def _openable(
    kind: str, path: Path, glaciers: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(stacks that open, "name: reason" of those that do not) of a folder of stacks; one
    broken file must not take the whole explorer down with it."""
    if kind != "stacks":
        return glaciers, ()
    from workbench.data.stack import open_stack

    good, bad = [], []
    for g in glaciers:
        try:
            open_stack(path / g, validate=False).close()
            good.append(g)
        except Exception as err:  # noqa: BLE001 - any unreadable file is skipped, with its reason
            bad.append(
                f"skipped {g}: it cannot be opened ({type(err).__name__}: "
                f"{str(err).splitlines()[0][:200] if str(err) else ''})"
            )
    return tuple(good), tuple(bad)


def discover(roots: DataRoots, *, depth: int = 2) -> dict[str, DatasetEntry]:
    """Datasets found in ``roots`` (each root itself and folders up to ``depth`` below it).

    Names are ``<root name>/<relative path>``; symlinks that leave the roots are skipped.
    """
    found: dict[str, DatasetEntry] = {}

    def visit(folder: Path, root: Path, level: int) -> None:
        try:
            folder = roots.resolve(folder)
        except DataError:
            return
        kind = _kind_of(folder) if folder.is_dir() else None
        if kind is not None:
            rel = folder.relative_to(root)
            name = root.name if str(rel) == "." else f"{root.name}/{rel.as_posix()}"
            try:
                glaciers, skipped = _openable(kind, folder, _glaciers(kind, folder))
            except Exception:  # noqa: BLE001 - an unreadable dataset is left out, not fatal
                return
            if glaciers:
                found[name] = DatasetEntry(name, kind, folder, glaciers, skipped)
            if kind != "stacks":
                return
        if level >= depth or not folder.is_dir():
            return
        for child in sorted(folder.iterdir()):
            if (
                child.is_dir()
                and not child.name.startswith(".")
                and child.suffix.lower() != ".zarr"
            ):
                visit(child, root, level + 1)

    for root in roots.roots:
        visit(root, root, 0)
    return found


@dataclass
class SceneSeries:
    """Dated images of one glacier on one grid, with what the explorer overlays on them.

    Attributes
    ----------
    images
        ``(time, y, x)`` float32 DataArray in memory (``sigma0_db`` in dB, or image values),
        with ``x``/``y`` map coordinates (or pixel coordinates without georeferencing).
    sensor, orbit
        Per-date strings.
    units
        Label of the image values (``"σ0 [dB]"``…).
    crs
        The grid's CRS (None: pixel coordinates).
    ref_fronts, ref_outlines
        GeoDataFrames with ``date`` (and geometry) in the grid's CRS, or None.
    box, upstream
        Box polygon (grid CRS) and upstream hint for :func:`workbench.geo.retreat_box`.
    stack
        The scene stack for :func:`workbench.inference.predict` (None: not predictable).
    products
        Predictions read from ``workbench predict`` products (a result dict as returned by
        :func:`workbench.viz.state.predict_series`), or None.
    """

    key: str
    glacier: str
    kind: str
    images: xr.DataArray
    sensor: list[str]
    orbit: list[str]
    units: str = "σ0 [dB]"
    crs: Any = None
    clim: tuple[float, float] = (-25.0, 0.0)
    ref_fronts: Any = None
    ref_outlines: Any = None
    ref_zones: Any = None
    box: Any = None
    upstream: Any = None
    stack: xr.Dataset | None = None
    notes: list[str] = field(default_factory=list)
    products: dict[str, Any] | None = None

    @property
    def times(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.images["time"].values)

    def __len__(self) -> int:
        return int(self.images.sizes["time"])

    def image(self, i: int) -> xr.DataArray:
        """The image of date ``i`` (a view, no copy)."""
        return self.images[int(i)]

    def label(self, i: int) -> str:
        """``2019-01-13 · S1B · orbit 160``."""
        i = int(i)
        parts = [self.times[i].strftime("%Y-%m-%d")]
        if self.sensor[i]:
            parts.append(self.sensor[i])
        if self.orbit[i]:
            parts.append(f"orbit {self.orbit[i]}")
        return " · ".join(parts)

    def nearest(self, date: Any) -> int:
        """Index of the date nearest to ``date``."""
        t = pd.Timestamp(date)
        return int(np.abs((self.times - t).asi8).argmin())

    def ref_at(self, which: str, i: int) -> Any:
        """Reference fronts/outlines rows of date ``i`` (empty frame when none)."""
        gdf = self.ref_fronts if which == "fronts" else self.ref_outlines
        if gdf is None or len(gdf) == 0:
            return None
        day = self.times[int(i)].normalize()
        rows = gdf[pd.to_datetime(gdf["date"]).dt.normalize() == day]
        return rows if len(rows) else None


def demo_box(fronts: Any, flow_azimuth_deg: float) -> tuple[Any, tuple[float, float]]:
    """A retreat box around the reference fronts of a synthetic glacier, and its upstream point.

    The synthetic world keeps its exact box in memory only; on disk there is the flow
    azimuth (``stack.attrs['flow_azimuth_deg']``, clockwise from north, down flow) and the
    fronts, so the box is rebuilt: along flow from 2 km behind the most retreated front to
    1 km beyond the most advanced one, across flow over the central 60 % of the fronts' span.
    """
    from shapely.geometry import Polygon

    az = math.radians(float(flow_azimuth_deg))
    d = np.array([math.sin(az), math.cos(az)])
    n = np.array([d[1], -d[0]])
    pts = np.concatenate([np.asarray(g.coords)[:, :2] for g in _lines(fronts.geometry)])
    c = pts.mean(axis=0)
    s = (pts - c) @ d
    t = (pts - c) @ n
    lo, hi = np.percentile(s, 1) - 2000.0, np.percentile(s, 99) + 1000.0
    t0, t1 = np.percentile(t, 20), np.percentile(t, 80)
    corners = [c + a * d + b * n for a, b in ((lo, t0), (hi, t0), (hi, t1), (lo, t1))]
    up = c + (lo - 500.0) * d + 0.5 * (t0 + t1) * n
    return Polygon(corners), (float(up[0]), float(up[1]))


def _lines(geoms: Iterable[Any]) -> list[Any]:
    out = []
    for g in geoms:
        if g is None or g.is_empty:
            continue
        out.extend(getattr(g, "geoms", [g]))
    return out


def _strs(values: Any, n: int) -> list[str]:
    if values is None:
        return [""] * n
    return [str(v) for v in np.asarray(values).tolist()]


def _from_stack(key: str, glacier: str, kind: str, ds: xr.Dataset) -> SceneSeries:
    sigma = ds["sigma0_db"].astype("float32").load()
    n = int(sigma.sizes["time"])
    finite = sigma.values[np.isfinite(sigma.values)]
    clim = (
        (float(np.percentile(finite, 2)), float(np.percentile(finite, 99.5)))
        if finite.size
        else (-25.0, 0.0)
    )
    crs = ds.rio.crs
    keep = ["sigma0_db"] + [v for v in ("coherence",) if v in ds]
    stack = ds[keep]
    ref_zones = ds["zones"] if "zones" in ds else None
    return SceneSeries(
        key=key,
        glacier=glacier,
        kind=kind,
        images=sigma,
        sensor=_strs(ds.coords.get("sensor"), n),
        orbit=_strs(ds.coords.get("orbit"), n),
        crs=crs,
        clim=clim,
        stack=stack,
        ref_zones=ref_zones,
    )


def _open_demo(entry: DatasetEntry, glacier: str, roots: DataRoots) -> SceneSeries:
    import geopandas as gpd

    from workbench.data.demo import load_manifest
    from workbench.data.stack import open_stack

    manifest = load_manifest(entry.path)
    g = next(g for g in manifest["glaciers"] if g["name"] == glacier)
    ds = open_stack(roots.resolve(entry.path / g["zarr"]), validate=False)
    series = _from_stack(entry.name, glacier, "demo", ds)
    for which in ("fronts", "outlines"):
        path = roots.resolve(entry.path / manifest.get(which, f"{which}.gpkg"))
        if path.is_file():
            gdf = gpd.read_file(path)
            gdf = gdf[gdf["glacier"] == glacier].reset_index(drop=True)
            setattr(series, f"ref_{which}", gdf.to_crs(series.crs) if series.crs else gdf)
    if series.ref_fronts is not None and len(series.ref_fronts) and "flow_azimuth_deg" in ds.attrs:
        series.box, series.upstream = demo_box(series.ref_fronts, ds.attrs["flow_azimuth_deg"])
    return series


def _open_stackfile(entry: DatasetEntry, glacier: str, roots: DataRoots) -> SceneSeries:
    from workbench.data.stack import open_stack

    ds = open_stack(roots.resolve(entry.path / glacier), validate=False)
    return _from_stack(entry.name, glacier, "stacks", ds)


def _open_caffe(entry: DatasetEntry, glacier: str, roots: DataRoots) -> SceneSeries:
    import geopandas as gpd
    from affine import Affine

    from workbench.data.caffe import CaffeDataset
    from workbench.data.demo import DB_RANGE
    from workbench.geo.vectors import trace_front_pixels

    root = roots.resolve(entry.path)
    dset = CaffeDataset(root, glaciers=[glacier], thin_fronts=True)
    order = sorted(range(len(dset)), key=lambda k: dset.metadata[k].date)
    samples = [dset.load(k) for k in order]
    h = max(s["image"].shape[-2] for s in samples)
    w = max(s["image"].shape[-1] for s in samples)
    stackv = np.full((len(samples), h, w), np.nan, np.float32)
    zones = np.zeros((len(samples), h, w), np.uint8)
    lines, dates = [], []
    lo, hi = DB_RANGE
    for i, s in enumerate(samples):
        img = s["image"][0].numpy()
        hh, ww = img.shape
        db = lo + (img * 255.0 - 1.0) / 254.0 * (hi - lo)
        stackv[i, :hh, :ww] = np.where(img > 0, db, np.nan)
        zones[i, :hh, :ww] = s["zones"].numpy()
        t = pd.Timestamp(s["meta"].date)
        if "front" in s:
            from shapely.geometry import LineString, MultiLineString

            parts = [
                LineString(np.c_[rc[:, 1] + 0.5, -(rc[:, 0] + 0.5)])
                for rc in trace_front_pixels(s["front"].numpy())
                if len(rc) > 1
            ]
            if parts:
                lines.append(MultiLineString(parts))
                dates.append(t)
    times = np.array([pd.Timestamp(s["meta"].date) for s in samples], dtype="datetime64[ns]")
    coords = {"time": times, "y": -(np.arange(h) + 0.5), "x": np.arange(w) + 0.5}
    images = xr.DataArray(stackv, dims=("time", "y", "x"), coords=coords, name="sigma0_db")
    px = float(samples[0]["meta"].resolution_m) or 1.0
    # a pseudo-georeferenced stack (pixel size from the name) so the model can run on it
    stack = xr.Dataset({"sigma0_db": images.assign_coords(y=images.y * px, x=images.x * px)})
    stack = stack.rio.write_crs("EPSG:3857").rio.write_transform(Affine(px, 0, 0, 0, -px, 0))
    ref = gpd.GeoDataFrame({"date": dates}, geometry=lines, crs=None) if lines else None
    finite = stackv[np.isfinite(stackv)]
    clim = (
        (float(np.percentile(finite, 1)), float(np.percentile(finite, 99.5)))
        if finite.size
        else DB_RANGE
    )
    return SceneSeries(
        key=entry.name,
        glacier=glacier,
        kind="caffe",
        images=images,
        sensor=[s["meta"].sensor for s in samples],
        orbit=[s["meta"].orbit for s in samples],
        units="σ0 [dB] (from 8-bit)",
        crs=None,
        clim=clim,
        ref_fronts=ref,
        ref_zones=xr.DataArray(zones, dims=images.dims, coords=images.coords),
        stack=stack,
        notes=[
            "CaFFe images: pixel coordinates, no georeferencing; "
            "different sizes are padded to the largest"
        ],
    )


def _open_harald(entry: DatasetEntry, glacier: str, roots: DataRoots) -> SceneSeries:
    import geopandas as gpd
    import rioxarray  # noqa: F401

    from workbench.geo.retreat import read_front_lines

    root = roots.resolve(entry.path)
    tifs = sorted((root / "basemap").glob("*.tif"))
    base = xr.open_dataarray(roots.resolve(tifs[0]), engine="rasterio").squeeze("band", drop=True)
    crs = base.rio.crs
    lines = read_front_lines(roots.resolve(root / "lines" / glacier)).sort_values("date")
    lines = lines.to_crs(crs).reset_index(drop=True)
    boxes = sorted((root / "box").glob("*.shp"))
    box = gpd.read_file(roots.resolve(boxes[0])).to_crs(crs).geometry.iloc[0] if boxes else None
    times = pd.DatetimeIndex(pd.to_datetime(lines["date"])).values.astype("datetime64[ns]")
    values = base.values.astype(np.float32)
    values[values == 0] = np.nan
    # one basemap for every date: a read-only broadcast, no copies
    arr = np.broadcast_to(values, (len(times), *values.shape))
    images = xr.DataArray(
        arr, dims=("time", "y", "x"), coords={"time": times, "y": base.y.values, "x": base.x.values}
    )
    finite = values[np.isfinite(values)]
    clim = (float(np.percentile(finite, 1)), float(np.percentile(finite, 99)))
    return SceneSeries(
        key=entry.name,
        glacier=glacier,
        kind="harald",
        images=images,
        sensor=["front line"] * len(times),
        orbit=[""] * len(times),
        units="basemap (optical DN)",
        crs=crs,
        clim=clim,
        ref_fronts=lines,
        box=box,
        upstream="right",
        notes=["optical basemap under 159 dated front lines (Loebel et al. 2024)"],
    )


def _read_band_stack(path: Path, times: np.ndarray) -> xr.DataArray:
    """A multi-band product COG as a ``(time, y, x)`` DataArray in memory (bands are dates)."""
    import rioxarray

    da = rioxarray.open_rasterio(path, masked=False).load()
    if int(da.sizes["band"]) != len(times):
        raise DataError(
            f"has {int(da.sizes['band'])} bands but its manifest lists {len(times)} dates",
            path=path,
            expected="one band per prediction date",
        )
    return da.rename(band="time").assign_coords(time=times)


def _open_products(entry: DatasetEntry, scene: str, roots: DataRoots) -> SceneSeries:
    """A scene of ``workbench predict`` products: its input SAR when that lies inside the data
    roots (else the confidence map as the image) with the predictions attached, so the
    explorer shows the predicted fronts, zones/outlines and confidence without running a model.
    """
    import json

    import geopandas as gpd

    from workbench.data.encoding import zones_to_classes
    from workbench.data.stack import open_stack

    folder = roots.resolve(entry.path / scene)
    manifest_path = roots.resolve(folder / PRODUCT_MANIFEST)
    try:
        manifest = json.loads(manifest_path.read_text())
        dates = manifest["dates"]
    except (ValueError, KeyError) as err:
        raise DataError(
            f"is not a product manifest ({err})",
            path=manifest_path,
            expected="the JSON _SUCCESS written by workbench predict",
        ) from err
    times = pd.DatetimeIndex(pd.to_datetime(dates)).values.astype("datetime64[ns]")
    label = manifest.get("label_variable") or (
        "zones" if (folder / "zones.tif").is_file() else "mask"
    )
    variables: dict[str, xr.DataArray] = {}
    label_path = folder / f"{label}.tif"
    if label_path.is_file():
        da = _read_band_stack(roots.resolve(label_path), times)
        values = (
            zones_to_classes(da.values, path=str(label_path)) if label == "zones" else da.values
        )
        variables[label] = da.copy(data=values.astype(np.uint8))
    for name in ("confidence", "uncertainty"):
        path = folder / f"{name}.tif"
        if path.is_file():
            variables[name] = _read_band_stack(roots.resolve(path), times).astype(np.float32)
    if not variables:
        raise DataError(
            "holds no raster product",
            path=folder,
            expected="zones.tif, mask.tif or confidence.tif from workbench predict",
        )
    pred = xr.Dataset(
        variables, attrs={"label_variable": label, "model": manifest.get("model", "")}
    )
    pred = pred.rio.write_crs(next(iter(variables.values())).rio.crs)

    notes = [f"predictions read from {folder.name}/ (model {manifest.get('model') or 'unknown'})"]
    source = Path(str(manifest.get("input", "")))
    if manifest.get("input") and source.exists() and source in roots:
        ds = open_stack(roots.resolve(source), validate=False)
        series = _from_stack(entry.name, scene, "products", ds)
    else:
        if manifest.get("input"):
            notes.append(
                "the input stack is not inside the data roots: the image is the confidence map"
            )
        images = variables.get("confidence", next(iter(variables.values()))).astype(np.float32)
        series = SceneSeries(
            key=entry.name,
            glacier=scene,
            kind="products",
            images=images,
            sensor=[""] * len(times),
            orbit=[""] * len(times),
            units="confidence",
            crs=pred.rio.crs,
            clim=(0.0, 1.0),
        )
        ds = None
    series.notes = notes

    result: dict[str, Any] = {
        "dataset": pred,
        "label": label,
        "checkpoint": folder,
        "fronts": {},
        "outlines": {},
        "model": manifest.get("model") or folder.name,
    }
    day = pd.DatetimeIndex(times).normalize()
    for which in ("fronts", "outlines"):
        path = folder / f"{which}.gpkg"
        if not path.is_file():
            continue
        gdf = gpd.read_file(roots.resolve(path))
        gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]  # dates without a front/outline
        if series.crs is not None and gdf.crs is not None:
            gdf = gdf.to_crs(series.crs)
        when = pd.to_datetime(gdf["date"]).dt.normalize()
        for i, d in enumerate(day):
            rows = gdf[when == d].reset_index(drop=True)
            result[which][i] = rows if len(rows) else None
    series.products = result
    fronts = (
        pd.concat([r for r in result["fronts"].values() if r is not None], ignore_index=True)
        if any(r is not None for r in result["fronts"].values())
        else None
    )
    if ds is not None and fronts is not None and "flow_azimuth_deg" in ds.attrs:
        # a synthetic scene: the retreat box from its flow direction around the predicted fronts
        series.box, series.upstream = demo_box(
            gpd.GeoDataFrame(fronts, crs=series.crs), ds.attrs["flow_azimuth_deg"]
        )
    return series


_OPENERS = {
    "demo": _open_demo,
    "stacks": _open_stackfile,
    "caffe": _open_caffe,
    "harald": _open_harald,
    "products": _open_products,
}


def open_series(entry: DatasetEntry, glacier: str, roots: DataRoots) -> SceneSeries:
    """The :class:`SceneSeries` of ``glacier`` in ``entry``, read once per process.

    Cached by (resolved path, glacier, modification time, data roots): every session of a
    server shares one copy in memory.
    """
    if glacier not in entry.glaciers:
        raise DataError(
            f"has no glacier {glacier!r}",
            path=entry.path,
            expected=f"one of {list(entry.glaciers)}",
        )
    path = roots.resolve(entry.path)
    key = (
        str(path),
        glacier,
        path.stat().st_mtime_ns,
        roots.roots,
    )  # what a series may read depends on the roots
    with _LOCK:
        series = _SERIES.get(key)
        if series is None:
            series = _OPENERS[entry.kind](entry, glacier, roots)
            series.notes = [*series.notes, *entry.skipped]
            _SERIES[key] = series
    return series


def clear_cache() -> None:
    """Forget every cached series (tests)."""
    with _LOCK:
        _SERIES.clear()


def checkpoints_in(
    paths: Sequence[str | os.PathLike[str]], roots: DataRoots | None = None
) -> dict[str, Path]:
    """Checkpoint files (``*.pt``, ``*.ckpt``) given directly or found in given folders."""
    out: dict[str, Path] = {}
    for p in paths:
        p = Path(p)
        if roots is not None:
            p = roots.resolve(p)
        files = sorted(p.glob("*.pt")) + sorted(p.glob("*.ckpt")) if p.is_dir() else [p]
        for f in files:
            if f.is_file():
                out[f.name if f.name not in out else str(f)] = f.resolve()
    return out
