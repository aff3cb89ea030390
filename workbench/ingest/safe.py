"""From a raw Sentinel-1 GRD product (SAFE folder) and a DEM to a workbench scene stack.

:func:`stack_from_safe` is what ``workbench stack --safe PRODUCT.SAFE --dem DEM.tif`` runs:

1. check the product (:func:`~workbench.ingest.safe_product.open_safe`): manifest, the
   polarisation's annotation, calibration, noise and measurement files;
2. put the DEM's area on a metric grid (UTM of its centre unless ``crs``) at ``resolution``
   (default: the product's pixel spacing, 10 m for IW GRDH) and check it overlaps the scene;
3. read only the lines and pixels of the image that the DEM maps onto, calibrate them to
   σ0 (or β0 for ``correction="rtc"``) and remove thermal noise with the product's own
   annotation LUTs (:mod:`~workbench.ingest.safe_calibration`, xarray-sentinel);
4. terrain-correct with sarsen onto the grid (:mod:`~workbench.ingest.safe_geocoding`):
   geometric (σ0, ``"gtc"``) or radiometric terrain flattening (γ0, ``"rtc"``);
5. convert to dB (values at or below the noise floor become :data:`FLOOR_DB`; NaN is no
   data) and write a one-date stack atomically with :func:`~workbench.data.stack.write_stack`.

A DEM is required: without one the workbench does not geocode from the annotation's tie
points, because on glaciers (steep relief) that misplaces pixels by hundreds of metres
(a height error Δh shifts a pixel by about Δh / tan θ in ground range).

Examples
--------
>>> stack_path("out/rome.zarr", "S1B_IW_GRDH_1SDV_20211223T051122_x", "VV").as_posix()
'out/rome.zarr'
>>> stack_path("stacks", "S1B_IW_GRDH_1SDV_20211223T051122_x", "VV").as_posix()
'stacks/S1B_IW_GRDH_1SDV_20211223T051122_x_VV.zarr'
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import xarray as xr

from workbench.data.stack import SIGMA0, write_stack
from workbench.errors import ConfigError, DataError, FileFormatError
from workbench.ingest.safe_product import SafeProduct, open_safe, require_sar_libraries

__all__ = ["FLOOR_DB", "stack_from_safe", "stack_path"]

FLOOR_DB = -40.0
"""Backscatter at or below the thermal noise floor (noise-removed intensity ≤ 10⁻⁴, which
includes ≤ 0) is set to this value instead of becoming no data, so a dark surface (smooth
ice, open water) stays in the scene; xarray-sentinel's ``calibrate_intensity`` uses the same
floor for dB. The fraction of such pixels is kept in ``attrs["below_floor_fraction"]``."""

_STACK_SUFFIXES = (".zarr", ".nc", ".tif", ".tiff")
_DEM_NEEDED = (
    "a DEM GeoTIFF of the area to stack (--dem DEM.tif), e.g. Copernicus GLO-30 "
    "tiles merged with gdal_merge.py: sarsen terrain-corrects with it"
)


def stack_path(out: str | os.PathLike[str], product_id: str, polarisation: str) -> Path:
    """Where the stack goes: ``out`` itself when it ends in .zarr/.nc/.tif, else a Zarr store
    named after the product inside the folder ``out``."""
    out = Path(out)
    if out.suffix.lower() in _STACK_SUFFIXES:
        return out
    return out / f"{product_id}_{polarisation}.zarr"


class _Steps:
    """One progress bar over the steps of the pipeline (tqdm), naming the current step."""

    def __init__(self, total: int, *, enabled: bool, name: str) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=name, disable=not enabled, unit="step")

    @contextlib.contextmanager
    def step(self, text: str) -> Iterator[None]:
        self.bar.set_postfix_str(text)
        yield
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def stack_from_safe(
    safe: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    dem: str | os.PathLike[str] | None = None,
    polarisation: str | None = None,
    resolution: float | None = None,
    crs: str | None = None,
    correction: str = "gtc",
    denoise: bool = True,
    progress: bool = True,
) -> Path:
    """Calibrate, denoise and terrain-correct a Sentinel-1 GRD product into a scene stack.

    Parameters
    ----------
    safe
        The ``.SAFE`` folder (unzipped) of a Sentinel-1 Level-1 GRD product.
    out
        The stack to write (``.zarr``, ``.nc``, ``.tif``), or a folder that receives
        ``<product>_<polarisation>.zarr``. Replaced atomically if it exists.
    dem
        DEM GeoTIFF of the area to stack (heights in metres, any CRS); its extent is the
        stack's extent. Required.
    polarisation
        ``VV``, ``VH``, ``HH`` or ``HV``; default VV, else HH, else what the product has.
    resolution
        Pixel size in metres; default the product's pixel spacing (10 m for IW GRDH).
    crs
        Output CRS (``"EPSG:32633"``); default ``"auto"``: UTM zone of the DEM centre
        (polar stereographic EPSG:3413 north of 84° N, EPSG:3031 south of 80° S).
    correction
        ``"gtc"``: σ0 on the map grid (geometric terrain correction); ``"rtc"``: γ0 with
        radiometric terrain flattening (sarsen ``gamma_bilinear``); the pixels within 3
        of the DEM's edge are left out (NaN), see
        :data:`~workbench.ingest.safe_geocoding.RTC_EDGE_PIXELS`.
    denoise
        Remove thermal noise with the product's noise LUTs (default True).
    progress
        Show a progress bar with the current step.

    Returns
    -------
    pathlib.Path
        The stack written: dims (time, y, x) with one date, ``sigma0_db`` in dB (the
        backscatter variable of every workbench stack, γ0 for ``"rtc"``: see its
        ``quantity`` attribute), and the per-date coordinates of ``workbench stack``:
        ``sensor`` (S1B), ``platform`` (sentinel-1b), ``orbit`` (relative orbit as text),
        ``orbit_direction``, ``relative_orbit``, ``polarisation``, ``product_id``, plus
        ``source`` (the SAFE folder); ``dem`` (y, x) holds the DEM on the grid (metres,
        the file's own heights).

    Raises
    ------
    ConfigError
        xarray-sentinel/sarsen are missing (names the extra), no DEM, a bad option.
    DataError
        The SAFE folder is incomplete, lacks the polarisation, the DEM does not cover the
        scene, or the image holds no pixel data where the DEM lies.
    FileFormatError
        An annotation or the DEM cannot be read.

    Examples
    --------
    >>> stack_from_safe("S1B_IW_GRDH_...SAFE", "stacks/", dem="dem.tif")  # doctest: +SKIP
    PosixPath('stacks/S1B_IW_GRDH_..._VV.zarr')
    """
    from workbench.ingest import safe_geocoding as geocoding

    require_sar_libraries()
    if correction not in geocoding.CORRECTIONS:
        raise ConfigError(
            f"is {correction!r}",
            variable="correction",
            expected=f"one of {geocoding.CORRECTIONS} (σ0 geocoded, or γ0 "
            "with radiometric terrain flattening)",
        )
    geocoding.check_resolution(resolution)
    geocoding.output_crs(crs)
    product = open_safe(safe)
    pol = product.choose(polarisation)
    if dem is None:
        raise ConfigError("no DEM was given", variable="--dem", expected=_DEM_NEEDED)
    dem = Path(dem)
    steps = _Steps(6, enabled=progress, name=f"{product.product_id[:32]} {pol}")
    try:
        with _library_noise_silenced():
            return _run(
                product,
                pol,
                out,
                dem=dem,
                resolution=resolution,
                crs=crs,
                correction=correction,
                denoise=denoise,
                progress=progress,
                steps=steps,
            )
    finally:
        steps.close()


@contextlib.contextmanager
def _library_noise_silenced() -> Iterator[None]:
    """Hide the libraries' expected chatter: NaN arithmetic on DEM cells outside the DEM
    (RuntimeWarning), the measurement TIFF having no geotransform (its tie points are in the
    annotation), sarsen's deprecated logger call. The workbench's own warnings still show."""
    import rasterio.errors

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        warnings.filterwarnings("ignore", "The 'warn' method is deprecated", DeprecationWarning)
        yield


def _run(
    product: SafeProduct,
    pol: str,
    out: str | os.PathLike[str],
    *,
    dem: Path,
    resolution: float | None,
    crs: str | None,
    correction: str,
    denoise: bool,
    progress: bool,
    steps: _Steps,
) -> Path:
    """The steps of :func:`stack_from_safe` once its inputs are checked."""
    from workbench.ingest import safe_calibration as calibration
    from workbench.ingest import safe_geocoding as geocoding

    files = product.files[pol]
    with steps.step("DEM onto the map grid"):
        dem_raster = geocoding.open_dem(dem)
        overlap = geocoding.check_dem_covers(
            dem_raster, product.footprint, dem_path=dem, manifest=product.manifest
        )
        sar = _open_measurement(product, pol)
        pixel = (
            float(resolution)
            if resolution is not None
            else float(sar.measurement.attrs["range_pixel_spacing"])
        )
        grid = geocoding.target_grid(dem_raster, crs=crs, resolution=pixel)
        on_grid = geocoding.dem_on_grid(dem_raster, grid, dem_path=dem)
    with steps.step("image window"):
        window = geocoding.radar_window(sar, on_grid.ellipsoidal)
        if window is None:
            raise _no_overlap(dem, dem_raster, product)
    with steps.step("read pixels"):
        crop = (
            sar.measurement["measurement"]
            .isel(azimuth_time=window[0], ground_range=window[1])
            .load()
        )
        if not bool((crop > 0).any()):
            raise DataError(
                f"holds no pixel data where the DEM lies: every digital number in lines "
                f"{window[0].start}..{window[0].stop - 1}, pixels {window[1].start}.."
                f"{window[1].stop - 1} is 0 (no data)",
                path=files.measurement,
                variable="measurement",
                expected="a complete measurement GeoTIFF (re-download the product), or a "
                f"DEM of an area the image covers (the DEM is {dem})",
            )
    with steps.step("calibrate" + (" and remove noise" if denoise else "")):
        quantity = "sigma0" if correction == "gtc" else "beta0"
        sar.image = calibration.calibrate(
            crop, files.calibration, noise_xml=files.noise if denoise else None, quantity=quantity
        )
    with steps.step(f"terrain correction ({correction})"):
        linear = _compute(
            geocoding.terrain_correct(sar, on_grid.ellipsoidal, correction=correction),
            progress=progress,
        )
    with steps.step("write"):
        ds = _as_stack(
            linear,
            product,
            pol,
            grid=grid,
            dem=dem,
            correction=correction,
            denoise=denoise,
            overlap=overlap,
            dem_on_grid=on_grid,
        )
        if not np.isfinite(ds[SIGMA0].values).any():
            raise _no_overlap(dem, dem_raster, product)
        target = write_stack(ds, stack_path(out, product.product_id, pol))
    return target


def _open_measurement(product: SafeProduct, pol: str) -> Any:
    """sarsen's product for the polarisation, its annotation read (errors name the file)."""
    from workbench.ingest.safe_geocoding import sarsen_product

    annotation = product.files[pol].annotation
    try:
        return sarsen_product(product.path, product.group(pol))
    except (ElementTree.ParseError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise FileFormatError(
            f"cannot be read as a Sentinel-1 product annotation ({exc})",
            path=annotation,
            expected="the annotation XML listed in manifest.safe (re-download the product)",
        ) from exc


def _no_overlap(dem: Path, dem_raster: xr.DataArray, product: SafeProduct) -> DataError:
    from workbench.ingest.safe_geocoding import _lonlat_bounds

    w, s, e, n = _lonlat_bounds(dem_raster)
    lons, lats = (
        zip(*product.footprint, strict=False) if product.footprint else ((np.nan,), (np.nan,))
    )
    return DataError(
        f"does not cover the scene: no DEM cell falls inside the image; the DEM spans lon "
        f"{w:.4f}..{e:.4f}, lat {s:.4f}..{n:.4f}; the product footprint in manifest.safe spans "
        f"lon {min(lons):.4f}..{max(lons):.4f}, lat {min(lats):.4f}..{max(lats):.4f}",
        path=dem,
        variable="--dem",
        expected="a DEM of the area to stack, inside the product footprint",
    )


def _compute(lazy: xr.DataArray, *, progress: bool) -> xr.DataArray:
    """Compute a dask-backed result with a progress bar over its tasks."""
    if not progress:
        return lazy.compute()
    from tqdm.dask import TqdmCallback

    with TqdmCallback(desc="terrain correction", leave=False):
        return lazy.compute()


def _versions() -> str:
    import sarsen
    import xarray_sentinel

    return f"xarray-sentinel {xarray_sentinel.__version__}, sarsen {sarsen.__version__}"


def _as_stack(
    linear: xr.DataArray,
    product: SafeProduct,
    pol: str,
    *,
    grid: Any,
    dem: Path,
    correction: str,
    denoise: bool,
    overlap: float,
    dem_on_grid: Any,
) -> xr.Dataset:
    """The geocoded intensity (y ascending) as a one-date workbench stack in dB."""
    values = np.asarray(linear.values, dtype=np.float64)[::-1]  # north-up
    if correction == "rtc":
        from workbench.ingest.safe_geocoding import trim_rtc_edge

        values = trim_rtc_edge(values)
    finite = np.isfinite(values)
    floor = 10.0 ** (FLOOR_DB / 10.0)
    below = finite & (values <= floor)
    db = np.full(values.shape, np.nan, np.float32)
    db[finite] = (10.0 * np.log10(np.maximum(values[finite], floor))).astype(np.float32)
    x = linear["x"].values
    y = linear["y"].values[::-1]
    quantity = "sigma0" if correction == "gtc" else "gamma0_terrain_flattened"
    long_name = (
        "sigma nought (σ0), geometrically terrain-corrected"
        if correction == "gtc"
        else "gamma nought (γ0), radiometrically terrain-flattened"
    )
    one = lambda value: ("time", [value])  # noqa: E731  (a per-date coordinate of one date)
    ds = xr.Dataset(
        {
            SIGMA0: (
                ("time", "y", "x"),
                db[None],
                {"units": "dB", "long_name": long_name, "quantity": quantity},
            ),
            "dem": (
                ("y", "x"),
                np.asarray(dem_on_grid.heights.values, np.float32)[::-1],
                {
                    "units": "m",
                    "long_name": "surface height, as in the DEM file",
                    "source": str(dem),
                },
            ),
        },
        coords={
            "time": ("time", np.array([product.start], "datetime64[ns]")),
            "y": y,
            "x": x,
            "sensor": one(product.sensor),
            "platform": one(f"sentinel-{product.sensor[1:].lower()}"),
            "orbit": one(str(product.attrs["relative_orbit_number"])),
            "orbit_direction": one(str(product.attrs["pass"]).lower()),
            "relative_orbit": one(int(product.attrs["relative_orbit_number"])),
            "polarisation": one(pol),
            "product_id": one(product.product_id),
            "source": one(str(product.path)),
        },
        attrs={
            "source": "Sentinel-1 SAFE via workbench.ingest.safe",
            "product": product.product_id,
            "polarisation": pol,
            "correction": correction,
            "quantity": quantity,
            "thermal_noise_removed": int(denoise),
            "dem_file": str(dem),
            "dem_heights": dem_on_grid.note,
            "pixel_size": grid.resolution,
            "below_floor_fraction": float(below.sum() / max(finite.sum(), 1)),
            "floor_db": FLOOR_DB,
            "dem_scene_overlap": round(float(overlap), 4),
            "software": _versions(),
        },
    )
    return ds.rio.write_crs(grid.crs.to_string())
