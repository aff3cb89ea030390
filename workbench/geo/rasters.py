"""Raster products as Cloud-Optimized GeoTIFFs (COG), written atomically.

One writer, :func:`write_cog`, and one thin wrapper per product so that every product has
the same on-disk conventions:

========================  =========  ================  ==========  ==========================
product                   dtype      values            nodata      overview resampling
========================  =========  ================  ==========  ==========================
zones                     uint8      CaFFe 0/64/127/254  0 (NA)    mode
glacier mask              uint8      0 / 1             255         mode
confidence                float32    0..1              NaN         average
uncertainty               float32    ≥ 0 (e.g. std)    NaN         average
========================  =========  ================  ==========  ==========================

Zones are written with the CaFFe values on disk (DESIGN.md): class ids 0..3 in memory are
mapped to 0/64/127/254; 0 ("NA": no data, radar shadow, layover) is the GDAL nodata value.
Every file carries its CRS, geotransform, nodata value and one description per band (dates
for a time series), is tiled (512 px blocks by default), DEFLATE-compressed and gets internal
overviews when it is larger than one block, which is what the GDAL ``COG`` driver does. The
file is written to a temporary name beside the target and renamed on success.

Examples
--------
>>> import numpy as np, tempfile, pathlib, rasterio
>>> from affine import Affine
>>> zones = np.zeros((64, 80), np.uint8); zones[:, 40:] = 3; zones[:, 10:40] = 2
>>> out = pathlib.Path(tempfile.mkdtemp()) / "zones.tif"
>>> _ = write_zones_cog(zones, out, crs="EPSG:32633", transform=Affine(20, 0, 500000, 0, -20, 8700000))
>>> with rasterio.open(out) as src:
...     src.read(1)[0, [0, 20, 60]].tolist(), src.nodata, src.descriptions, src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"]
([0, 127, 254], 0.0, ('zones',), 'COG')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench._io import atomic_path
from workbench.data.encoding import ZONE_VALUES, classes_to_zones
from workbench.errors import DataError, LabelEncodingError

__all__ = [
    "write_cog",
    "write_zones_cog",
    "write_mask_cog",
    "write_confidence_cog",
    "write_uncertainty_cog",
]

_RESAMPLING = {"nearest", "mode", "average", "bilinear", "cubic", "lanczos", "rms"}


def _as_affine(transform: Any) -> Any:
    from affine import Affine

    if transform is None:
        raise DataError("is missing", variable="transform",
                        expected="an affine.Affine geotransform (e.g. da.rio.transform())")
    if isinstance(transform, Affine):
        return transform
    try:
        vals = [float(v) for v in transform]
    except TypeError as err:
        raise DataError(f"is {transform!r}", variable="transform",
                        expected="an affine.Affine or its 6 coefficients a, b, c, d, e, f") from err
    if len(vals) not in (6, 9):
        raise DataError(f"has {len(vals)} coefficients", variable="transform",
                        expected="an affine.Affine or its 6 coefficients a, b, c, d, e, f")
    return Affine(*vals[:6])


def _unpack(data: Any, crs: Any, transform: Any) -> tuple[np.ndarray, Any, Any, list[str] | None]:
    """Array (bands, y, x), CRS, transform and default band names from an array or DataArray."""
    names = None
    if hasattr(data, "dims") and hasattr(data, "values"):  # xarray.DataArray
        if hasattr(data, "rio"):
            if crs is None:
                try:
                    crs = data.rio.crs
                except Exception:  # noqa: BLE001 - rioxarray raises various errors without CRS
                    crs = None
            if transform is None:
                try:
                    transform = data.rio.transform()
                except Exception:  # noqa: BLE001
                    transform = None
        if data.ndim == 3:
            lead = data.dims[0]
            vals = data[lead].values
            if np.issubdtype(vals.dtype, np.datetime64):
                names = [str(np.datetime_as_string(v, unit="D")) for v in vals]
            else:
                names = [str(v) for v in vals]
        arr = np.asarray(data.values)
    else:
        arr = np.asarray(data)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise DataError(f"has shape {arr.shape}", variable="data",
                        expected="a 2-D (y, x) or 3-D (band, y, x) raster")
    return arr, crs, transform, names


def write_cog(
    data: Any,
    path: str | os.PathLike[str],
    *,
    crs: Any = None,
    transform: Any = None,
    nodata: float | int | None = None,
    band_descriptions: Sequence[str] | None = None,
    dtype: Any = None,
    overview_resampling: str = "nearest",
    blocksize: int = 512,
    compress: str = "deflate",
    tags: dict[str, Any] | None = None,
) -> Path:
    """Write a raster as a Cloud-Optimized GeoTIFF, atomically.

    Parameters
    ----------
    data
        2-D ``(y, x)`` or 3-D ``(band, y, x)`` NumPy array, or an ``xarray.DataArray``
        (with rioxarray's ``.rio``: its CRS and transform are used unless given; for a 3-D
        array the leading coordinate, e.g. ``time``, names the bands).
    path
        Target file (``.tif``). Replaced in one rename; nothing is left on failure.
    crs
        CRS (EPSG code, WKT, pyproj/rasterio CRS). Required.
    transform
        Affine geotransform of the pixel corners (``affine.Affine`` or 6 coefficients).
    nodata
        Nodata value written to the file (``float('nan')`` allowed for float dtypes).
    band_descriptions
        One description per band (default: the leading coordinate's values, else none).
    dtype
        On-disk dtype (default: the array's). Integer targets refuse values out of range
        and NaNs instead of wrapping them silently.
    overview_resampling
        Resampling for the overviews: ``"mode"`` or ``"nearest"`` for classes,
        ``"average"`` for continuous values.
    blocksize
        Tile size in pixels (multiple of 16).
    compress
        GDAL compression (``"deflate"``, ``"lzw"``, ``"zstd"``, ``"none"``).
    tags
        Extra dataset metadata (e.g. ``{"glacier": "JAC", "model": "unet"}``).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    DataError
        No CRS or transform, wrong shape, values that do not fit ``dtype``, or a
        ``band_descriptions`` of the wrong length.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib, rioxarray
    >>> from affine import Affine
    >>> conf = np.linspace(0, 1, 30 * 40, dtype=np.float32).reshape(30, 40)
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "confidence.tif"
    >>> _ = write_cog(conf, out, crs="EPSG:3413", transform=Affine(30, 0, -560000, 0, -30, -1340000),
    ...               nodata=float("nan"), band_descriptions=["confidence"], overview_resampling="average")
    >>> da = rioxarray.open_rasterio(out)
    >>> da.rio.crs.to_epsg(), da.shape, bool((da.values[0] == conf).all())
    (3413, (1, 30, 40), True)
    """
    import rasterio

    arr, crs, transform, names = _unpack(data, crs, transform)
    if crs is None:
        raise DataError("is missing", path=path, variable="crs",
                        expected="a CRS such as 'EPSG:32633' (or a DataArray with .rio.crs)")
    from workbench.geo.crs import as_crs

    crs_wkt = as_crs(crs, path=path).to_wkt()
    affine = _as_affine(transform)
    target = np.dtype(dtype) if dtype is not None else arr.dtype
    if target == np.bool_:
        target = np.dtype(np.uint8)
    if target.kind not in "uif":
        raise DataError(f"has dtype {target}", path=path, variable="dtype",
                        expected="an integer or floating-point dtype")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if target.kind in "ui":
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise DataError("holds NaN or infinite values", path=path, variable="data",
                            expected=f"finite values for the integer dtype {target}")
        info = np.iinfo(target)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise DataError(f"holds values {arr.min()}..{arr.max()}", path=path, variable="data",
                            expected=f"values within {info.min}..{info.max} for {target}")
        if nodata is not None and (isinstance(nodata, float) and not np.isfinite(nodata)
                                   or not info.min <= nodata <= info.max):
            raise DataError(f"is {nodata!r}", path=path, variable="nodata",
                            expected=f"a value within {info.min}..{info.max} for {target}")
    count = arr.shape[0]
    if band_descriptions is None:
        band_descriptions = names
    if band_descriptions is not None:
        band_descriptions = [str(d) for d in band_descriptions]
        if len(band_descriptions) != count:
            raise DataError(f"has {len(band_descriptions)} entries for {count} bands", path=path,
                            variable="band_descriptions", expected="one description per band")
    if overview_resampling not in _RESAMPLING:
        raise DataError(f"is {overview_resampling!r}", variable="overview_resampling",
                        expected=f"one of {sorted(_RESAMPLING)}")
    if blocksize < 16 or blocksize % 16:
        raise DataError(f"is {blocksize!r}", variable="blocksize", expected="a multiple of 16")
    profile = {
        "driver": "COG",
        "width": int(arr.shape[2]),
        "height": int(arr.shape[1]),
        "count": int(count),
        "dtype": target.name,
        "crs": crs_wkt,
        "transform": affine,
        "nodata": nodata,
        "blocksize": int(blocksize),
        "compress": compress,
        "overview_resampling": overview_resampling,
        "bigtiff": "if_safer",
    }
    if target.kind == "f" and compress.lower() in ("deflate", "lzw", "zstd"):
        profile["predictor"] = 3
    elif compress.lower() in ("deflate", "lzw", "zstd"):
        profile["predictor"] = 2
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(arr.astype(target, copy=False))
            if band_descriptions is not None:
                for i, d in enumerate(band_descriptions, start=1):
                    dst.set_band_description(i, d)
            if tags:
                dst.update_tags(**{str(k): str(v) for k, v in tags.items()})
    return Path(path)


def write_zones_cog(
    zones: Any,
    path: str | os.PathLike[str],
    *,
    crs: Any = None,
    transform: Any = None,
    band_descriptions: Sequence[str] | None = None,
    tags: dict[str, Any] | None = None,
) -> Path:
    """Write zones as a COG with the CaFFe values 0/64/127/254 (uint8, nodata 0 = NA).

    ``zones`` holds class ids 0..3 (converted) or CaFFe values already (kept).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib, rasterio
    >>> from affine import Affine
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "z.tif"
    >>> _ = write_zones_cog(np.array([[0, 1], [2, 3]]), out, crs=32633, transform=Affine(10, 0, 0, 0, -10, 20))
    >>> rasterio.open(out).read(1).tolist()
    [[0, 64], [127, 254]]
    """
    arr, crs, transform, names = _unpack(zones, crs, transform)
    if arr.dtype.kind not in "biu" and not (arr.dtype.kind == "f" and np.all(arr == np.round(arr))):
        raise LabelEncodingError(f"has dtype {arr.dtype}", path=path, variable="zones",
                                 expected="class ids 0..3 or CaFFe values 0/64/127/254")
    vals = np.unique(arr)
    if vals.size and vals.max() > 3:
        bad = sorted(set(vals.tolist()) - set(ZONE_VALUES))
        if bad:
            raise LabelEncodingError(f"holds values {bad[:10]}", path=path, variable="zones",
                                     expected="class ids 0..3 or CaFFe values 0/64/127/254")
        out = arr.astype(np.uint8)
    else:
        out = classes_to_zones(arr.astype(np.int64))
    return write_cog(out, path, crs=crs, transform=transform, nodata=0,
                     band_descriptions=band_descriptions or names or ["zones"] * out.shape[0],
                     dtype=np.uint8, overview_resampling="mode", tags=tags)


def write_mask_cog(
    mask: Any,
    path: str | os.PathLike[str],
    *,
    crs: Any = None,
    transform: Any = None,
    band_descriptions: Sequence[str] | None = None,
    tags: dict[str, Any] | None = None,
) -> Path:
    """Write a binary glacier mask as a COG (uint8 0/1, nodata 255).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib, rasterio
    >>> from affine import Affine
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "mask.tif"
    >>> _ = write_mask_cog(np.eye(3, dtype=bool), out, crs=32633, transform=Affine(10, 0, 0, 0, -10, 30))
    >>> with rasterio.open(out) as src:
    ...     src.read(1).tolist(), src.nodata, src.descriptions
    ([[1, 0, 0], [0, 1, 0], [0, 0, 1]], 255.0, ('glacier',))
    """
    arr, crs, transform, names = _unpack(mask, crs, transform)
    if arr.dtype != np.bool_:
        vals = np.unique(arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr)
        if not set(vals.tolist()) <= {0, 1}:
            raise DataError(f"holds values {vals[:10].tolist()}", path=path, variable="mask",
                            expected="a binary mask (bool or 0/1)")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise DataError("holds NaN values", path=path, variable="mask",
                            expected="a binary mask (bool or 0/1) without NaN")
    return write_cog(arr.astype(np.uint8), path, crs=crs, transform=transform, nodata=255,
                     band_descriptions=band_descriptions or names or ["glacier"] * arr.shape[0],
                     dtype=np.uint8, overview_resampling="mode", tags=tags)


def _write_float(values: Any, path: Any, crs: Any, transform: Any, default: str,
                 band_descriptions: Sequence[str] | None, tags: dict[str, Any] | None) -> Path:
    arr, crs, transform, names = _unpack(values, crs, transform)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"has dtype {arr.dtype}", path=path, variable=default,
                        expected="numbers (written as float32)")
    return write_cog(arr.astype(np.float32), path, crs=crs, transform=transform,
                     nodata=float("nan"),
                     band_descriptions=band_descriptions or names or [default] * arr.shape[0],
                     dtype=np.float32, overview_resampling="average", tags=tags)


def write_confidence_cog(
    confidence: Any,
    path: str | os.PathLike[str],
    *,
    crs: Any = None,
    transform: Any = None,
    band_descriptions: Sequence[str] | None = None,
    tags: dict[str, Any] | None = None,
) -> Path:
    """Write a confidence raster (float32, nodata NaN, averaged overviews) as a COG.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib, rasterio
    >>> from affine import Affine
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "conf.tif"
    >>> _ = write_confidence_cog(np.full((4, 4), 0.9), out, crs=32633, transform=Affine(10, 0, 0, 0, -10, 40))
    >>> with rasterio.open(out) as src:
    ...     src.dtypes, src.descriptions
    (('float32',), ('confidence',))
    """
    return _write_float(confidence, path, crs, transform, "confidence", band_descriptions, tags)


def write_uncertainty_cog(
    uncertainty: Any,
    path: str | os.PathLike[str],
    *,
    crs: Any = None,
    transform: Any = None,
    band_descriptions: Sequence[str] | None = None,
    tags: dict[str, Any] | None = None,
) -> Path:
    """Write an uncertainty raster (e.g. the ensemble standard deviation) as a float32 COG.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib, rasterio
    >>> from affine import Affine
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "std.tif"
    >>> _ = write_uncertainty_cog(np.zeros((4, 4)), out, crs=32633, transform=Affine(10, 0, 0, 0, -10, 40))
    >>> rasterio.open(out).descriptions
    ('uncertainty',)
    """
    return _write_float(uncertainty, path, crs, transform, "uncertainty", band_descriptions, tags)
