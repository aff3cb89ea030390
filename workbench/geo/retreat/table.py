"""The retreat table: its flags (:data:`FLAGS`), how its distances are measured (ground or
map metres), and writing and reading it as CSV (with a metadata header) or Parquet.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench._io import atomic_path
from workbench.errors import DataError, FileFormatError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

__all__ = ["FLAGS", "write_retreat_table", "read_retreat_table"]


#: Every flag :func:`retreat_box` and :func:`retreat_centreline` can set, and its meaning.
FLAGS: dict[str, str] = {
    "multipart:N": "box: the line splits the box into N > 2 pieces; measured with the "
    "2-colouring rule (position still finite)",
    "extended": "box: the line did not cross the box from side to side; its ends inside the "
    "box were extended straight (direction of their last stretch) to the boundary",
    "crosses_upstream_edge": "box: part of the front lies upstream of the box (the line crosses "
    "the upstream edge); the position is a clipped estimate",
    "crosses_downstream_edge": "box: part of the front lies downstream of the box; clipped estimate",
    "ambiguous_sides": "box: the pieces cannot be 2-coloured consistently (self-crossing "
    "line); up-glacier area = pieces touching the upstream edge",
    "no_intersection": "the line does not meet the box / centre line region: position NaN",
    "no_separation": "box: even extended, the line does not separate the upstream from the "
    "downstream edge: position NaN",
    "no_front": "the row has no geometry: position NaN",
    "multi_intersection:N": "centre line: the front crosses it N > 1 times; the first crossing "
    "down flow is used",
    "snapped": "centre line: no intersection; mean of the front points projected onto the line",
    "beyond_centreline": "centre line: some projected front points fall beyond an end of the line",
}
_METRES = ("ground", "map")


def _check_metres(metres: Any) -> str:
    if not isinstance(metres, str) or metres.lower() not in _METRES:
        raise DataError(
            f"is {metres!r}",
            variable="metres",
            expected="'ground' (default: metres on the ellipsoid) or 'map' (the "
            "working CRS's own metres, e.g. EPSG:3413's, 1.7 % short of "
            "ground metres at 76.6° N)",
        )
    return metres.lower()


def _describe_metres(metres: str, crs: Any, k: float, ground: Any = None) -> str:
    """How the distances of a retreat table are measured, in one line (for its header)."""
    name = crs.to_string() if hasattr(crs, "to_string") else str(crs)
    off = (
        f"{name}'s map metres are {abs(1 - k) * 100:.2f} % "
        f"{'shorter' if k < 1 else 'longer'} than ground metres at the box (scale factor "
        f"{k:.4f})"
    )
    if metres == "ground":
        return f"{ground.describe()}; {off}"
    return f"map metres of {name}, not ground metres: {off}"


def _scale_factor(crs: Any, geom: Any) -> float:
    """Linear scale factor of ``crs`` at the centroid of ``geom`` (1.0 when unknown).

    For conformal projections (UTM, polar stereographic) this is the ratio of map to ground
    distance in every direction; for others the mean of the meridional and parallel scales.
    """
    import pyproj

    try:
        c = geom.centroid
        lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(c.x, c.y)
        f = pyproj.Proj(crs).get_factors(lon, lat)
        k = 0.5 * (f.meridional_scale + f.parallel_scale)
        return float(k) if math.isfinite(k) and k > 0 else 1.0
    except Exception:  # noqa: BLE001 - a CRS pyproj cannot evaluate: report no distortion
        return 1.0


def _table(
    fronts: gpd.GeoDataFrame,
    positions: list[float],
    flags: list[list[str]],
    n_parts: list[int],
    method: str,
) -> pd.DataFrame:
    df = pd.DataFrame({"date": pd.to_datetime(fronts["date"]).to_numpy()})
    if "glacier" in fronts.columns:
        df["glacier"] = fronts["glacier"].astype(str).to_numpy()
    pos = np.asarray(positions, dtype=float)
    df["position_m"] = pos
    finite = np.isfinite(pos)
    ref = pos[finite][0] if finite.any() else np.nan
    df["change_m"] = pos - ref
    df["method"] = method
    df["flags"] = [";".join(f) for f in flags]
    df["n_parts"] = np.asarray(n_parts, dtype=int)
    return df


#: The ``df.attrs`` written as ``# key: value`` lines at the top of a retreat CSV, in order.
_HEADER_KEYS = (
    "method",
    "crs",
    "metres",
    "distances",
    "scale_factor",
    "box_width_m",
    "box_length_m",
    "centreline_length_m",
    "upstream",
)


def write_retreat_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a retreat table atomically as CSV (``.csv``) or Parquet (``.parquet``).

    CSV dates are ISO dates (``YYYY-MM-DD``; with a time when any row has one). A CSV opens
    with ``# key: value`` lines of how the positions were measured when ``df.attrs`` has
    them: method, working CRS, ``metres`` (``ground`` or ``map``), ``distances`` (how, in
    words), the CRS's scale factor at the box, box width and length or centre-line length (in
    the metres of the positions), upstream edge; :func:`read_retreat_table` reads them back
    into ``df.attrs``. Parquet needs ``pyarrow``
    (or ``fastparquet``); without it a clear error says so.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> df = pd.DataFrame({"date": pd.to_datetime(["2020-03-01"]), "position_m": [1.5],
    ...                    "change_m": [0.0], "method": "box", "flags": [""], "n_parts": [2]})
    >>> out = write_retreat_table(df, pathlib.Path(tempfile.mkdtemp()) / "retreat.csv")
    >>> out.read_text().splitlines()
    ['date,position_m,change_m,method,flags,n_parts', '2020-03-01,1.5,0.0,box,,2']
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise DataError(
            f"has the extension {path.suffix!r}", path=path, expected="'.csv' or '.parquet'"
        )
    if not isinstance(df, pd.DataFrame) or "date" not in df.columns:
        raise DataError(
            "is not a retreat table",
            path=path,
            variable="df",
            expected="a DataFrame with 'date' (from retreat_box/retreat_centreline)",
        )
    out = df.copy()
    out["date"] = pd.to_datetime(out["date"])
    if suffix == ".parquet":
        if not any(importlib.util.find_spec(m) for m in ("pyarrow", "fastparquet")):
            raise DataError(
                "cannot be written: Parquet needs pyarrow, which is not installed",
                path=path,
                expected="pip install pyarrow, or a '.csv' path",
            )
        with atomic_path(path) as tmp:
            out.to_parquet(tmp, index=False)
        return path
    midnight = bool((out["date"].dropna() == out["date"].dropna().dt.normalize()).all())
    header = [f"# {k}: {df.attrs[k]}" for k in _HEADER_KEYS if k in df.attrs]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            if header:  # how the positions were measured, for whoever reads the table
                f.write("\n".join(header) + "\n")
            out.to_csv(f, index=False, date_format="%Y-%m-%d" if midnight else "%Y-%m-%dT%H:%M:%S")
    return path


def _header(path: Path) -> dict[str, str]:
    """The ``# key: value`` metadata lines that open a retreat CSV, in order."""
    meta: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#"):
                break
            key, _, value = line[1:].strip().partition(": ")
            meta[key] = value
    return meta


def read_retreat_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a table written by :func:`write_retreat_table` (dates parsed, flags as strings).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> df = pd.DataFrame({"date": pd.to_datetime(["2020-03-01"]), "position_m": [1.5],
    ...                    "change_m": [0.0], "method": "box", "flags": [""], "n_parts": [2]})
    >>> back = read_retreat_table(write_retreat_table(df, pathlib.Path(tempfile.mkdtemp()) / "r.csv"))
    >>> back.date.dtype.kind, back["flags"].tolist()
    ('M', [''])
    """
    path = Path(path)
    if not path.exists():
        raise DataError("does not exist", path=path, expected="a retreat table (.csv or .parquet)")
    try:
        if path.suffix.lower() == ".parquet":
            df = pd.read_parquet(path)
        else:
            meta = _header(path)
            df = pd.read_csv(
                path,
                skiprows=len(meta),
                keep_default_na=False,
                na_values={"position_m": ["", "NaN", "nan"], "change_m": ["", "NaN", "nan"]},
            )
            df.attrs.update(meta)
    except Exception as err:  # noqa: BLE001
        raise FileFormatError(
            f"cannot be read ({err})",
            path=path,
            expected="a retreat table written by write_retreat_table",
        ) from err
    if "date" not in df.columns:
        raise FileFormatError("has no 'date' column", path=path, expected="a retreat table")
    df["date"] = pd.to_datetime(df["date"])
    if "flags" in df.columns:
        df["flags"] = df["flags"].fillna("").astype(str)
    return df
