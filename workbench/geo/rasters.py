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

Zones are written with the CaFFe values on disk (docs/design.md §3.2): class ids 0..3 in memory are
mapped to 0/64/127/254; 0 ("NA": no data, radar shadow, layover) is the GDAL nodata value.
Every file carries its CRS, geotransform, nodata value and one description per band (dates
for a time series), is tiled (512 px blocks by default), DEFLATE-compressed and gets internal
overviews when it is larger than one block: the layout of the GDAL ``COG`` driver, which
writes every file. The file is written to a temporary name beside the target and renamed on
success.

**Memory.** A NumPy array is written in one go. A lazy (Dask-backed) raster — e.g. a variable
of a prediction store opened with :func:`workbench.inference.open_prediction` — is
**streamed**: read one window of one band at a time (a chunk of a Dask array, whole 512-px
blocks, within ``max_memory_mb``), written window by window into a tiled temporary GeoTIFF
beside the target, which the ``COG`` driver
then copies (building the overviews block by block) with GDAL's block cache capped, so the
peak memory does not grow with the raster. Both paths give the same pixels and overviews.
:func:`validate_cog` checks a file's layout as GDAL's ``validate_cloud_optimized_geotiff.py``
does.

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
>>> validate_cog(out)
([], [])
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator, Sequence
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
    "validate_cog",
    "STREAM_MEMORY_MB",
]

_RESAMPLING = {"nearest", "mode", "average", "bilinear", "cubic", "lanczos", "rms"}

STREAM_MEMORY_MB = 256.0
"""Default working-memory budget (MiB) of a streamed write: one window of one band, its
converted copies, and GDAL's block cache (a quarter of it, at least 32 MiB)."""


def _as_affine(transform: Any) -> Any:
    from affine import Affine

    if transform is None:
        raise DataError(
            "is missing",
            variable="transform",
            expected="an affine.Affine geotransform (e.g. da.rio.transform())",
        )
    if isinstance(transform, Affine):
        return transform
    try:
        vals = [float(v) for v in transform]
    except TypeError as err:
        raise DataError(
            f"is {transform!r}",
            variable="transform",
            expected="an affine.Affine or its 6 coefficients a, b, c, d, e, f",
        ) from err
    if len(vals) not in (6, 9):
        raise DataError(
            f"has {len(vals)} coefficients",
            variable="transform",
            expected="an affine.Affine or its 6 coefficients a, b, c, d, e, f",
        )
    return Affine(*vals[:6])


def _is_dask(obj: Any) -> bool:
    try:
        import dask.array as da
    except ImportError:  # pragma: no cover - dask is a dependency
        return False
    return isinstance(obj, da.Array)


def _unpack(data: Any, crs: Any, transform: Any) -> tuple[Any, Any, Any, list[str] | None]:
    """Array (bands, y, x), CRS, transform and default band names from an array or DataArray.

    The array is NumPy, or Dask when ``data`` is lazy (nothing is computed here)."""
    import xarray as xr

    names = None
    if isinstance(data, xr.DataArray):  # (``hasattr(data, "values")`` would load it)
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
        arr = data.data if _is_dask(data.data) else np.asarray(data.values)
    else:
        arr = data if _is_dask(data) else np.asarray(data)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise DataError(
            f"has shape {tuple(arr.shape)}",
            variable="data",
            expected="a 2-D (y, x) or 3-D (band, y, x) raster",
        )
    return arr, crs, transform, names


# ----------------------------------------------------------------------------- windows
def _round_up(n: int, step: int) -> int:
    return -(-int(n) // step) * step


def _window_shape(
    arr: Any, target: np.dtype, blocksize: int, max_memory_mb: float
) -> tuple[int, int]:
    """(rows, cols) of the windows a raster is read and written in: whole blocks, one chunk
    of a Dask array (so every chunk is read once and the working set does not depend on
    the raster's size), shrunk to fit ``max_memory_mb`` with its converted copies and
    temporaries; full-width strips for a NumPy array."""
    height, width = int(arr.shape[1]), int(arr.shape[2])
    per_px = np.dtype(arr.dtype).itemsize + 2 * target.itemsize + 16  # + int64/bool temporaries
    budget = max(float(max_memory_mb) * 2**20 / per_px, float(blocksize * blocksize))
    chunks = getattr(arr, "chunks", None)
    if chunks is not None and len(chunks) == 3:
        rows = _round_up(max(chunks[1]), blocksize)
        cols = min(_round_up(max(chunks[2]), blocksize), _round_up(width, blocksize))
    else:
        cols = _round_up(width, blocksize)
        rows = _round_up(height, blocksize)
    while rows * cols > budget and rows > blocksize:
        rows = max(blocksize, (rows // 2) // blocksize * blocksize)
    while rows * cols > budget and cols > blocksize:
        cols = max(blocksize, (cols // 2) // blocksize * blocksize)
    return rows, cols


def _windows(arr: Any, shape: tuple[int, int]) -> Iterator[tuple[int, Any, np.ndarray]]:
    """Yield ``(band, rasterio Window, values)``: one window of one band at a time."""
    from rasterio.windows import Window

    bands, height, width = (int(v) for v in arr.shape)
    rows, cols = shape
    for b in range(bands):
        for r0 in range(0, height, rows):
            r1 = min(height, r0 + rows)
            for c0 in range(0, width, cols):
                c1 = min(width, c0 + cols)
                piece = arr[b, r0:r1, c0:c1]
                if _is_dask(piece):
                    piece = piece.compute()
                yield b, Window(c0, r0, c1 - c0, r1 - r0), np.asarray(piece)


def _check_integer(arr: np.ndarray, target: np.dtype, path: Any) -> None:
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise DataError(
            "holds NaN or infinite values",
            path=path,
            variable="data",
            expected=f"finite values for the integer dtype {target}",
        )
    info = np.iinfo(target)
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        raise DataError(
            f"holds values {arr.min()}..{arr.max()}",
            path=path,
            variable="data",
            expected=f"values within {info.min}..{info.max} for {target}",
        )


def _prepare_piece(
    piece: np.ndarray,
    convert: Callable[[np.ndarray], np.ndarray] | None,
    target: np.dtype,
    path: Any,
) -> np.ndarray:
    if convert is not None:
        piece = convert(piece)
    if piece.dtype == np.bool_:
        piece = piece.astype(np.uint8)
    if target.kind in "ui":
        _check_integer(piece, target, path)
    return piece.astype(target, copy=False)


def _describe(
    dst: Any, band_descriptions: Sequence[str] | None, tags: dict[str, Any] | None
) -> None:
    if band_descriptions is not None:
        for i, d in enumerate(band_descriptions, start=1):
            dst.set_band_description(i, d)
    if tags:
        dst.update_tags(**{str(k): str(v) for k, v in tags.items()})


_STAGING: dict[str, Any] = {}


def _staging_compression() -> dict[str, Any]:
    """ZSTD level 1 for the staging file when GDAL has it (as fast as no compression here,
    a fraction of the disk), else no compression."""
    if not _STAGING:
        import rasterio
        from affine import Affine
        from rasterio.io import MemoryFile

        try:
            with rasterio.Env(CPL_LOG="/dev/null"), MemoryFile() as mem:
                with mem.open(
                    driver="GTiff",
                    width=16,
                    height=16,
                    count=1,
                    dtype="uint8",
                    crs="EPSG:32633",
                    transform=Affine(1, 0, 0, 0, -1, 16),
                    compress="zstd",
                    zstd_level=1,
                ) as dst:
                    dst.write(np.zeros((1, 16, 16), np.uint8))
                with mem.open() as src:
                    ok = src.compression is not None and src.compression.name.lower() == "zstd"
        except Exception:  # noqa: BLE001 - any GDAL without the codec
            ok = False
        _STAGING.update({"compress": "zstd", "zstd_level": 1} if ok else {"compress": "none"})
    return dict(_STAGING)


# ------------------------------------------------------------------------------ writer
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
    streaming: bool | None = None,
    max_memory_mb: float = STREAM_MEMORY_MB,
) -> Path:
    """Write a raster as a Cloud-Optimized GeoTIFF, atomically.

    Parameters
    ----------
    data
        2-D ``(y, x)`` or 3-D ``(band, y, x)`` NumPy or Dask array, or an
        ``xarray.DataArray`` (with rioxarray's ``.rio``: its CRS and transform are used
        unless given; for a 3-D array the leading coordinate, e.g. ``time``, names the bands).
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
    streaming
        Write window by window through a tiled temporary GeoTIFF (module docstring);
        default: when ``data`` is lazy (Dask-backed). ``True`` also streams a NumPy array.
    max_memory_mb
        Working-memory budget of a streamed write (window size and GDAL block cache).

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

    A lazy raster is streamed (here in windows of 16 × 16 px) with the same result:

    >>> import dask.array
    >>> lazy = dask.array.from_array(conf, chunks=(16, 40))
    >>> out2 = write_cog(lazy, out.with_name("streamed.tif"), crs="EPSG:3413",
    ...                  transform=Affine(30, 0, -560000, 0, -30, -1340000), nodata=float("nan"),
    ...                  overview_resampling="average", blocksize=16, max_memory_mb=0.001)
    >>> bool((rioxarray.open_rasterio(out2).values[0] == conf).all()), validate_cog(out2)
    (True, ([], []))
    """
    arr, crs, transform, names = _unpack(data, crs, transform)
    return _write_cog(
        arr,
        path,
        crs=crs,
        transform=transform,
        names=names,
        nodata=nodata,
        band_descriptions=band_descriptions,
        dtype=dtype,
        overview_resampling=overview_resampling,
        blocksize=blocksize,
        compress=compress,
        tags=tags,
        streaming=streaming,
        max_memory_mb=max_memory_mb,
    )


def _write_cog(
    arr: Any,
    path: str | os.PathLike[str],
    *,
    crs: Any,
    transform: Any,
    names: list[str] | None,
    nodata: float | int | None,
    band_descriptions: Sequence[str] | None,
    dtype: Any,
    overview_resampling: str,
    blocksize: int,
    compress: str,
    tags: dict[str, Any] | None,
    streaming: bool | None,
    max_memory_mb: float,
    convert: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Path:
    """:func:`write_cog` on an unpacked (bands, y, x) array; ``convert`` maps the values
    (whole array or one window) before the dtype checks."""
    import rasterio
    import rasterio.shutil

    if crs is None:
        raise DataError(
            "is missing",
            path=path,
            variable="crs",
            expected="a CRS such as 'EPSG:32633' (or a DataArray with .rio.crs)",
        )
    from workbench.geo.crs import as_crs

    crs_wkt = as_crs(crs, path=path).to_wkt()
    affine = _as_affine(transform)
    target = np.dtype(dtype) if dtype is not None else np.dtype(arr.dtype)
    if target == np.bool_:
        target = np.dtype(np.uint8)
    if target.kind not in "uif":
        raise DataError(
            f"has dtype {target}",
            path=path,
            variable="dtype",
            expected="an integer or floating-point dtype",
        )
    if target.kind in "ui" and nodata is not None:
        info = np.iinfo(target)
        if (
            isinstance(nodata, float)
            and not np.isfinite(nodata)
            or not info.min <= nodata <= info.max
        ):
            raise DataError(
                f"is {nodata!r}",
                path=path,
                variable="nodata",
                expected=f"a value within {info.min}..{info.max} for {target}",
            )
    count, height, width = (int(v) for v in arr.shape)
    if band_descriptions is None:
        band_descriptions = names
    if band_descriptions is not None:
        band_descriptions = [str(d) for d in band_descriptions]
        if len(band_descriptions) != count:
            raise DataError(
                f"has {len(band_descriptions)} entries for {count} bands",
                path=path,
                variable="band_descriptions",
                expected="one description per band",
            )
    if overview_resampling not in _RESAMPLING:
        raise DataError(
            f"is {overview_resampling!r}",
            variable="overview_resampling",
            expected=f"one of {sorted(_RESAMPLING)}",
        )
    if blocksize < 16 or blocksize % 16:
        raise DataError(f"is {blocksize!r}", variable="blocksize", expected="a multiple of 16")
    options: dict[str, Any] = {
        "blocksize": int(blocksize),
        "compress": compress,
        "overview_resampling": overview_resampling,
        "bigtiff": "if_safer",
    }
    if target.kind == "f" and compress.lower() in ("deflate", "lzw", "zstd"):
        options["predictor"] = 3
    elif compress.lower() in ("deflate", "lzw", "zstd"):
        options["predictor"] = 2
    dataset = {
        "width": width,
        "height": height,
        "count": count,
        "dtype": target.name,
        "crs": crs_wkt,
        "transform": affine,
        "nodata": nodata,
    }
    lazy = _is_dask(arr)
    if not (lazy if streaming is None else streaming):
        values = _prepare_piece(np.asarray(arr.compute() if lazy else arr), convert, target, path)
        with atomic_path(path) as tmp:
            with rasterio.open(tmp, "w", driver="COG", **dataset, **options) as dst:
                dst.write(values)
                _describe(dst, band_descriptions, tags)
        return Path(path)

    shape = _window_shape(arr, target, int(blocksize), max_memory_mb)
    cache_mb = int(max(32.0, float(max_memory_mb) / 4))
    # the staging file is read once by the COG driver: fast lossless compression, by band
    staging_options = {
        "tiled": True,
        "blockxsize": int(blocksize),
        "blockysize": int(blocksize),
        "interleave": "band",
        "bigtiff": "if_safer",
        **_staging_compression(),
    }
    if "predictor" in options and staging_options["compress"] != "none":
        staging_options["predictor"] = options["predictor"]
    with atomic_path(path) as tmp:
        staging = tmp.with_name(tmp.name + ".staging.tif")
        try:
            with rasterio.Env(GDAL_CACHEMAX=cache_mb):
                with rasterio.open(
                    staging, "w", driver="GTiff", **dataset, **staging_options
                ) as dst:
                    for band, window, piece in _windows(arr, shape):
                        dst.write(
                            _prepare_piece(piece, convert, target, path), band + 1, window=window
                        )
                    _describe(dst, band_descriptions, tags)
                rasterio.shutil.copy(staging, tmp, driver="COG", **options)
        finally:
            staging.unlink(missing_ok=True)
    return Path(path)


# ----------------------------------------------------------------------------- products
def _streams(arr: Any, streaming: bool | None) -> bool:
    return _is_dask(arr) if streaming is None else bool(streaming)


def write_zones_cog(
    zones: Any,
    path: str | os.PathLike[str],
    *,
    crs: Any = None,
    transform: Any = None,
    band_descriptions: Sequence[str] | None = None,
    tags: dict[str, Any] | None = None,
    streaming: bool | None = None,
    max_memory_mb: float = STREAM_MEMORY_MB,
) -> Path:
    """Write zones as a COG with the CaFFe values 0/64/127/254 (uint8, nodata 0 = NA).

    ``zones`` holds class ids 0..3 (converted) or CaFFe values already (kept). A lazy
    raster is read twice, window by window: once to tell which, once to write it.

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
    if arr.dtype.kind not in "biuf":
        raise LabelEncodingError(
            f"has dtype {arr.dtype}",
            path=path,
            variable="zones",
            expected="class ids 0..3 or CaFFe values 0/64/127/254",
        )
    target = np.dtype(np.uint8)
    pieces = (
        _windows(arr, _window_shape(arr, target, 512, max_memory_mb))
        if _streams(arr, streaming)
        else [(0, None, np.asarray(arr))]
    )
    values: set[float] = set()
    for _, _, piece in pieces:
        if piece.dtype.kind == "f" and not np.all(piece == np.round(piece)):
            raise LabelEncodingError(
                f"has dtype {piece.dtype} with non-integer values",
                path=path,
                variable="zones",
                expected="class ids 0..3 or CaFFe values 0/64/127/254",
            )
        values.update(np.unique(piece).tolist())
    if values and min(values) < 0:
        raise LabelEncodingError(
            f"holds values {sorted(values)[:10]}",
            path=path,
            variable="zones",
            expected="class ids 0..3 or CaFFe values 0/64/127/254",
        )
    convert: Callable[[np.ndarray], np.ndarray]
    if values and max(values) > 3:
        bad = sorted(values - set(ZONE_VALUES))
        if bad:
            raise LabelEncodingError(
                f"holds values {bad[:10]}",
                path=path,
                variable="zones",
                expected="class ids 0..3 or CaFFe values 0/64/127/254",
            )
        convert = lambda a: a.astype(np.uint8)  # noqa: E731
    else:
        convert = lambda a: classes_to_zones(a.astype(np.int64))  # noqa: E731
    return _write_cog(
        arr,
        path,
        crs=crs,
        transform=transform,
        names=None,
        nodata=0,
        band_descriptions=band_descriptions or names or ["zones"] * arr.shape[0],
        dtype=np.uint8,
        overview_resampling="mode",
        blocksize=512,
        compress="deflate",
        tags=tags,
        streaming=streaming,
        max_memory_mb=max_memory_mb,
        convert=convert,
    )


def _binary(path: Any) -> Callable[[np.ndarray], np.ndarray]:
    def convert(arr: np.ndarray) -> np.ndarray:
        if arr.dtype == np.bool_:
            return arr.astype(np.uint8)
        vals = np.unique(arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr)
        if not set(vals.tolist()) <= {0, 1}:
            raise DataError(
                f"holds values {vals[:10].tolist()}",
                path=path,
                variable="mask",
                expected="a binary mask (bool or 0/1)",
            )
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise DataError(
                "holds NaN values",
                path=path,
                variable="mask",
                expected="a binary mask (bool or 0/1) without NaN",
            )
        return arr.astype(np.uint8)

    return convert


def write_mask_cog(
    mask: Any,
    path: str | os.PathLike[str],
    *,
    crs: Any = None,
    transform: Any = None,
    band_descriptions: Sequence[str] | None = None,
    tags: dict[str, Any] | None = None,
    streaming: bool | None = None,
    max_memory_mb: float = STREAM_MEMORY_MB,
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
    if arr.dtype.kind not in "biuf":
        raise DataError(
            f"has dtype {arr.dtype}",
            path=path,
            variable="mask",
            expected="a binary mask (bool or 0/1)",
        )
    return _write_cog(
        arr,
        path,
        crs=crs,
        transform=transform,
        names=None,
        nodata=255,
        band_descriptions=band_descriptions or names or ["glacier"] * arr.shape[0],
        dtype=np.uint8,
        overview_resampling="mode",
        blocksize=512,
        compress="deflate",
        tags=tags,
        streaming=streaming,
        max_memory_mb=max_memory_mb,
        convert=_binary(path),
    )


def _write_float(
    values: Any,
    path: Any,
    crs: Any,
    transform: Any,
    default: str,
    band_descriptions: Sequence[str] | None,
    tags: dict[str, Any] | None,
    streaming: bool | None,
    max_memory_mb: float,
) -> Path:
    arr, crs, transform, names = _unpack(values, crs, transform)
    if arr.dtype.kind not in "biuf":
        raise DataError(
            f"has dtype {arr.dtype}",
            path=path,
            variable=default,
            expected="numbers (written as float32)",
        )
    return _write_cog(
        arr,
        path,
        crs=crs,
        transform=transform,
        names=None,
        nodata=float("nan"),
        band_descriptions=band_descriptions or names or [default] * arr.shape[0],
        dtype=np.float32,
        overview_resampling="average",
        blocksize=512,
        compress="deflate",
        tags=tags,
        streaming=streaming,
        max_memory_mb=max_memory_mb,
        convert=lambda a: a.astype(np.float32),
    )


def write_confidence_cog(
    confidence: Any,
    path: str | os.PathLike[str],
    *,
    crs: Any = None,
    transform: Any = None,
    band_descriptions: Sequence[str] | None = None,
    tags: dict[str, Any] | None = None,
    streaming: bool | None = None,
    max_memory_mb: float = STREAM_MEMORY_MB,
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
    return _write_float(
        confidence,
        path,
        crs,
        transform,
        "confidence",
        band_descriptions,
        tags,
        streaming,
        max_memory_mb,
    )


def write_uncertainty_cog(
    uncertainty: Any,
    path: str | os.PathLike[str],
    *,
    crs: Any = None,
    transform: Any = None,
    band_descriptions: Sequence[str] | None = None,
    tags: dict[str, Any] | None = None,
    streaming: bool | None = None,
    max_memory_mb: float = STREAM_MEMORY_MB,
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
    return _write_float(
        uncertainty,
        path,
        crs,
        transform,
        "uncertainty",
        band_descriptions,
        tags,
        streaming,
        max_memory_mb,
    )


# ---------------------------------------------------------------------------- validation
_GHOST_KEY = b"GDAL_STRUCTURAL_METADATA_SIZE="


def validate_cog(
    path: str | os.PathLike[str], *, full_check: bool = True
) -> tuple[list[str], list[str]]:
    """Check that a GeoTIFF has the Cloud-Optimized layout; return ``(errors, warnings)``.

    The checks of GDAL's ``validate_cloud_optimized_geotiff.py`` (which needs GDAL's Python
    bindings, not installed here), read through rasterio's TIFF metadata (``IFD_OFFSET``,
    ``BLOCK_OFFSET_x_y``, ``BLOCK_SIZE_x_y``): a GeoTIFF; tiled when larger than 512 px
    (overviews recommended: a warning); the main IFD right after the header and GDAL's
    structural-metadata "ghost" area; every overview smaller than the previous one, tiled,
    its IFD after the previous IFD; the image data after the IFDs, the smallest overview
    first and the full resolution last; with ``full_check``, the blocks of every image in
    row-major order and, when the ghost area declares them, each block's size leader and
    repeated-last-4-bytes trailer.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib, rasterio
    >>> from affine import Affine
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "plain.tif"
    >>> with rasterio.open(out, "w", driver="GTiff", width=600, height=600, count=1, dtype="uint8",
    ...                    crs="EPSG:32633", transform=Affine(10, 0, 0, 0, -10, 0)) as dst:
    ...     dst.write(np.zeros((1, 600, 600), np.uint8))
    >>> validate_cog(out)
    (['The file is greater than 512xH or Wx512, but is not tiled'], ['The file is greater than 512xH or Wx512, it is recommended to include internal overviews'])
    """
    import rasterio

    path = Path(path)
    errors: list[str] = []
    warnings: list[str] = []
    with rasterio.open(path) as src:
        if src.driver != "GTiff":
            return [f"The file is a {src.driver} dataset, not a GeoTIFF"], []
        n_ovr = len(src.overviews(1))
        structure = src.tags(ns="IMAGE_STRUCTURE")
        bands = (
            list(range(1, src.count + 1))
            if (structure.get("INTERLEAVE", "").upper() == "BAND")
            else [1]
        )

        if src.width > 512 or src.height > 512:
            if not src.profile.get("tiled", False):
                errors.append("The file is greater than 512xH or Wx512, but is not tiled")
            if n_ovr == 0:
                warnings.append(
                    "The file is greater than 512xH or Wx512, it is recommended to "
                    "include internal overviews"
                )

        def item(key: str, band: int = 1, ovr: int | None = None) -> int:
            value = src.get_tag_item(key, "TIFF", bidx=band, ovr=ovr)
            return int(value) if value else 0

        with open(path, "rb") as f:
            header = f.read(1024)
        little = header[:2] == b"II"
        base = 16 if header[2:4] in (b"+\x00", b"\x00+") else 8
        ifds = [item("IFD_OFFSET")]
        ghost: dict[str, str] = {}
        if ifds[0] != base:
            pos = header.find(_GHOST_KEY)
            if pos < 0:
                errors.append(
                    f"The offset of the main IFD should be {base}. It is {ifds[0]} instead"
                )
            else:
                size = int(header[pos + len(_GHOST_KEY) : pos + len(_GHOST_KEY) + 6])
                start = pos + len(_GHOST_KEY) + len(b"000000 bytes\n")
                text = header[start : start + size].decode("ascii", "replace")
                ghost = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
                expected = start + size + (start + size) % 2  # IFDs start on a word boundary
                if expected != ifds[0]:
                    errors.append(
                        f"The offset of the main IFD should be {expected}. It is {ifds[0]} instead"
                    )
        sizes = [(src.width, src.height)]
        for i in range(n_ovr):
            with rasterio.open(path, overview_level=i) as ovr:
                sizes.append((ovr.width, ovr.height))
                if (ovr.width > 512 or ovr.height > 512) and not ovr.profile.get("tiled", False):
                    errors.append(f"Overview of index {i} is not tiled")
            if sizes[-1][0] > sizes[-2][0] or sizes[-1][1] > sizes[-2][1]:
                errors.append(f"Overview of index {i} has larger dimension than the previous image")
            ifds.append(item("IFD_OFFSET", ovr=i))
            if ifds[-1] < ifds[-2]:
                errors.append(
                    f"The offset of the IFD for overview of index {i} is {ifds[-1]}, "
                    f"whereas it should be greater than the one of the previous "
                    f"image, which is at byte {ifds[-2]}"
                )
        data = [item("BLOCK_OFFSET_0_0")] + [item("BLOCK_OFFSET_0_0", ovr=i) for i in range(n_ovr)]
        if data[-1] and data[-1] < ifds[-1]:
            errors.append(
                "The offset of the first block of the smallest overview should be after its IFD"
                if n_ovr
                else "The offset of the first block of the image should be after its IFD"
            )
        for i in range(len(data) - 2, 0, -1):
            if data[i] and data[i] < data[i + 1]:
                errors.append(
                    f"The offset of the first block of overview of index {i - 1} "
                    f"should be after the one of the overview of index {i}"
                )
        if len(data) >= 2 and data[0] and data[0] < data[1]:
            errors.append(
                "The offset of the first block of the main resolution image should "
                f"be after the one of the overview of index {n_ovr - 1}"
            )
        if full_check:
            leader = ghost.get("BLOCK_LEADER") == "SIZE_AS_UINT4"
            trailer = ghost.get("BLOCK_TRAILER") == "LAST_4_BYTES_REPEATED"
            row_major = ghost.get("BLOCK_ORDER", "ROW_MAJOR") == "ROW_MAJOR"
            bh, bw = src.block_shapes[0]
            with open(path, "rb") as f:
                for level, (w, h) in zip([None, *range(n_ovr)], sizes, strict=False):
                    name = "main resolution image" if level is None else f"overview {level}"
                    last = 0
                    for band in bands:
                        for y in range((h + bh - 1) // bh):
                            for x in range((w + bw - 1) // bw):
                                off = item(f"BLOCK_OFFSET_{x}_{y}", band, level)
                                size = item(f"BLOCK_SIZE_{x}_{y}", band, level)
                                if off == 0:  # sparse block
                                    continue
                                if row_major and off < last:
                                    errors.append(
                                        f"Block (band={band}, x={x}, y={y}) of the "
                                        f"{name} at offset {off} is before the "
                                        "previous one"
                                    )
                                last = off
                                if leader and off >= 4:
                                    f.seek(off - 4)
                                    got = struct.unpack("<I" if little else ">I", f.read(4))[0]
                                    if got != size:
                                        errors.append(
                                            f"Block (band={band}, x={x}, y={y}) of "
                                            f"the {name}: leader says {got} bytes, "
                                            f"the block has {size}"
                                        )
                                if trailer and size >= 4:
                                    f.seek(off + size - 4)
                                    tail = f.read(8)
                                    if tail[:4] != tail[4:8]:
                                        errors.append(
                                            f"Block (band={band}, x={x}, y={y}) of "
                                            f"the {name}: its trailer does not repeat "
                                            "its last 4 bytes"
                                        )
    return errors, warnings
