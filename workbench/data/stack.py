"""Scene stacks: the one data model, its readers, its writers and its validation.

A scene stack is an :class:`xarray.Dataset` with dims ``(time, y, x)``:

- ``sigma0_db`` (time, y, x) float32 backscatter in dB (``attrs["units"] == "dB"``), NaN is
  nodata; required.
- ``coherence`` (time, y, x) in [0, 1]; ``optical`` (band, y, x) with a ``band`` coordinate of
  band names; ``dem`` (y, x) in metres; labels ``zones`` (time, y, x) class ids 0..3,
  ``front`` and ``outline`` (time, y, x) 0/1; all optional.
- ``time`` datetime64[ns], sorted ascending, no duplicates; optional per-date coordinates
  along ``time``: ``sensor``, ``orbit`` and ``source`` (the file each date was read from,
  set by the folder reader so errors can name the file).
- a CRS through rioxarray (``ds.rio.crs``, grid mapping coordinate ``spatial_ref``) and
  evenly spaced ``x``/``y`` pixel-centre coordinates; ``attrs["glacier"]`` optional.

On disk a stack is a Zarr store (``.zarr``), a NetCDF file (``.nc``), one multi-band
GeoTIFF (one band per date, each band carrying a ``DATE`` tag and the date as its
description, plus a sidecar ``<stem>.dates.csv`` with columns ``band,date``), or a folder of
per-date GeoTIFFs whose dates come from their names (see :data:`DATE_PATTERNS`) or tags.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np, xarray as xr
>>> ds = xr.Dataset(
...     {"sigma0_db": (("time", "y", "x"), np.full((2, 4, 4), -12.0, np.float32))},
...     coords={"time": np.array(["2019-04-12", "2019-04-24"], "datetime64[ns]"),
...             "y": 8.7e6 - 10 - 20 * np.arange(4.0), "x": 5e5 + 10 + 20 * np.arange(4.0)},
... ).rio.write_crs("EPSG:32633")
>>> out = write_stack(ds, pathlib.Path(tempfile.mkdtemp()) / "jac.zarr")
>>> back = open_stack(out)
>>> back.sizes["time"], str(back.rio.crs), back.sigma0_db.attrs["units"]
(2, 'EPSG:32633', 'dB')
"""

from __future__ import annotations

import csv
import datetime as _dt
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast

import dask
import numpy as np
import pandas as pd
import rasterio
import rasterio.errors
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from workbench._io import atomic_path
from workbench.errors import DataError, FileFormatError, LabelEncodingError, StackValidationError

__all__ = [
    "SIGMA0",
    "DATE_PATTERNS",
    "parse_date_from_name",
    "open_stack",
    "validate_stack",
    "write_stack",
]

SIGMA0 = "sigma0_db"
"""Name of the backscatter variable (dB) in every scene stack."""

DATE_PATTERNS: tuple[str, ...] = (
    "YYYYMMDDTHHMMSS in the name (S1A_IW_GRDH_1SDH_20190412T071232_..._ABCD.tif)",
    "YYYY-MM-DD in the name (x_2019-04-24.tif)",
    "YYYYMMDD in the name (x_20190424.tif)",
    "an ACQUISITION_DATE or TIFFTAG_DATETIME tag in the file",
)
"""How the folder reader finds the date of a per-date GeoTIFF, in order of precedence."""

_SOURCES = (
    "a folder of per-date GeoTIFFs, a multi-band GeoTIFF (.tif) with per-band dates, "
    "a Zarr store (.zarr) or a NetCDF file (.nc)"
)
_TIFF_SUFFIXES = (".tif", ".tiff")
_NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf")
_UNITS = ("dB", "linear")
_UNIT_NAMES = {"dB": {"db", "decibel", "decibels"}, "linear": {"1", "linear", "intensity", ""}}
_METRES = {"m", "metre", "metres", "meter", "meters"}
_LABEL_MAX = {"zones": 3, "front": 1, "outline": 1}
_EXPECTED_DB = (
    "dB values, typically -35..+15 dB (open_stack(..., units='linear') converts linear intensity)"
)

_DATE_TOKEN = re.compile(
    r"(?<!\d)(?:(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:T(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2}))?"
    r"|(?P<y2>\d{4})-(?P<m2>\d{2})-(?P<d2>\d{2}))(?!\d)"
)
_TIFF_DATETIME = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)


# --------------------------------------------------------------------------------------- dates
def parse_date_from_name(name: str | os.PathLike[str]) -> np.datetime64 | None:
    """Return the acquisition date in a file name, or None when it holds none.

    The first token (left to right) that is a valid date wins: ``YYYYMMDDTHHMMSS``,
    ``YYYYMMDD`` or ``YYYY-MM-DD``, not touching other digits, with a year in 1900..2099.
    Only the last path component is searched.

    Parameters
    ----------
    name
        A file name or path.

    Returns
    -------
    numpy.datetime64 or None
        The date (with the time of day where the name has one) as datetime64[ns].

    Examples
    --------
    >>> parse_date_from_name("S1A_IW_GRDH_1SDH_20190412T071232_20190412T071257_026752_030194_ABCD.tif")
    np.datetime64('2019-04-12T07:12:32.000000000')
    >>> parse_date_from_name("jakobshavn_2019-04-24.tif")
    np.datetime64('2019-04-24T00:00:00.000000000')
    >>> parse_date_from_name("x_20191332_20190501.tif")  # 2019-13-32 is no date
    np.datetime64('2019-05-01T00:00:00.000000000')
    >>> parse_date_from_name("scene.tif") is None
    True
    """
    for match in _DATE_TOKEN.finditer(os.path.basename(os.fspath(name))):
        g = match.groupdict()
        parts = (
            (g["y"], g["m"], g["d"], g["H"], g["M"], g["S"])
            if g["y"]
            else (g["y2"], g["m2"], g["d2"])
        )
        numbers = [int(p) for p in parts if p is not None]
        if not 1900 <= numbers[0] <= 2099:
            continue
        try:
            when = _dt.datetime(*numbers)  # type: ignore[arg-type]
        except ValueError:
            continue
        return np.datetime64(when, "ns")
    return None


def _parse_date_value(text: Any) -> np.datetime64 | None:
    """Parse a date written in a tag, band description or CSV cell (ISO, TIFF or compact)."""
    text = str(text).strip()
    tiff = _TIFF_DATETIME.fullmatch(text)
    if tiff:
        text = "{}-{}-{}T{}:{}:{}".format(*tiff.groups())
    if _ISO_DATETIME.fullmatch(text):
        try:
            stamp = pd.Timestamp(text)
        except ValueError:
            return None
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return np.datetime64(stamp.to_datetime64(), "ns")
    return parse_date_from_name(text)


def _date_text(value: np.datetime64) -> str:
    """'2019-04-12' for a midnight date, '2019-04-12T07:12:32' otherwise."""
    text = np.datetime_as_string(np.datetime64(value, "s"), unit="s")  # type: ignore[call-overload]
    return text.removesuffix("T00:00:00")


def _describe_dates(ds: xr.Dataset, index: Sequence[int] | np.ndarray) -> str:
    """'2019-04-12 (file …), 2019-04-24 (file …)' for the given time positions."""
    sources = ds["source"].values if "source" in ds.coords else None
    items = []
    for i in index:
        text = _date_text(ds["time"].values[i])
        items.append(f"{text} (file {sources[i]})" if sources is not None else text)
    return ", ".join(items)


# ------------------------------------------------------------------------------------ reading
def open_stack(
    path: str | os.PathLike[str],
    *,
    align: bool = False,
    chunks: int | str | Mapping[str, Any] | None = "auto",
    variable: str = SIGMA0,
    units: Literal["dB", "linear"] = "dB",
    validate: bool = True,
) -> xr.Dataset:
    """Open a scene stack lazily (dask-chunked) from a folder, GeoTIFF, Zarr or NetCDF source.

    What ``path`` is decides the reader:

    - a folder of per-date GeoTIFFs (``*.tif``/``*.tiff``, one band each; hidden files are
      skipped): the date of each file comes from its name (:func:`parse_date_from_name`),
      else from its ``ACQUISITION_DATE`` or ``TIFFTAG_DATETIME`` tag. Files are opened with
      ``rioxarray.open_rasterio`` and concatenated along ``time`` without loading; the file
      of each date is kept in the ``source`` coordinate.
    - one GeoTIFF: one band per date, dates from the sidecar ``<stem>.dates.csv`` (columns
      ``band,date``, bands counted from 1), else per-band ``DATE`` tags, else band
      descriptions; a single-band file may also take its date from its name or tags.
    - a Zarr store (``.zarr`` folder) or a NetCDF file (``.nc``).

    Parameters
    ----------
    path
        The source.
    align
        Folder stacks only: reproject every date whose CRS, shape or transform differs from
        the first date's onto the first date's grid (``rio.reproject_match``, nearest
        neighbour). Reprojected dates are computed when opened. Without it such a folder is
        refused, naming the file.
    chunks
        Dask chunks (``"auto"``, ``{}`` for the on-disk chunks, a dict per dim). ``None``
        loads the stack into memory.
    variable
        Name of the backscatter variable in a Zarr/NetCDF source; it is returned as
        ``sigma0_db``. GeoTIFF pixels are always the backscatter.
    units
        What the backscatter values are: ``"dB"``, or ``"linear"`` intensity, which is
        converted lazily to dB as ``10·log10(v)`` (values ≤ 0 become NaN).
    validate
        Run :func:`validate_stack` (one pass over the data) before returning.

    Returns
    -------
    xarray.Dataset
        The scene stack.

    Raises
    ------
    DataError
        ``path`` does not exist, a folder holds no GeoTIFF, or a date cannot be determined.
    FileFormatError
        A file is unreadable, truncated or not the format its name says.
    StackValidationError
        The stack breaks the conventions (see :func:`validate_stack`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset(
    ...     {"sigma0_db": (("time", "y", "x"), np.full((2, 4, 4), 0.05, np.float32))},
    ...     coords={"time": np.array(["2019-04-12", "2019-04-24"], "datetime64[ns]"),
    ...             "y": 8.7e6 - 10 - 20 * np.arange(4.0), "x": 5e5 + 10 + 20 * np.arange(4.0)},
    ... ).rio.write_crs("EPSG:32633")
    >>> folder = write_stack(ds, pathlib.Path(tempfile.mkdtemp()) / "jac", format="folder")
    >>> sorted(p.name for p in folder.iterdir())
    ['stack_2019-04-12.tif', 'stack_2019-04-24.tif']
    >>> stack = open_stack(folder, units="linear")
    >>> round(float(stack.sigma0_db[0, 0, 0]), 2)
    -13.01
    """
    if units not in _UNITS:
        raise ValueError(f"units must be one of {_UNITS}, not {units!r}")
    path = Path(path)
    if not path.exists():
        raise DataError("does not exist", path=path, expected=_SOURCES)
    kind = _source_kind(path)
    if kind == "folder":
        ds = _open_folder(path, chunks=chunks, align=align)
    elif kind == "geotiff":
        ds = _open_tiff_stack(path, chunks=chunks)
    else:
        ds = _open_xarray(path, kind, chunks=chunks, variable=variable)
    _check_size(ds, path)
    if chunks is None:
        ds = ds.load()
    if validate:
        ds = validate_stack(ds, path=path, units=units)
    if units == "linear":
        ds = _linear_to_db(ds)
    return ds


MAX_PIXELS_PER_DATE = 2**31
"""The largest scene the workbench accepts: 2³¹ pixels per date (46,341² px, about
927 × 927 km at 20 m). Larger scenes are refused from their header alone, before any pixel
is read; split them into tiles first (e.g. ``gdal_retile.py``)."""


def _check_size(ds: xr.Dataset, path: Path) -> None:
    """Refuse a stack whose declared size exceeds :data:`MAX_PIXELS_PER_DATE` (header only)."""
    h, w = int(ds.sizes.get("y", 0)), int(ds.sizes.get("x", 0))
    if h * w > MAX_PIXELS_PER_DATE:
        raise StackValidationError(
            f"declares {h:,} × {w:,} px per date ({h * w / 1e9:.1f} Gpx)",
            path=path,
            variable="sigma0_db",
            expected=f"at most {MAX_PIXELS_PER_DATE:,} px per date (about 46,341²): split the "
            "scene into tiles first, e.g. gdal_retile.py -ps 20000 20000",
        )


def _source_kind(path: Path) -> str:
    """'folder', 'geotiff', 'zarr' or 'netcdf' for an existing path."""
    if path.is_dir():
        is_zarr = path.suffix.lower() == ".zarr" or any(
            (path / marker).exists() for marker in ("zarr.json", ".zgroup", ".zmetadata")
        )
        return "zarr" if is_zarr else "folder"
    suffix = path.suffix.lower()
    if suffix in _TIFF_SUFFIXES:
        return "geotiff"
    if suffix in _NETCDF_SUFFIXES:
        return "netcdf"
    raise FileFormatError(f"has an unknown suffix {suffix!r}", path=path, expected=_SOURCES)


class _TiffInfo(NamedTuple):
    tags: dict[str, str]
    band_tags: list[dict[str, str]]
    descriptions: tuple[str | None, ...]


def _read_tiff(path: Path, chunks: Any) -> tuple[xr.DataArray, _TiffInfo]:
    """Open one GeoTIFF lazily as float32 (band, y, x) with NaN nodata, after checking it."""
    try:
        with rasterio.open(path) as src:
            _check_complete(src, path)
            info = _TiffInfo(src.tags(), [src.tags(i) for i in src.indexes], src.descriptions)
            chunk_spec = _tiff_chunks(src, chunks)
        array = rioxarray.open_rasterio(path, masked=True, chunks=chunk_spec)
    except (rasterio.errors.RasterioError, OSError) as exc:
        raise FileFormatError(
            f"cannot be read as a GeoTIFF ({exc})",
            path=path,
            expected="a complete, readable GeoTIFF",
        ) from exc
    array = cast(xr.DataArray, array).astype(np.float32)
    array.attrs = {}
    return array, info


def _check_complete(src: rasterio.io.DatasetReader, path: Path) -> None:
    """Refuse a TIFF whose blocks point past the end of the file (a truncated download).

    Only tile/strip offsets from the header are read, so this costs no pixel reads; on
    files with very many blocks only the last row of blocks of each band is checked.
    """
    size = os.path.getsize(path)
    block_h, block_w = src.block_shapes[0]
    rows, cols = -(-src.height // block_h), -(-src.width // block_w)
    first_row = 0 if rows * cols * src.count <= 20_000 else rows - 1
    for band in src.indexes:
        for row in range(first_row, rows):
            for col in range(cols):
                offset = src.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=band)
                length = src.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=band)
                if offset is None or length is None:
                    return  # not a TIFF layout GDAL reports blocks for; nothing to check
                if int(offset) + int(length) > size:
                    raise FileFormatError(
                        f"is truncated: band {band} block ({row}, {col}) ends at byte "
                        f"{int(offset) + int(length)} but the file has {size} bytes",
                        path=path,
                        expected="a complete GeoTIFF (re-download or re-export it)",
                    )


def _tiff_chunks(src: rasterio.io.DatasetReader, chunks: Any) -> Any:
    """Dask chunks for ``open_rasterio`` as a dict (one band per chunk for ``"auto"``)."""
    if chunks not in ("auto", True):
        return chunks
    from dask.array.core import normalize_chunks

    sizes = normalize_chunks(
        (1, "auto", "auto"),
        shape=(src.count, src.height, src.width),
        dtype=np.float32,
        previous_chunks=(1, *src.block_shapes[0]),
    )
    return dict(zip(("band", "y", "x"), sizes, strict=False))


def _file_date(path: Path, info: _TiffInfo) -> np.datetime64 | None:
    """The date of a per-date file: from its name, else its ACQUISITION_DATE / TIFFTAG_DATETIME tag."""
    date = parse_date_from_name(path.name)
    for tag in ("ACQUISITION_DATE", "TIFFTAG_DATETIME"):
        if date is None and tag in info.tags:
            date = _parse_date_value(info.tags[tag])
    return date


def _open_folder(folder: Path, *, chunks: Any, align: bool) -> xr.Dataset:
    """Read a folder of per-date GeoTIFFs as one lazy stack, sorted by date."""
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in _TIFF_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        others = sorted(p.name for p in folder.iterdir())[:5]
        raise DataError(
            f"holds no GeoTIFF files (found {others or 'nothing'})",
            path=folder,
            expected="one GeoTIFF (*.tif, *.tiff) per date",
        )
    dated = []
    for file in files:
        array, info = _read_tiff(file, chunks)
        if array.sizes["band"] != 1:
            raise FileFormatError(
                f"has {array.sizes['band']} bands",
                path=file,
                expected="one band per file in a folder stack (one file per date)",
            )
        date = _file_date(file, info)
        if date is None:
            raise DataError(
                "has no date in its name or tags",
                path=file,
                expected="one of: " + "; ".join(DATE_PATTERNS),
            )
        dated.append((date, file, array.isel(band=0, drop=True)))
    dated.sort(key=lambda item: item[0])
    dates, files, arrays = zip(*dated, strict=False)  # type: ignore[assignment]
    arrays = _on_first_grid(list(arrays), list(files), align=align)  # type: ignore[assignment]
    stacked = xr.concat(
        arrays,
        dim="time",
        coords="minimal",
        compat="override",
        join="override",
        combine_attrs="drop_conflicts",
    )
    stacked = stacked.assign_coords(
        time=("time", np.array(dates, dtype="datetime64[ns]")),
        source=("time", np.array([str(f) for f in files])),
    )
    ds = stacked.to_dataset(name=SIGMA0)
    crs = arrays[0].rio.crs
    return ds.rio.write_crs(crs) if crs is not None else ds


def _grid_differences(array: xr.DataArray, reference: xr.DataArray) -> list[str]:
    """What differs between the grids of two (y, x) arrays: CRS, shape, transform."""
    problems = []
    if array.rio.crs != reference.rio.crs:
        problems.append(f"CRS {array.rio.crs} instead of {reference.rio.crs}")
    if array.shape != reference.shape:
        problems.append(f"shape {array.shape} instead of {reference.shape}")
    elif not array.rio.transform().almost_equals(reference.rio.transform()):
        problems.append(
            f"transform {tuple(array.rio.transform())[:6]} instead of "
            f"{tuple(reference.rio.transform())[:6]}"
        )
    return problems


def _on_first_grid(
    arrays: list[xr.DataArray], files: list[Path], *, align: bool
) -> list[xr.DataArray]:
    """Check every date is on the first date's grid; with ``align`` reproject those that are not."""
    reference, out = arrays[0], [arrays[0]]
    for array, file in zip(arrays[1:], files[1:], strict=False):
        problems = _grid_differences(array, reference)
        if problems and not align:
            raise StackValidationError(
                f"is on another grid than {files[0].name}: " + "; ".join(problems),
                path=file,
                expected="every date on the same CRS, shape and transform, or "
                "open_stack(..., align=True) to reproject onto the first date's grid",
            )
        if problems:
            if array.rio.crs is None or reference.rio.crs is None:
                raise StackValidationError(
                    "has no CRS, so it cannot be aligned", path=file, expected="a CRS on every date"
                )
            array = array.rio.reproject_match(reference).assign_coords(x=reference.x, y=reference.y)
        out.append(array)
    return out


def _open_tiff_stack(path: Path, *, chunks: Any) -> xr.Dataset:
    """Read a multi-band GeoTIFF, one band per date, as a lazy stack."""
    array, info = _read_tiff(path, chunks)
    dates = _band_dates(path, info)
    array = array.rename(band="time").assign_coords(
        time=("time", np.array(dates, dtype="datetime64[ns]"))
    )
    ds = array.to_dataset(name=SIGMA0)
    crs = array.rio.crs
    return ds.rio.write_crs(crs) if crs is not None else ds


def _dates_csv_path(path: Path) -> Path:
    """The sidecar band→date table of a multi-band GeoTIFF: ``<stem>.dates.csv``."""
    return path.with_name(path.stem + ".dates.csv")


def _band_dates(path: Path, info: _TiffInfo) -> list[np.datetime64]:
    """Dates of the bands: sidecar CSV, else DATE tags, else descriptions (else file date for one band)."""
    table = _dates_csv_path(path)
    count = len(info.band_tags)
    if table.exists():
        return _read_dates_csv(table, count)
    tagged = [_parse_date_value(t["DATE"]) if "DATE" in t else None for t in info.band_tags]
    if all(d is not None for d in tagged):
        return tagged  # type: ignore[return-value]  # none is None
    described = [_parse_date_value(d) if d else None for d in info.descriptions]
    if all(d is not None for d in described):
        return described  # type: ignore[return-value]  # none is None
    if count == 1 and (date := _file_date(path, info)) is not None:
        return [date]
    missing = [
        i + 1
        for i, (a, b) in enumerate(zip(tagged, described, strict=False))
        if a is None and b is None
    ]
    raise DataError(
        f"has no date for bands {missing[:10]}",
        path=path,
        expected=f"a DATE tag or a date as description on each of its {count} bands, "
        f"or a sidecar {table.name} with columns band,date (bands counted from 1)",
    )


def _read_dates_csv(table: Path, count: int) -> list[np.datetime64]:
    """Read a ``band,date`` table and return one date per band 1..count."""
    expected = f"columns band,date with one row for each band 1..{count}"
    try:
        with open(table, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise FileFormatError(
            f"cannot be read as CSV ({exc})", path=table, expected=expected
        ) from exc
    if not rows or not {"band", "date"} <= set(rows[0]):
        raise DataError(
            f"has columns {list(rows[0]) if rows else []}", path=table, expected=expected
        )
    dates: dict[int, np.datetime64] = {}
    for line, row in enumerate(rows, start=2):
        date = _parse_date_value(row["date"])
        if date is None or not str(row["band"]).strip().isdigit():
            raise DataError(
                f"line {line} ({row['band']},{row['date']}) is not a band number and a date",
                path=table,
                expected=expected,
            )
        dates[int(row["band"])] = date
    if sorted(dates) != list(range(1, count + 1)):
        raise DataError(f"lists bands {sorted(dates)[:10]}", path=table, expected=expected)
    return [dates[b] for b in range(1, count + 1)]


def _open_xarray(path: Path, kind: str, *, chunks: Any, variable: str) -> xr.Dataset:
    """Read a Zarr store or NetCDF file; return it with the backscatter named ``sigma0_db``."""
    options: dict[str, Any] = (
        {"engine": "zarr", "consolidated": None} if kind == "zarr" else {"engine": "netcdf4"}
    )
    try:
        ds = xr.open_dataset(path, chunks=chunks, decode_coords="all", **options)
    except Exception as exc:  # the backends raise many kinds for corrupt input
        raise FileFormatError(
            f"cannot be read as {'Zarr' if kind == 'zarr' else 'NetCDF'} ({exc})",
            path=path,
            expected=f"a readable {kind} scene stack",
        ) from exc
    if variable not in ds.data_vars:
        raise StackValidationError(
            f"is missing (the file has {sorted(map(str, ds.data_vars))})",
            path=path,
            variable=variable,
            expected="the backscatter variable; pass open_stack(..., variable=NAME)",
        )
    if variable != SIGMA0:
        ds = ds.drop_vars(SIGMA0, errors="ignore").rename({variable: SIGMA0})
    small = {
        name: ds[name].load()
        for name, c in ds.coords.items()
        if c.ndim == 1 and name not in ds.dims
    }
    return ds.assign_coords(small)


def _linear_to_db(ds: xr.Dataset) -> xr.Dataset:
    """Convert ``sigma0_db`` from linear intensity to dB, lazily (values ≤ 0 become NaN)."""
    linear = ds[SIGMA0]
    db = (10.0 * np.log10(linear.where(linear > 0))).astype(np.float32)
    db.attrs = {**linear.attrs, "units": "dB"}  # type: ignore[attr-defined]  # a DataArray
    db.encoding = linear.encoding  # type: ignore[attr-defined]
    return ds.assign({SIGMA0: db})


# --------------------------------------------------------------------------------- validation
def validate_stack(
    ds: xr.Dataset,
    *,
    path: str | os.PathLike[str] | None = None,
    units: Literal["dB", "linear"] = "dB",
) -> xr.Dataset:
    """Check a scene stack against the conventions; return it in canonical form.

    Structure is checked first (cheap, no data read): ``sigma0_db`` present with dims
    (time, y, x), ``time`` datetime64 without duplicates, evenly spaced ``x``/``y``, a CRS,
    ``optical`` as (band, y, x) with a ``band`` coordinate, ``dem`` as (y, x) in metres,
    ``coherence``/labels as (time, y, x). Then values, with one ``dask.compute`` of a few
    reductions so a lazy stack is read once: no date entirely nodata, no ±inf (NaN is
    nodata), values that look like the declared ``units``, coherence within [0, 1], labels
    within their class ids.

    The returned stack has its variables transposed to the canonical dim order, ``time``
    as datetime64[ns] sorted ascending, ``sigma0_db`` as float32 and, for dB, its
    ``units`` attribute set to ``"dB"``. Lazy (dask) variables stay lazy.

    Parameters
    ----------
    ds
        The stack.
    path
        The file or folder it came from, named in errors.
    units
        What ``sigma0_db`` holds: ``"dB"`` (the convention) or ``"linear"`` (raw intensity
        about to be converted, as in ``open_stack(..., units="linear")``).

    Raises
    ------
    StackValidationError
        Naming ``path``, the variable, the offending dates (and their source files) and what
        was expected.
    LabelEncodingError
        When ``zones``/``front``/``outline`` hold values outside their class ids.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset(
    ...     {"sigma0_db": (("time", "y", "x"), np.full((1, 2, 2), 0.1, np.float32))},
    ...     coords={"time": np.array(["2019-04-12"], "datetime64[ns]"),
    ...             "y": [8.7e6, 8.69998e6], "x": [5e5, 5.0002e5]},
    ... ).rio.write_crs("EPSG:32633")
    >>> validate_stack(ds, path="jac.zarr")
    Traceback (most recent call last):
    ...
    workbench.errors.StackValidationError: jac.zarr: variable 'sigma0_db' looks like linear intensity, not dB: all 4 values are >= 0 and 100% are below 1.5 (expected dB values, typically -35..+15 dB (open_stack(..., units='linear') converts linear intensity))
    """
    if units not in _UNITS:
        raise ValueError(f"units must be one of {_UNITS}, not {units!r}")
    ds = _check_structure(ds, path=path, units=units)
    _check_values(ds, path=path, units=units)
    return ds


def _require_dims(
    ds: xr.Dataset, name: str, dims: tuple[str, ...], path: Any, hint: str = ""
) -> xr.DataArray:
    """Return ``ds[name]`` transposed to ``dims``, or raise naming the dims it has."""
    array = ds[name]
    if set(array.dims) != set(dims):
        raise StackValidationError(
            f"has dims {tuple(map(str, array.dims))}",
            path=path,
            variable=name,
            expected=f"dims {dims}{hint}",
        )
    return array.transpose(*dims)


def _check_structure(ds: Any, *, path: Any, units: str) -> xr.Dataset:
    """The checks that need no pixel values; returns the canonical form of the stack."""
    if not isinstance(ds, xr.Dataset):
        raise StackValidationError(
            f"is a {type(ds).__name__}",
            path=path,
            expected="an xarray.Dataset with a (time, y, x) variable 'sigma0_db'",
        )
    if SIGMA0 not in ds.data_vars:
        raise StackValidationError(
            f"is missing (the stack has {sorted(map(str, ds.data_vars))})",
            path=path,
            variable=SIGMA0,
            expected="backscatter in dB as a float (time, y, x) variable 'sigma0_db'",
        )
    sigma0 = _require_dims(ds, SIGMA0, ("time", "y", "x"), path)
    if sigma0.dtype.kind != "f":
        raise StackValidationError(
            f"has dtype {sigma0.dtype}",
            path=path,
            variable=SIGMA0,
            expected="float32 values with NaN as nodata",
        )
    unit_attr = sigma0.attrs.get("units")
    if unit_attr is not None and str(unit_attr).strip().lower() not in _UNIT_NAMES[units]:
        raise StackValidationError(
            f"is labelled units={unit_attr!r} but was declared {units!r}",
            path=path,
            variable=SIGMA0,
            expected=f"units {units!r}, or pass units= to match the data",
        )
    sigma0 = sigma0.astype(np.float32)
    if units == "dB":
        sigma0.attrs = {**sigma0.attrs, "units": "dB"}
    ds = ds.assign({SIGMA0: sigma0})

    time = ds["time"]
    if time.dtype.kind != "M":
        raise StackValidationError(
            f"has {time.dtype} values",
            path=path,
            variable="time",
            expected="datetime64 values (e.g. numpy.datetime64('2019-04-12'))",
        )
    if time.size == 0:
        raise StackValidationError(
            "has no dates", path=path, variable="time", expected="at least one date"
        )
    if time.dtype != np.dtype("datetime64[ns]"):
        ds = ds.assign_coords(time=time.astype("datetime64[ns]"))
    values, counts = np.unique(ds["time"].values, return_counts=True)
    if (counts > 1).any():
        repeated = np.flatnonzero(np.isin(ds["time"].values, values[counts > 1]))
        raise StackValidationError(
            f"has duplicate dates: {_describe_dates(ds, repeated)}",
            path=path,
            variable="time",
            expected="one scene per date",
        )
    if not ds.indexes["time"].is_monotonic_increasing:
        ds = ds.sortby("time")

    for axis in ("x", "y"):
        if axis not in ds.coords or ds[axis].ndim != 1:
            raise StackValidationError(
                "has no 1-D coordinate",
                path=path,
                variable=axis,
                expected="pixel-centre coordinates in the CRS units",
            )
        step = np.diff(ds[axis].values.astype(np.float64))
        if step.size and not np.allclose(step, step[0], rtol=1e-6, atol=0):
            raise StackValidationError(
                f"is not evenly spaced (steps {step.min():g}..{step.max():g})",
                path=path,
                variable=axis,
                expected="one regular grid; dates on different grids need open_stack(..., align=True)",
            )
    if ds.rio.crs is None:
        raise StackValidationError(
            "has no CRS",
            path=path,
            variable=SIGMA0,
            expected="a CRS written with ds.rio.write_crs(...), e.g. EPSG:32633",
        )

    canonical = {
        name: _require_dims(ds, name, ("time", "y", "x"), path)
        for name in ("coherence", *_LABEL_MAX)
        if name in ds.data_vars
    }
    if "optical" in ds.data_vars:
        canonical["optical"] = _require_dims(
            ds, "optical", ("band", "y", "x"), path, hint=" on the stack's y/x grid"
        )
        if "band" not in ds.coords:
            raise StackValidationError(
                "has no 'band' coordinate",
                path=path,
                variable="optical",
                expected="a band coordinate of band names, e.g. ['B4', 'B3', 'B2']",
            )
    if "dem" in ds.data_vars:
        canonical["dem"] = _require_dims(ds, "dem", ("y", "x"), path)
        dem_units = ds["dem"].attrs.get("units")
        if dem_units is not None and str(dem_units).strip().lower() not in _METRES:
            raise StackValidationError(
                f"is in units={dem_units!r}",
                path=path,
                variable="dem",
                expected="heights in metres (units='m')",
            )
    for name in ("sensor", "orbit", "source"):
        if name in ds.coords and ds[name].dims != ("time",):
            raise StackValidationError(
                f"has dims {ds[name].dims}",
                path=path,
                variable=name,
                expected="one value per date, dims ('time',)",
            )
    return ds.assign(canonical)


def _check_values(ds: xr.Dataset, *, path: Any, units: str) -> None:
    """The value checks, computed together in one pass over the data."""
    sigma0 = ds[SIGMA0]
    reductions: dict[str, Any] = {
        "valid": np.isfinite(sigma0).sum(("y", "x")),  # type: ignore[arg-type]  # a DataArray
        "inf": np.isinf(sigma0).sum(("y", "x")),  # type: ignore[arg-type]
        "negative": (sigma0 < 0).sum(),
        "low": ((sigma0 >= 0) & (sigma0 < 1.5)).sum(),
        "high": (sigma0 > 50).sum(),
    }
    if "coherence" in ds.data_vars:
        reductions["coherence_min"] = ds["coherence"].min()
        reductions["coherence_max"] = ds["coherence"].max()
    for name in _LABEL_MAX:
        if name in ds.data_vars:
            reductions[f"{name}_min"] = ds[name].min()
            reductions[f"{name}_max"] = ds[name].max()
    found = {
        key: np.asarray(value)
        for key, value in zip(reductions, dask.compute(*reductions.values()), strict=False)
    }

    empty = np.flatnonzero(found["valid"] == 0)
    if empty.size:
        raise StackValidationError(
            f"is all nodata on {_describe_dates(ds, empty)}",
            path=path,
            variable=SIGMA0,
            expected="some valid (non-NaN) pixels on every date",
        )
    infinite = np.flatnonzero(found["inf"] > 0)
    if infinite.size:
        raise StackValidationError(
            f"holds {int(found['inf'].sum())} infinite values on {_describe_dates(ds, infinite)}",
            path=path,
            variable=SIGMA0,
            expected="finite values with NaN as nodata (±inf often comes from 10·log10(0))",
        )
    valid = int(found["valid"].sum())
    negative, low, high = (int(found[k]) for k in ("negative", "low", "high"))
    if units == "dB" and negative == 0 and 2 * low > valid:
        raise StackValidationError(
            f"looks like linear intensity, not dB: all {valid} values are >= 0 and "
            f"{100 * low / valid:.0f}% are below 1.5",
            path=path,
            variable=SIGMA0,
            expected=_EXPECTED_DB,
        )
    if units == "dB" and 2 * high > valid:
        raise StackValidationError(
            f"looks like digital numbers or amplitudes, not dB: {100 * high / valid:.0f}% of the "
            f"values are above 50",
            path=path,
            variable=SIGMA0,
            expected=_EXPECTED_DB,
        )
    if units == "linear" and 2 * negative > valid:
        raise StackValidationError(
            f"looks like dB, not linear intensity: {100 * negative / valid:.0f}% of the values are "
            f"negative",
            path=path,
            variable=SIGMA0,
            expected="linear intensity >= 0, or open_stack(..., units='dB') for dB values",
        )
    if "coherence_min" in found and (found["coherence_min"] < 0 or found["coherence_max"] > 1):
        raise StackValidationError(
            f"ranges {float(found['coherence_min']):g}..{float(found['coherence_max']):g}",
            path=path,
            variable="coherence",
            expected="values within [0, 1] (NaN as nodata)",
        )
    for name, top in _LABEL_MAX.items():
        if f"{name}_min" in found and (found[f"{name}_min"] < 0 or found[f"{name}_max"] > top):
            raise LabelEncodingError(
                f"ranges {found[f'{name}_min']}..{found[f'{name}_max']}",
                path=path,
                variable=name,
                expected=(
                    "class ids 0..3 (na, rock, glacier, ocean); CaFFe values 0/64/127/254 go "
                    "through workbench.data.encoding.zones_to_classes"
                )
                if name == "zones"
                else "a binary mask of 0 and 1",
            )


# ------------------------------------------------------------------------------------ writing
STORAGE_TILE = 1024
"""Zarr stores are chunked one date × at most this many pixels square, so a window of a
stack larger than memory reads only the chunks it touches."""


def _storage_chunked(ds: xr.Dataset) -> xr.Dataset:
    """Chunk in-memory variables per date and in ``STORAGE_TILE`` tiles (dask-backed ones keep
    the caller's chunks); drop chunk encodings inherited from a source store."""
    out = ds.copy()
    for name, var in ds.data_vars.items():
        if var.chunks is None:
            out[name] = var.chunk(
                {
                    dim: 1 if dim == "time" else min(var.sizes[dim], STORAGE_TILE)
                    for dim in var.dims
                    if dim in ("time", "y", "x")
                }
            )
    for var in out.variables.values():  # type: ignore[assignment]
        for key in ("chunks", "preferred_chunks"):
            var.encoding.pop(key, None)
    return out


_FORMAT_OF_SUFFIX = {
    ".zarr": "zarr",
    ".nc": "netcdf",
    ".nc4": "netcdf",
    ".tif": "geotiff",
    ".tiff": "geotiff",
    "": "folder",
}
_FORMATS = ("zarr", "netcdf", "geotiff", "folder")


def write_stack(
    ds: xr.Dataset,
    path: str | os.PathLike[str],
    *,
    format: Literal["zarr", "netcdf", "geotiff", "folder"] | None = None,
) -> Path:
    """Write a scene stack atomically; :func:`open_stack` reads it back unchanged.

    Formats (inferred from the suffix when ``format`` is None):

    - ``"zarr"`` (``.zarr``): every variable and coordinate, Zarr format 2 with consolidated
      metadata (the most widely readable layout; Zarr 3 would warn on string coordinates).
    - ``"netcdf"`` (``.nc``): every variable and coordinate, CRS in ``spatial_ref``.
    - ``"geotiff"`` (``.tif``): ``sigma0_db`` only, one band per date, each band with a
      ``DATE`` tag and the date as description, plus the sidecar ``<stem>.dates.csv``
      (``band,date``); tiled and deflate-compressed.
    - ``"folder"`` (no suffix): ``sigma0_db`` only, one Cloud-Optimized GeoTIFF per date named
      ``<glacier or "stack">_YYYY-MM-DD.tif`` (all ``_YYYYMMDDTHHMMSS`` when any date has a
      time of day), each also tagged ``ACQUISITION_DATE``.

    Dates are written as ``YYYY-MM-DD``, or ``YYYY-MM-DDTHH:MM:SS`` when they have a time of
    day. An existing target is replaced only once the new one is complete; on failure
    nothing is left behind.

    Parameters
    ----------
    ds
        The stack; its structure is checked first (no pixel values are read for that).
    path
        Target file or folder.
    format
        One of ``"zarr"``, ``"netcdf"``, ``"geotiff"``, ``"folder"``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset(
    ...     {"sigma0_db": (("time", "y", "x"), np.full((2, 4, 4), -12.0, np.float32))},
    ...     coords={"time": np.array(["2019-04-12", "2019-04-24"], "datetime64[ns]"),
    ...             "y": 8.7e6 - 10 - 20 * np.arange(4.0), "x": 5e5 + 10 + 20 * np.arange(4.0)},
    ... ).rio.write_crs("EPSG:32633")
    >>> out = write_stack(ds, pathlib.Path(tempfile.mkdtemp()) / "jac.tif")
    >>> print(out.with_name("jac.dates.csv").read_text().strip())
    band,date
    1,2019-04-12
    2,2019-04-24
    """
    path = Path(path)
    if format is None:
        format = _FORMAT_OF_SUFFIX.get(path.suffix.lower())  # type: ignore[assignment]
        if format is None:
            raise ValueError(
                f"cannot tell the format of {path} from its suffix; pass format= one of {_FORMATS}"
            )
    if format not in _FORMATS:
        raise ValueError(f"format must be one of {_FORMATS}, not {format!r}")
    ds = _check_structure(ds, path=path, units="dB")
    if format in ("zarr", "netcdf"):
        out = _for_xarray_file(ds)
        with atomic_path(path) as tmp:
            if format == "zarr":
                _storage_chunked(out).to_zarr(tmp, mode="w", zarr_format=2, consolidated=True)
            else:
                out.to_netcdf(tmp, engine="netcdf4")
    elif format == "geotiff":
        with atomic_path(path) as tmp, atomic_path(_dates_csv_path(path)) as tmp_table:
            _write_bands(tmp, ds[SIGMA0], driver="GTiff")
            _write_dates_csv(tmp_table, ds["time"].values)
    else:
        prefix = re.sub(r"[^\w-]+", "_", str(ds.attrs.get("glacier", ""))).strip("_")
        if not prefix or parse_date_from_name(prefix + ".tif") is not None:
            prefix = "stack"
        with atomic_path(path) as tmp:
            tmp.mkdir()
            times = ds["time"].values
            with_time = any("T" in _date_text(when) for when in times)  # one sortable form for all
            for i, when in enumerate(times):
                token = (
                    np.datetime_as_string(np.datetime64(when, "s"))
                    .replace("-", "")
                    .replace(":", "")
                    if with_time
                    else _date_text(when)
                )
                _write_bands(tmp / f"{prefix}_{token}.tif", ds[SIGMA0].isel(time=[i]), driver="COG")
    return path


def _for_xarray_file(ds: xr.Dataset) -> xr.Dataset:
    """A copy ready for Zarr/NetCDF: no stale encodings, fixed-width strings, regular chunks."""
    out = ds.drop_encoding()
    out = out.assign_coords(
        {name: coord.astype(str) for name, coord in out.coords.items() if coord.dtype == object}
    )
    out = out.assign(
        {
            name: array.chunk({d: max(c) for d, c in zip(array.dims, array.chunks, strict=False)})
            for name, array in out.data_vars.items()
            if array.chunks is not None
        }
    )
    return out.rio.write_crs(ds.rio.crs)


def _write_bands(target: Path, sigma0: xr.DataArray, *, driver: str) -> None:
    """Write (time, y, x) backscatter as a GeoTIFF, one band per date, tagged with its date.

    Bands are computed one at a time, so a lazy stack is never loaded whole (the COG driver
    buffers its one file in memory, which is why only per-date files use it).
    """
    times = sigma0["time"].values
    count, height, width = sigma0.shape
    profile: dict[str, Any] = dict(
        driver=driver,
        width=width,
        height=height,
        count=count,
        dtype="float32",
        crs=sigma0.rio.crs,
        transform=sigma0.rio.transform(recalc=True),
        nodata=np.nan,
        compress="deflate",
    )
    if driver == "GTiff" and min(width, height) >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(target, "w", **profile) as dst:
        for band, when in enumerate(times, start=1):
            text = _date_text(when)
            dst.write(np.asarray(sigma0.isel(time=band - 1).values, dtype=np.float32), band)
            dst.set_band_description(band, text)
            dst.update_tags(band, DATE=text)
        if count == 1:
            dst.update_tags(ACQUISITION_DATE=_date_text(times[0]))


def _write_dates_csv(target: Path, times: np.ndarray) -> None:
    """Write the ``band,date`` table of a multi-band GeoTIFF (bands counted from 1)."""
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["band", "date"])
        writer.writerows((band, _date_text(when)) for band, when in enumerate(times, start=1))
