"""Terrain correction of a Sentinel-1 GRD product onto a map grid with sarsen.

The output grid is the DEM's area on a metric CRS (UTM of the DEM centre, or polar
stereographic north of 84° N / south of 80° S, unless one is given) at the chosen pixel size. The DEM is
resampled bilinearly onto that grid and handed to sarsen, which finds for every grid cell
the zero-Doppler azimuth time and slant range on the product's orbit (range-Doppler
backward geocoding) and samples the calibrated image there (nearest neighbour, as sarsen
does by default). With ``correction="rtc"`` sarsen also simulates the illuminated area of
every radar pixel from the DEM (``gamma_bilinear``, Small 2011) and divides β0 by it, which
gives terrain-flattened γ0.

Only the part of the image that the DEM maps onto is read and calibrated: a coarse
simulation on every 8th DEM cell bounds the lines and pixels needed.

Examples
--------
>>> str(metric_crs_for(12.5, 42.0)), str(metric_crs_for(-50.0, 69.2)), str(metric_crs_for(10.0, 85.0))
('EPSG:32633', 'EPSG:32622', 'EPSG:3413')
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import rasterio
import rasterio.errors
import rioxarray
import xarray as xr
from affine import Affine
from pyproj import CRS
from pyproj.crs import CompoundCRS
from rasterio.enums import Resampling
from rasterio.warp import transform_bounds

from workbench.errors import ConfigError, DataError, FileFormatError

__all__ = [
    "CORRECTIONS",
    "RTC_EDGE_PIXELS",
    "Grid",
    "DemOnGrid",
    "trim_rtc_edge",
    "balanced_chunks",
    "metric_crs_for",
    "output_crs",
    "check_resolution",
    "open_dem",
    "target_grid",
    "sarsen_product",
    "dem_on_grid",
    "check_dem_covers",
    "radar_window",
    "terrain_correct",
]

CORRECTIONS = ("gtc", "rtc")
"""``gtc``: geometric terrain correction of σ0; ``rtc``: radiometric terrain flattening to γ0."""

_DEM_EXPECTED = (
    "a DEM GeoTIFF with a CRS, heights in metres, covering the area to stack "
    "(e.g. Copernicus GLO-30 tiles merged with gdal_merge.py)"
)
_SEED_STEP = 8
_WINDOW_MARGIN = 64


@dataclass(frozen=True)
class Grid:
    """A north-up map grid: CRS, pixel size and the transform/shape of its cells."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    @property
    def resolution(self) -> float:
        return float(self.transform.a)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the grid's CRS."""
        left, top = self.transform.c, self.transform.f
        return (
            left,
            top + self.height * self.transform.e,
            left + self.width * self.transform.a,
            top,
        )


class DemOnGrid(NamedTuple):
    """The DEM on the output grid (y ascending): heights above the ellipsoid for sarsen, the
    file's own heights, and how the first were obtained."""

    ellipsoidal: xr.DataArray
    heights: xr.DataArray
    note: str


def metric_crs_for(lon: float, lat: float) -> CRS:
    """The UTM zone (WGS 84) of a point, or polar stereographic: EPSG:3413 north of 84° N,
    EPSG:3031 south of 80° S (where UTM ends)."""
    if lat >= 84.0:
        return CRS.from_epsg(3413)
    if lat <= -80.0:
        return CRS.from_epsg(3031)
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def open_dem(path: str | os.PathLike[str]) -> xr.DataArray:
    """Open a DEM as float (y, x) heights with NaN nodata, checking it can be used.

    Raises
    ------
    DataError
        The file is missing, has no CRS or holds no valid height.
    FileFormatError
        The file cannot be read as a raster.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            "does not exist" if not path.exists() else "is not a file",
            path=path,
            variable="--dem",
            expected=_DEM_EXPECTED,
        )
    try:
        dem = rioxarray.open_rasterio(path, masked=True)
    except (rasterio.errors.RasterioError, OSError) as exc:
        raise FileFormatError(
            f"cannot be read as a raster ({exc})",
            path=path,
            variable="--dem",
            expected=_DEM_EXPECTED,
        ) from exc
    if dem.rio.crs is None:
        raise DataError("has no CRS", path=path, variable="--dem", expected=_DEM_EXPECTED)
    dem = dem.isel(band=0, drop=True).astype(np.float64)
    if not np.isfinite(dem.values).any():
        raise DataError(
            "holds no valid height (all nodata)",
            path=path,
            variable="--dem",
            expected=_DEM_EXPECTED,
        )
    dem.attrs = {}
    return dem


def _lonlat_bounds(dem: xr.DataArray) -> tuple[float, float, float, float]:
    return transform_bounds(dem.rio.crs, "EPSG:4326", *dem.rio.bounds(), densify_pts=21)


def output_crs(crs: str | None) -> CRS | None:
    """The CRS asked for (``None``/``"auto"``: None, chosen later from the DEM), checked."""
    if crs in (None, "auto"):
        return None
    try:
        target = CRS.from_user_input(int(crs) if str(crs).isdigit() else crs)
    except Exception as exc:  # pyproj raises CRSError, ValueError, TypeError
        raise ConfigError(
            f"is {crs!r}, which is no CRS ({exc})",
            variable="crs",
            expected="'auto' or a projected CRS such as EPSG:32633",
        ) from exc
    if not target.is_projected:
        raise ConfigError(
            f"is {crs!r}, which is not a projected CRS",
            variable="crs",
            expected="a projected CRS in metres such as EPSG:32633, or 'auto'",
        )
    return target


def check_resolution(resolution: float | None) -> None:
    """A pixel size must be a finite number of metres > 0 (None: the product's spacing)."""
    if resolution is not None and (not np.isfinite(resolution) or resolution <= 0):
        raise ConfigError(
            f"is {resolution}",
            variable="resolution",
            expected="a pixel size in metres > 0, e.g. 10",
        )


def target_grid(dem: xr.DataArray, *, crs: str | None, resolution: float) -> Grid:
    """The map grid covering the DEM: its bounds in ``crs`` (``None``/``"auto"``: UTM or polar
    stereographic of the DEM centre), snapped outwards to multiples of ``resolution``."""
    check_resolution(resolution)
    target = output_crs(crs)
    if target is None:
        w, s, e, n = _lonlat_bounds(dem)
        target = metric_crs_for((w + e) / 2, (s + n) / 2)
    left, bottom, right, top = transform_bounds(
        dem.rio.crs, target, *dem.rio.bounds(), densify_pts=21
    )
    left, bottom = (
        np.floor(left / resolution) * resolution,
        np.floor(bottom / resolution) * resolution,
    )
    right, top = np.ceil(right / resolution) * resolution, np.ceil(top / resolution) * resolution
    width, height = int(round((right - left) / resolution)), int(round((top - bottom) / resolution))
    return Grid(target, Affine(resolution, 0.0, left, 0.0, -resolution, top), width, height)


def dem_on_grid(dem: xr.DataArray, grid: Grid, *, dem_path: Path | None = None) -> DemOnGrid:
    """The DEM resampled bilinearly onto ``grid`` (NaN outside it), y ascending as sarsen
    expects, with heights above the ellipsoid (sarsen's geocoding needs them).

    Heights above a geoid (a DEM whose CRS declares a vertical datum such as EGM96 or
    EGM2008, e.g. EPSG:9707 or EPSG:4326+3855) are converted with PROJ where its geoid grid
    is installed. Where it is not, or where the DEM declares no vertical datum, the heights
    are used as they are and a warning says what that costs: a height error Δh moves
    pixels by about Δh / tan θ in ground range (~50 m for the ~+48 m geoid at Rome).

    Returns
    -------
    DemOnGrid
        ``ellipsoidal`` (for sarsen), ``heights`` (as in the DEM file, for the stack's ``dem``)
        and ``note``, how the heights were made ellipsoidal (kept in the stack's attrs).
    """
    on_grid = dem.rio.reproject(
        grid.crs,
        shape=(grid.height, grid.width),
        transform=grid.transform,
        resampling=Resampling.bilinear,
        nodata=np.nan,
    )
    on_grid = on_grid.isel(y=slice(None, None, -1))
    on_grid.attrs = {}
    heights, note = _ellipsoidal_heights(
        on_grid, CRS.from_user_input(dem.rio.crs.to_wkt()), dem_path or Path("DEM")
    )
    return DemOnGrid(on_grid.copy(data=heights), on_grid, note)


def _ellipsoidal_heights(
    on_grid: xr.DataArray, source: CRS, dem_path: Path
) -> tuple[np.ndarray, str]:
    """Heights of ``on_grid`` above the ellipsoid, and how they were obtained."""
    from pyproj import Transformer
    from pyproj.transformer import TransformerGroup

    heights = np.asarray(on_grid.values, dtype=np.float64)
    vertical = next((c for c in source.sub_crs_list if c.is_vertical), None)
    if vertical is None:
        note = "used as ellipsoidal heights (the DEM declares no vertical datum)"
        warnings.warn(
            f"{dem_path}: the DEM declares no vertical datum, so its heights are used as heights "
            "above the ellipsoid. If they are above a geoid (Copernicus GLO-30: EGM2008), "
            "declare it, e.g. gdal_edit.py -a_srs EPSG:4326+3855 DEM.tif: a geoid height N left "
            "out moves pixels by about N / tan(incidence) in ground range",
            UserWarning,
            stacklevel=3,
        )
        return heights, note
    geographic = source.sub_crs_list[0].geodetic_crs or CRS.from_epsg(4326)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyproj: 'best transformation not available'
        group = TransformerGroup(
            CompoundCRS(f"{geographic.name} + {vertical.name}", [geographic, vertical]),
            geographic.to_3d(),
            always_xy=True,
        )
    if not group.best_available or not group.transformers:
        grids = sorted(
            {
                g.short_name
                for op in group.unavailable_operations
                for g in op.grids
                if not g.available
            }
        )
        note = (
            f"{vertical.name} used as ellipsoidal heights (PROJ geoid grid "
            f"{', '.join(grids) or '?'} not installed)"
        )
        warnings.warn(
            f"{dem_path}: heights are {vertical.name}s, but PROJ's geoid grid "
            f"{', '.join(grids) or '(unknown)'} is not installed, so they are used as heights above "
            "the ellipsoid: pixels move by about N / tan(incidence) in ground range, where N is the "
            "geoid height (~50 m where N ~ +48 m, as at Rome). Install the grid (pyproj sync --file "
            f"{grids[0] if grids else 'GRID'}, or copy it into pyproj.datadir.get_user_data_dir()) "
            "or give a DEM with ellipsoidal heights",
            UserWarning,
            stacklevel=3,
        )
        return heights, note
    rows, cols = np.nonzero(np.isfinite(heights))
    xs, ys = on_grid.x.values[cols], on_grid.y.values[rows]
    lon, lat = Transformer.from_crs(on_grid.rio.crs, geographic, always_xy=True).transform(xs, ys)
    _, _, ellipsoidal = group.transformers[0].transform(lon, lat, heights[rows, cols])
    out = heights.copy()
    out[rows, cols] = ellipsoidal
    return (
        out,
        f"{vertical.name} converted to ellipsoidal heights by PROJ ({group.transformers[0].description})",
    )


def check_dem_covers(
    dem: xr.DataArray, footprint: list[tuple[float, float]], *, dem_path: Path, manifest: Path
) -> float:
    """The fraction of the DEM's box inside the product footprint; a DataError when none.

    Raises
    ------
    DataError
        The DEM and the scene do not overlap: names the DEM, its extent, and the footprint
        from ``manifest.safe``.
    """
    from shapely.geometry import Polygon, box

    w, s, e, n = _lonlat_bounds(dem)
    found = box(w, s, e, n)
    if len(footprint) < 3:
        return 1.0
    scene = Polygon(footprint)
    overlap = found.intersection(scene).area / found.area if found.area else 0.0
    if overlap <= 0.0:
        fw, fs, fe, fn = scene.bounds
        raise DataError(
            f"does not cover the scene: the DEM spans lon {w:.4f}..{e:.4f}, lat {s:.4f}..{n:.4f}; "
            f"the product footprint in {manifest.name} spans lon {fw:.4f}..{fe:.4f}, "
            f"lat {fs:.4f}..{fn:.4f}",
            path=dem_path,
            variable="--dem",
            expected="a DEM of the area to stack, inside the product footprint",
        )
    return overlap


@functools.cache
def _product_class() -> type:
    """sarsen's Sentinel-1 product, with β0 replaced by an already calibrated image."""
    import attrs
    import sarsen

    @attrs.define(slots=False)
    class CalibratedProduct(sarsen.Sentinel1SarProduct):  # type: ignore[misc]
        """A Sentinel-1 product whose 'beta_nought' is ``image`` (calibrated by the workbench)."""

        image: Any = None
        opened: Any = None

        @property
        def measurement(self) -> xr.Dataset:  # opened once by the workbench, not per call
            return self.opened

        def beta_nought(self, persist: bool = False) -> xr.DataArray:  # noqa: ARG002
            return self.image.drop_vars(["pixel", "line"], errors="ignore")

        def __hash__(self) -> int:
            return hash((self.product_urlpath, self.measurement_group, id(self.image)))

    return CalibratedProduct


def sarsen_product(safe: Path, group: str) -> Any:
    """A sarsen product for one ``group`` (e.g. ``IW/VV``) of a SAFE folder; its measurement is
    opened once, lazily, in blocks of 512 lines × 2048 pixels (``product.measurement``)."""
    product = _product_class()(str(safe), group)
    with warnings.catch_warnings():
        # a GRD measurement is located by the annotation's tie points, not by a transform
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        # blocks narrower than the file's full-width strips: only those under the DEM are read
        warnings.filterwarnings("ignore", "The specified chunks separate the stored chunks")
        product.opened = xr.open_dataset(
            str(safe),
            engine="sentinel-1",
            group=group,
            rasterio_chunks={"y": 512, "x": 2048},
            parse_geospatial_attrs=False,
        )
    return product


@contextlib.contextmanager
def _quiet_sarsen() -> Iterator[None]:
    """Silence sarsen's 'rasterio.warp.transform failed, retrying...' (it retries and succeeds)."""
    logger = logging.getLogger("sarsen")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def radar_window(product: Any, dem_grid: xr.DataArray) -> tuple[slice, slice] | None:
    """The (line, pixel) slices of the image that the DEM grid maps onto, with a margin, from a
    simulation on every 8th DEM cell; None when no DEM cell falls inside the image."""
    from sarsen import apps, orbit, scene

    seed = dem_grid.isel(y=_with_last(dem_grid.sizes["y"]), x=_with_last(dem_grid.sizes["x"]))
    with _quiet_sarsen(), np.errstate(invalid="ignore"):
        dem_ecef = scene.convert_to_dem_ecef(seed)
        interpolator = orbit.OrbitPolyfitInterpolator.from_position(product.state_vectors())
        acquisition = apps.simulate_acquisition(
            dem_ecef, interpolator, include_variables={"slant_range_time", "azimuth_time"}
        )
    valid = np.isfinite(acquisition.slant_range_time.values) & ~np.isnat(
        acquisition.azimuth_time.values
    )
    if not valid.any():
        return None
    measurement = product.measurement
    times = measurement["azimuth_time"].values
    azimuth = acquisition.azimuth_time.values[valid]
    ground = product.slant_range_time_to_ground_range(
        acquisition.azimuth_time.where(xr.DataArray(valid, dims=acquisition.azimuth_time.dims)),
        acquisition.slant_range_time,
    ).values[valid]
    spacing = float(measurement.attrs["range_pixel_spacing"])
    n_lines, n_pixels = measurement.sizes["azimuth_time"], measurement.sizes["ground_range"]
    if (
        azimuth.max() < times[0]
        or azimuth.min() > times[-1]
        or ground.max() < 0
        or ground.min() > (n_pixels - 1) * spacing
    ):
        return None  # the DEM lies before/after the image or beyond its near/far range
    lines = np.searchsorted(times, [azimuth.min(), azimuth.max()])
    pixels = np.array([ground.min(), ground.max()]) / spacing
    margin = _WINDOW_MARGIN + _SEED_STEP * int(
        np.ceil(abs(float(dem_grid.x[1] - dem_grid.x[0])) / spacing)
    )
    first_line, last_line = max(int(lines[0]) - margin, 0), min(int(lines[1]) + margin, n_lines)
    first_pixel = max(int(np.floor(pixels[0])) - margin, 0)
    last_pixel = min(int(np.ceil(pixels[1])) + margin, n_pixels)
    if first_line >= last_line or first_pixel >= last_pixel:
        return None
    return slice(first_line, last_line), slice(first_pixel, last_pixel)


def _with_last(n: int) -> np.ndarray:
    """Every 8th index of ``n`` plus the last one."""
    return np.unique(np.r_[np.arange(0, n, _SEED_STEP), n - 1])


RTC_EDGE_PIXELS = 3
"""With ``correction="rtc"``, output pixels this close to the edge of the DEM (or its nodata)
are set to NaN: the illuminated area of a radar cell there misses the DEM cells beyond the
edge, so γ0 comes out too bright (up to +12 dB within 20 m of the edge on the Rome DEM)."""


def trim_rtc_edge(values: np.ndarray, pixels: int = RTC_EDGE_PIXELS) -> np.ndarray:
    """``values`` with NaN within ``pixels`` of a NaN or of the array's border.

    >>> trim_rtc_edge(np.ones((5, 7)), 2)[2]
    array([nan, nan,  1.,  1.,  1., nan, nan])
    """
    from scipy import ndimage

    valid = np.pad(np.isfinite(values), 1)
    distance = ndimage.distance_transform_edt(valid)[1:-1, 1:-1]
    return np.where(distance > pixels, values, np.nan)


def balanced_chunks(size: int, target: int = 1024) -> int:
    """The chunk length that splits ``size`` into equal parts of at most ``target`` (so no
    small remainder chunk is left, which sarsen's overlapping RTC step cannot take).

    >>> balanced_chunks(1135), balanced_chunks(800), balanced_chunks(2049)
    (568, 800, 683)
    """
    parts = -(-size // target)
    return -(-size // max(parts, 1))


def terrain_correct(product: Any, dem_grid: xr.DataArray, *, correction: str) -> xr.DataArray:
    """Terrain-correct ``product.image`` onto the DEM grid with sarsen (lazy, dask-chunked).

    ``correction="gtc"`` returns the image sampled on the grid; ``"rtc"`` divides β0 by
    sarsen's simulated illuminated area (``gamma_bilinear``), i.e. terrain-flattened γ0.
    The result has y ascending like ``dem_grid``.
    """
    from sarsen import apps

    if correction not in CORRECTIONS:
        raise ConfigError(
            f"is {correction!r}", variable="correction", expected=f"one of {CORRECTIONS}"
        )
    chunks = {dim: balanced_chunks(dem_grid.sizes[dim]) for dim in ("y", "x")}
    with _quiet_sarsen():
        geocoded, _ = apps.do_terrain_correction(
            product,
            dem_grid.chunk(chunks),
            correct_radiometry="gamma_bilinear" if correction == "rtc" else None,
            radiometry_bound=min(128, *chunks.values()),
        )
    return geocoded
