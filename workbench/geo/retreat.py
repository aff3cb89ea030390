"""Retreat curves from dated calving-front lines: rectilinear box and centre line.

Implements SCIENCE.md "Turning fronts into retreat curves" for any collection of dated front
lines (predicted or reference): a GeoDataFrame with ``date`` and line geometry, or files read
by :func:`read_front_lines`.

Rectilinear box (Moon & Joughin 2008), :func:`retreat_box`
----------------------------------------------------------
1. Working CRS: ``crs`` if given, else the box's CRS when it is projected in metres (e.g.
   EPSG:3413 for Greenland), else a local Lambert azimuthal equal-area projection
   (:func:`workbench.geo.crs.local_equal_area_crs`). Fronts are reprojected to it. The box
   is split, and its edges decided and drawn, in this CRS; it does not set the units.
   **Distances are ground metres** by default (``metres="ground"``): the areas of the pieces
   and of the box are measured on the ellipsoid and the box length along it
   (:mod:`workbench.geo.retreat_ground`). A map CRS's own metres are not ground metres:
   EPSG:3413 has a scale factor of 0.983 at 76.6° N, so its metres are 1.7 % short
   (``metres="map"`` measures in them; :func:`summarize_retreat` then says so). The
   method and units go into ``df.attrs`` and the CSV header (:func:`write_retreat_table`).
2. The box must have four corners (collinear and repeated vertices are ignored). Which of
   its edges is upstream is decided geometrically (:func:`box_frame`), never assumed:

   * ``upstream=(x, y)`` (or a shapely Point, or ``"X,Y"``): a point near the upstream edge,
     in the box's CRS; the nearest edge is upstream.
   * ``upstream=i``: edge ``i`` (from corner ``i`` to corner ``i + 1`` of the box as given).
   * ``upstream="right"`` / ``"left"``: the lines follow a convention, the ice lies on their
     right (left) walking along them. :func:`~workbench.geo.vectors.fronts_from_zones`
     writes fronts with the ice on the right, and so are the Harald Moltke lines and the
     synthetic ground truth. The side walls are the pair of opposite edges the fronts cross
     (ties: the long axis); each front votes for the end edge its ice side faces.
   * ``upstream="convex"``: a heuristic, opt-in only: fronts are assumed convex seawards and
     vote for the end edge they bulge away from. It fails on concave fronts — at Harald
     Moltke Bræ 2019–2021, 132 of 155 fronts bulge up-glacier — so it is never a default.

   Votes must agree for at least 60 % of the voting fronts. Without ``upstream`` the error
   says exactly what to pass for this box: the edge ``"right"`` would pick (and how many
   lines agree), and the midpoints of both candidate end edges in the box's CRS.

   There is no default because no rule on the lines' geometry alone is reliable. Checked on
   the synthetic glacier (both orientations of the box) and on Harald Moltke Bræ: "the end
   the fronts bulge away from" (convex) and "the end farthest from the fronts" (vertex
   majority) are right on every synthetic front but, on the 50 Harald Moltke fronts of 2021,
   both pick the fjord end unanimously (concave fronts in the up-glacier half of the box);
   "the end no front crosses or lies beyond" is undecidable (no front touches either end,
   in either data set); "the fronts retreat over time" is an assumption, not geometry (the
   synthetic glacier advances over some periods; Harald Moltke Bræ is surge-type). Only the
   side convention of the lines (or a point) decides.
3. Each line splits the box into pieces — exactly ``shapely.ops.split``'s pieces, for all
   lines at once with vectorised shapely 2 calls (:mod:`workbench.geo.retreat_split`;
   6.3–8.5 × faster than the published per-line loop on the 159 Harald Moltke fronts, see
   ``benchmarks/retreat_box.py``). The pieces are 2-coloured
   across the line (two pieces sharing a stretch of the line lie on opposite sides of it),
   starting with ice for the piece with the longest contact with the upstream edge. The
   up-glacier area is the area of all ice-coloured pieces. For a wiggly front that leaves
   and re-enters the box, this counts each small piece cut off between the line and a side
   edge on the side of the line it really lies on: an ice tongue poking out of the box
   that comes back in encloses ocean, a seaward wiggle of the ice encloses ice — neither
   "pieces touching the upstream edge" nor "the largest piece" gets both right.
4. Mean terminus position = up-glacier area / box width, in metres down flow from the
   upstream edge; box width = box area / box length, the box length being the distance
   between the midpoints of the upstream and downstream edges (for a rectangle: the length
   of the short edge); areas and length on the ground (default) or in map metres.
   ``change_m`` is the position minus the first finite position (positive = advance,
   negative = retreat).

Centre line, :func:`retreat_centreline`
---------------------------------------
Position = distance along the centre line (ground metres by default, like the box method;
from its start, which must be upstream; give ``upstream`` to orient it) to its first
intersection with the front walking down flow,
i.e. where the centre line first leaves the ice. Without an intersection: the mean of the
distances of the front's points (resampled evenly along the front, so the mean is length-
weighted) projected onto the centre line — flagged ``snapped``.

Flags
-----
The ``flags`` column holds ``;``-separated flags (empty: clean). See :data:`FLAGS`.

Examples
--------
>>> import geopandas as gpd, pandas as pd
>>> from shapely.geometry import LineString, box
>>> b = box(0, 0, 6000, 2000)                                   # fjord box, flow towards +x
>>> fronts = gpd.GeoDataFrame({"date": pd.to_datetime(["2020-03-01", "2020-09-01"])},
...     geometry=[LineString([(3000, -100), (3600, 1000), (3000, 2100)]),
...               LineString([(2500, -100), (3100, 1000), (2500, 2100)])], crs=32633)
>>> df = retreat_box(fronts, gpd.GeoSeries([b], crs=32633), upstream=(0, 1000),  # ice at x = 0
...                  metres="map")                       # in the CRS's own metres
>>> df[["position_m", "change_m", "flags", "n_parts"]].round(1).to_dict("list")
{'position_m': [3327.3, 2827.3], 'change_m': [0.0, -500.0], 'flags': ['', ''], 'n_parts': [2, 2]}

By default in ground metres: this box lies 500 km west of UTM zone 33's central meridian,
where a map metre is 0.27 % longer than a ground metre:

>>> df = retreat_box(fronts, gpd.GeoSeries([b], crs=32633), upstream=(0, 1000))
>>> df.change_m.round(1).tolist(), df.attrs["metres"]
([0.0, -498.7], 'ground')
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench._io import atomic_path
from workbench.errors import DataError, FileFormatError
from workbench.geo.retreat_ground import GroundMetres
from workbench.geo.retreat_split import split_box

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pyproj
    from matplotlib.figure import Figure
    from shapely.geometry import LineString, Polygon

__all__ = [
    "FLAGS",
    "read_front_lines",
    "BoxFrame",
    "box_frame",
    "retreat_box",
    "retreat_centreline",
    "seasonal_summary",
    "AnnualCycle",
    "fit_annual_cycle",
    "summarize_retreat",
    "retreat_products",
    "write_retreat_table",
    "read_retreat_table",
    "plot_retreat",
]

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

_DATE_RE = re.compile(r"(?<!\d)(\d{4})[-_]?(\d{2})[-_]?(\d{2})(?!\d)")
_VECTOR_EXT = (".shp", ".gpkg", ".geojson", ".json", ".fgb")
_DATE_COLUMNS = ("date", "src_date", "acq_date", "acquisition_date", "datetime", "time")
_BULGE_MIN = 0.005  # |bulge| / box width below this: the front does not vote
_VOTE_MAJORITY = 0.6  # share of voting fronts that must agree on the downstream edge


# =========================================================================== reading


def _date_from_name(path: Path) -> pd.Timestamp | None:
    for part in (path.stem, path.parent.name):
        for m in _DATE_RE.finditer(part):
            try:
                return pd.Timestamp(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                continue
    return None


def _glacier_from_name(path: Path) -> str:
    stem = _DATE_RE.sub("", path.stem).strip("_- .")
    if stem:
        return stem
    parent = path.parent
    if _DATE_RE.search(parent.name):
        parent = parent.parent
    return parent.name or path.stem


def _line_parts(geom: Any) -> list[Any]:
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type == "LineString":
        return [geom]
    if geom.geom_type == "LinearRing":
        from shapely.geometry import LineString

        return [LineString(geom.coords)]
    if geom.geom_type in ("MultiLineString", "GeometryCollection"):
        return [p for g in geom.geoms for p in _line_parts(g)]
    return []


def _merge_lines(geoms: Iterable[Any]) -> Any:
    import shapely
    from shapely.geometry import MultiLineString

    parts = [p for g in geoms for p in _line_parts(g)]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return shapely.line_merge(MultiLineString(parts))


def _read_vector(path: Path, layer: str | None = None) -> Any:
    import geopandas as gpd

    try:
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as err:  # noqa: BLE001 - pyogrio/GDAL raise many types
        raise FileFormatError(
            f"cannot be read ({type(err).__name__}: {err})",
            path=path,
            expected="a vector file GDAL can read (.shp, .gpkg, .geojson)",
        ) from err


def _find_date_column(columns: Sequence[str], date_column: str | None) -> str | None:
    lower = {c.lower(): c for c in columns}
    for name in ((date_column,) if date_column else ()) + _DATE_COLUMNS:
        if name and name.lower() in lower:
            return lower[name.lower()]
    return None


def _front_rows(
    path: Path, date_column: str | None, glacier: str | None, layer: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """One file → (CRS string, rows of date, glacier, source, geometry), unmerged.

    Reads with ``pyogrio.raw.read`` (no per-file GeoDataFrame: 159 files in well under a
    second instead of several seconds).
    """
    import pyproj
    import shapely
    from pyogrio.raw import read as _raw_read

    try:
        meta, _fids, wkb, fields = _raw_read(path, layer=layer)
    except Exception as err:  # noqa: BLE001 - pyogrio/GDAL raise many types
        raise FileFormatError(
            f"cannot be read ({type(err).__name__}: {err})",
            path=path,
            expected="a vector file GDAL can read (.shp, .gpkg, .geojson)",
        ) from err
    crs = meta.get("crs")
    if not crs:
        raise FileFormatError(
            "has no CRS",
            path=path,
            expected="a CRS (a .prj beside a shapefile, or one in the file)",
        )
    geoms = list(shapely.from_wkb(wkb)) if wkb is not None else []
    if geoms and pyproj.CRS.from_user_input(crs).is_geographic:
        x0, y0, x1, y1 = shapely.total_bounds(geoms)
        if max(abs(x0), abs(x1)) > 360 or max(abs(y0), abs(y1)) > 90:
            raise FileFormatError(
                f"has coordinates up to ({x1:.0f}, {y1:.0f}), impossible in its geographic CRS "
                f"{crs} (degrees): the coordinates are projected (metres) but labelled as "
                "longitude/latitude (GeoJSON without a CRS is read as EPSG:4326)",
                path=path,
                expected="the file's true CRS, e.g. set it with "
                "ogr2ogr -a_srs EPSG:3413 fixed.gpkg file or gdf.set_crs(..., "
                "allow_override=True)",
            )
    types = {g.geom_type for g in geoms if g is not None} - {
        "LineString",
        "MultiLineString",
        "LinearRing",
    }
    if types:
        raise FileFormatError(
            f"holds {sorted(types)} geometries",
            path=path,
            expected="calving-front lines (LineString or MultiLineString)",
        )
    names = [str(n) for n in meta.get("fields", [])]
    columns = dict(zip(names, fields, strict=False))
    col = _find_date_column(names, date_column)
    if not geoms and col is not None:
        raise DataError(
            f"has no front lines (0 features; its date column is {col!r})",
            path=path,
            expected="at least one dated calving-front line",
        )
    if col is not None and len(geoms):
        raw = pd.Series(columns[col])
        dates = pd.to_datetime(raw, errors="coerce", utc=True).dt.tz_localize(None)
        bad = dates.isna()
        if bad.any():
            raise DataError(
                f"holds a date that cannot be parsed: {raw[bad].iloc[0]!r}",
                path=path,
                variable=col,
                expected="ISO dates such as 2019-02-28",
            )
        date_list = list(dates)
    else:
        d = _date_from_name(path)
        if d is None:
            if date_column:
                raise DataError(
                    f"has no column {date_column!r} and no date in its name",
                    path=path,
                    variable=date_column,
                    expected="a date column or a name like glacier_YYYYMMDD.shp",
                )
            raise DataError(
                "has no date: no date column and no YYYYMMDD in its name",
                path=path,
                expected="a 'date' column or a name like harald_moltke_brae_20190228.shp",
            )
        date_list = [d] * max(len(geoms), 1)
    if not geoms:
        geoms = [None] * len(date_list)
    if glacier is not None:
        gnames = [glacier] * len(geoms)
    elif "glacier" in columns and len(columns["glacier"]) == len(geoms):
        gnames = [str(v) for v in columns["glacier"]]
    else:
        gnames = [_glacier_from_name(path)] * len(geoms)
    rows = [
        {"date": pd.Timestamp(d), "glacier": n, "source": str(path), "geometry": g}
        for d, n, g in zip(date_list, gnames, geoms, strict=False)
    ]
    return crs, rows


def read_front_lines(
    path: str | os.PathLike[str],
    *,
    date_column: str | None = None,
    glacier: str | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read dated calving-front lines from a folder of files or from one vector file.

    Parameters
    ----------
    path
        A folder, searched recursively for ``.shp``, ``.gpkg``, ``.geojson``, ``.json`` and
        ``.fgb`` files (e.g. the layout ``lines/<name>/<YYYYMMDD>/<name>_<YYYYMMDD>.shp``),
        or one such file.
    date_column
        Attribute holding the date. Default: the first of ``date``, ``src_date``,
        ``acq_date``, ``acquisition_date``, ``datetime``, ``time`` (any case) present; files
        without one are dated by the first ``YYYYMMDD`` / ``YYYY-MM-DD`` in their name, or
        else in their folder's name.
    glacier
        Glacier name for every row. Default: a ``glacier`` column, else the file name
        without its date (``harald_moltke_brae``).
    layer
        Layer to read from multi-layer files (GeoPackage).

    Returns
    -------
    geopandas.GeoDataFrame
        ``date`` (datetime64), ``glacier``, ``source`` (file), ``geometry``; one row per
        date and glacier (features of one date are merged into one (Multi)LineString;
        a file without features keeps its date with an empty geometry), sorted by date, in
        the CRS of the first file (others are reprojected).

    Raises
    ------
    DataError
        No files, or a file without a date; the message names the file.
    FileFormatError
        A file that cannot be read, has no CRS, or holds non-line geometries.

    Examples
    --------
    >>> import tempfile, pathlib, geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for d in ("20190228", "20190312"):
    ...     (root / d).mkdir()
    ...     gpd.GeoDataFrame({"ID": [1]}, geometry=[LineString([(0, 0), (1, 1)])],
    ...                      crs=3413).to_file(root / d / f"hmb_{d}.shp")
    >>> fronts = read_front_lines(root)
    >>> fronts.date.dt.strftime("%Y-%m-%d").tolist(), fronts.glacier.unique().tolist()
    (['2019-02-28', '2019-03-12'], ['hmb'])
    """
    import geopandas as gpd

    root = Path(path)
    if not root.exists():
        raise DataError(
            "does not exist", path=root, expected="a folder of front-line files or one vector file"
        )
    if root.is_dir():
        files = sorted(
            p
            for p in root.rglob("*")
            if p.suffix.lower() in _VECTOR_EXT and p.is_file() and not p.name.startswith(".")
        )
        if not files:
            raise DataError(
                "holds no vector files",
                path=root,
                expected=f"front lines as {', '.join(_VECTOR_EXT)} files",
            )
    else:
        files = [root]
    from workbench.geo.crs import as_crs

    crs = None
    allrows: list[dict[str, Any]] = []
    for f in files:
        file_crs, rows = _front_rows(f, date_column, glacier, layer)
        if crs is None:
            crs = file_crs
        elif file_crs != crs and as_crs(file_crs, path=f) != as_crs(crs):
            for r in rows:
                r["geometry"] = _transform_geom(r["geometry"], file_crs, crs)
        allrows.extend(rows)
    groups: dict[tuple[str, pd.Timestamp], list[dict[str, Any]]] = {}
    for r in allrows:
        groups.setdefault((r["glacier"], r["date"]), []).append(r)
    rows = []
    for (name, date), grp in groups.items():
        rows.append(
            {
                "date": date,
                "glacier": name,
                "source": ";".join(dict.fromkeys(r["source"] for r in grp)),
                "geometry": _merge_lines(r["geometry"] for r in grp),
            }
        )
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
    out["date"] = pd.to_datetime(out["date"])
    return out.sort_values(["date", "glacier"], kind="stable").reset_index(drop=True)


# =========================================================================== geometry input


def _load_single(obj: Any, what: str, default_crs: Any, kinds: tuple[str, ...]) -> tuple[Any, Any]:
    """(shapely geometry, CRS or None) from a path, GeoDataFrame/GeoSeries or geometry."""
    import geopandas as gpd
    from shapely.geometry.base import BaseGeometry

    path = None
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        if not path.exists():
            raise DataError(
                "does not exist",
                path=path,
                variable=what,
                expected=f"a vector file with one {what}",
            )
        obj = _read_vector(path)
    if isinstance(obj, (gpd.GeoDataFrame, gpd.GeoSeries)):
        crs = obj.crs if obj.crs is not None else default_crs
        geoms = [
            g
            for g in (obj.geometry if isinstance(obj, gpd.GeoDataFrame) else obj)
            if g is not None and not g.is_empty
        ]
        if len(geoms) != 1:
            raise DataError(
                f"holds {len(geoms)} features",
                path=path,
                variable=what,
                expected=f"exactly one {what}",
            )
        geom = geoms[0]
    elif isinstance(obj, BaseGeometry):
        geom, crs = obj, default_crs
    else:
        raise DataError(
            f"is a {type(obj).__name__}",
            variable=what,
            expected=f"a {what} (shapely geometry, GeoSeries/GeoDataFrame or file)",
        )
    if geom.geom_type.startswith("Multi") and len(geom.geoms) == 1:
        geom = geom.geoms[0]
    if geom.geom_type == "MultiLineString" and "LineString" in kinds:
        import shapely

        geom = shapely.line_merge(geom)
    if geom.geom_type not in kinds:
        raise DataError(
            f"is a {geom.geom_type}",
            path=path,
            variable=what,
            expected=f"a single {' or '.join(kinds)}",
        )
    if crs is None:
        raise DataError(
            "has no CRS and the fronts have none either",
            path=path,
            variable=what,
            expected="a GeoSeries/GeoDataFrame or file with a CRS",
        )
    return geom, crs


def _fronts_frame(fronts: Any) -> gpd.GeoDataFrame:
    import geopandas as gpd

    if isinstance(fronts, (str, os.PathLike)):
        fronts = read_front_lines(fronts)
    if not isinstance(fronts, gpd.GeoDataFrame):
        raise DataError(
            f"is a {type(fronts).__name__}",
            variable="fronts",
            expected="a GeoDataFrame with 'date' and line geometry, or a path",
        )
    if fronts.crs is None:
        raise DataError("has no CRS", variable="fronts", expected="a GeoDataFrame with a CRS")
    if "date" not in fronts.columns:
        raise DataError(
            "has no 'date' column",
            variable="fronts",
            expected="a 'date' column (datetime or ISO strings)",
        )
    if len(fronts) == 0:
        raise DataError("has no rows", variable="fronts", expected="at least one dated front line")
    if "glacier" in fronts.columns and fronts["glacier"].nunique(dropna=True) > 1:
        names = sorted(map(str, fronts["glacier"].dropna().unique()))
        raise DataError(
            f"holds {len(names)} glaciers {names[:5]}",
            variable="fronts",
            expected="the fronts of one glacier (select with fronts[fronts.glacier == name])",
        )
    bad = set(fronts.geometry.dropna().geom_type) - {"LineString", "MultiLineString", "LinearRing"}
    if bad:
        raise DataError(
            f"holds {sorted(bad)} geometries",
            variable="fronts",
            expected="LineString or MultiLineString fronts",
        )
    out = fronts.copy()
    dates = pd.to_datetime(out["date"], errors="coerce", utc=True)
    if dates.isna().any():
        first = out["date"][dates.isna()].iloc[0]
        raise DataError(
            f"holds a date that cannot be parsed: {first!r}",
            variable="date",
            expected="datetimes or ISO date strings",
        )
    out["date"] = dates.dt.tz_localize(None)
    return out.sort_values("date", kind="stable").reset_index(drop=True)


def _working_crs(crs: Any, ref_crs: Any, ref_geom: Any) -> pyproj.CRS:
    from workbench.geo.crs import as_crs, local_equal_area_crs, metric_crs

    if crs is None:
        return metric_crs(ref_crs, ref_geom)
    if isinstance(crs, str) and crs.lower() in ("laea", "local", "equal-area"):
        return local_equal_area_crs(ref_geom, ref_crs)
    return as_crs(crs)


def _transform_geom(geom: Any, src: Any, dst: Any) -> Any:
    import pyproj
    import shapely

    from workbench.geo.crs import as_crs

    s, d = as_crs(src), as_crs(dst)
    if geom is None or s == d:
        return geom
    t = pyproj.Transformer.from_crs(s, d, always_xy=True)
    return shapely.transform(geom, t.transform, interleaved=False)


# =========================================================================== the box


@dataclasses.dataclass(frozen=True)
class BoxFrame:
    """A box in its working CRS with its upstream edge decided.

    Attributes
    ----------
    polygon
        The box (working CRS).
    crs
        The working CRS (metres).
    corners
        ``(4, 2)`` corners; edge ``i`` runs from corner ``i`` to corner ``i + 1``.
    upstream_index
        Index of the upstream edge; the downstream edge is ``upstream_index + 2``.
    axis
        Unit vector down flow (upstream-edge midpoint → downstream-edge midpoint).
    length_m, width_m
        Box length (distance between the two edge midpoints) and width (area / length).
    upstream_source
        How the upstream edge was decided, in words.
    """

    polygon: Polygon
    crs: pyproj.CRS
    corners: np.ndarray
    upstream_index: int
    axis: tuple[float, float]
    length_m: float
    width_m: float
    upstream_source: str

    def edge(self, i: int) -> LineString:
        """Edge ``i`` (0..3) as a LineString."""
        from shapely.geometry import LineString

        c = self.corners
        return LineString([c[i % 4], c[(i + 1) % 4]])

    @property
    def upstream_edge(self) -> LineString:
        """The upstream (up-glacier) edge."""
        return self.edge(self.upstream_index)

    @property
    def downstream_edge(self) -> LineString:
        """The downstream (seaward) edge."""
        return self.edge(self.upstream_index + 2)

    def along(self, xy: Any) -> np.ndarray:
        """Distance (m) of points ``(n, 2)`` down flow from the upstream edge's midpoint line.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> f = box_frame(box(0, 0, 6000, 2000), upstream=(0, 1000), crs=32633)
        >>> f.along([[0, 500], [2500, 1900]]).tolist(), f.width_m, f.length_m
        ([0.0, 2500.0], 2000.0, 6000.0)
        """
        p = np.atleast_2d(np.asarray(xy, dtype=float))
        m = np.asarray(self.upstream_edge.interpolate(0.5, normalized=True).coords[0])
        return (p - m) @ np.asarray(self.axis)


def _quad_corners(poly: Polygon) -> np.ndarray:
    c = np.asarray(poly.exterior.coords)[:-1, :2]
    scale = math.sqrt(poly.area) if poly.area > 0 else 1.0
    changed = True
    while changed and len(c) > 3:
        changed = False
        keep = np.ones(len(c), bool)
        for i in range(len(c)):
            a, b, d = c[i - 1], c[i], c[(i + 1) % len(c)]
            if np.hypot(*(b - a)) <= 1e-9 * scale:
                keep[i] = False
                changed = True
                break
            cross = (b[0] - a[0]) * (d[1] - b[1]) - (b[1] - a[1]) * (d[0] - b[0])
            if abs(cross) <= 1e-9 * np.hypot(*(b - a)) * np.hypot(*(d - b)):
                keep[i] = False
                changed = True
                break
        c = c[keep]
    return c


def _points(geom: Any) -> np.ndarray:
    import shapely

    if geom is None or geom.is_empty:
        return np.zeros((0, 2))
    return shapely.get_coordinates(geom)


def _live(geoms: Sequence[Any]) -> np.ndarray:
    """The geometries that are neither missing nor empty, as an object array."""
    import shapely

    g = np.asarray(list(geoms), dtype=object)
    if not len(g):
        return g
    return g[~shapely.is_missing(g) & ~shapely.is_empty(g)]


def _side_votes(
    poly: Polygon, corners: np.ndarray, up: int, geoms: Sequence[Any], side: str
) -> tuple[int, int]:
    """Fronts whose ice side (``side`` of the line) faces edge ``up`` / edge ``up + 2``.

    Per front, the clipped parts' chords (start → end, summed) rotated towards ``side``
    give the direction the ice side faces; wiggles cancel out of the chord. Vectorised: one
    ``shapely.intersection`` for all fronts, the chords summed with ``np.add.at``.
    """
    import shapely
    from shapely.geometry import LineString

    edges = [LineString([corners[i % 4], corners[(i + 1) % 4]]) for i in range(4)]
    m_a = np.asarray(edges[up].interpolate(0.5, normalized=True).coords[0])
    m_b = np.asarray(edges[(up + 2) % 4].interpolate(0.5, normalized=True).coords[0])
    axis = (m_b - m_a) / np.hypot(*(m_b - m_a))
    width = poly.area / np.hypot(*(m_b - m_a))
    live = _live(geoms)
    if not len(live):
        return 0, 0
    parts, owner = shapely.get_parts(shapely.intersection(live, poly), return_index=True)
    flat, sub = shapely.get_parts(parts, return_index=True)  # nested collections
    owner = owner[sub]
    keep = np.isin(shapely.get_type_id(flat), (1, 2)) & ~shapely.is_empty(flat)  # (ring) lines
    flat, owner = flat[keep], owner[keep]
    chord = np.zeros((len(live), 2))
    if len(flat):
        start = shapely.get_coordinates(shapely.get_point(flat, 0))
        end = shapely.get_coordinates(shapely.get_point(flat, -1))
        np.add.at(chord, owner, end - start)
    normal = (
        np.column_stack([chord[:, 1], -chord[:, 0]])
        if side == "right"
        else np.column_stack([-chord[:, 1], chord[:, 0]])
    )
    facing = normal @ axis
    return int((facing < -0.25 * width).sum()), int((facing > 0.25 * width).sum())


def _bulge_votes(
    poly: Polygon, corners: np.ndarray, up: int, geoms: Sequence[Any]
) -> tuple[int, int]:
    """Fronts bulging towards edge ``up + 2`` and towards edge ``up``."""
    import shapely
    from shapely.geometry import LineString

    edges = [LineString([corners[i % 4], corners[(i + 1) % 4]]) for i in range(4)]
    m_a = np.asarray(edges[up].interpolate(0.5, normalized=True).coords[0])
    m_b = np.asarray(edges[(up + 2) % 4].interpolate(0.5, normalized=True).coords[0])
    axis = (m_b - m_a) / np.hypot(*(m_b - m_a))
    width = poly.area / np.hypot(*(m_b - m_a))
    side1, side2 = edges[(up + 1) % 4], edges[(up + 3) % 4]
    towards_b = towards_a = 0
    for g in geoms:
        if g is None or g.is_empty:
            continue
        p1, p2 = _points(g.intersection(side1)), _points(g.intersection(side2))
        if not len(p1) or not len(p2):
            continue
        inside = [p for p in _line_parts(g.intersection(poly)) if p.length > 0]
        if not inside:
            continue
        t_ends = 0.5 * (((p1 - m_a) @ axis).mean() + ((p2 - m_a) @ axis).mean())
        num = den = 0.0
        for part in inside:
            n = max(2, int(math.ceil(part.length / (width / 200.0))))
            pts = shapely.get_coordinates(
                shapely.line_interpolate_point(part, np.linspace(0, part.length, n))
            )
            num += ((pts - m_a) @ axis).mean() * part.length
            den += part.length
        bulge = (num / den - t_ends) / width
        if bulge > _BULGE_MIN:
            towards_b += 1
        elif bulge < -_BULGE_MIN:
            towards_a += 1
    return towards_b, towards_a


def _side_walls(edges: Sequence[Any], lengths: np.ndarray, geoms: Sequence[Any]) -> tuple[int, str]:
    """The pair of opposite edges the fronts run between (0: edges 0 and 2; 1: 1 and 3)."""
    import shapely

    live = _live(geoms)
    for e in edges:
        shapely.prepare(e)
    crossed = np.array(
        [
            int(
                (
                    shapely.intersects(live, edges[pair])
                    & shapely.intersects(live, edges[pair + 2])
                ).sum()
            )
            if len(live)
            else 0
            for pair in (0, 1)
        ]
    )
    if crossed[0] != crossed[1]:
        side_pair = int(np.argmax(crossed))
        return side_pair, (
            f"side walls = edges {side_pair} and {side_pair + 2}, crossed by "
            f"{crossed[side_pair]} fronts"
        )
    side_pair = 0 if lengths[0] + lengths[2] >= lengths[1] + lengths[3] else 1
    return side_pair, f"side walls = edges {side_pair} and {side_pair + 2} (long axis)"


def _what_to_pass(
    poly: Polygon,
    corners: np.ndarray,
    edges: Sequence[Any],
    lengths: np.ndarray,
    geoms: Sequence[Any],
    to_box: Any,
    geographic: bool,
) -> str:
    """The exact ``upstream`` values that would decide the box, for the error message."""

    def xy(i: int) -> str:
        x, y = to_box(np.asarray(edges[i % 4].interpolate(0.5, normalized=True).coords[0]))
        return f"{x:.6f},{y:.6f}" if geographic else f"{x:.0f},{y:.0f}"

    live = [g for g in geoms if g is not None and not g.is_empty]
    if not live:
        points = ", ".join(f"'{xy(i)}' (edge {i})" for i in range(4))
        return (
            f"the midpoint of the up-glacier edge in the box's CRS, one of upstream={points}, "
            f"or its edge index 0..3; CLI: --upstream={xy(0)}"
        )
    side_pair, _ = _side_walls(edges, lengths, live)
    a, b = 1 - side_pair, 3 - side_pair
    right_a, right_b = _side_votes(poly, corners, a, live, "right")
    n = right_a + right_b
    if n and max(right_a, right_b) >= _VOTE_MAJORITY * n:
        right, left = (a, b) if right_a > right_b else (b, a)
        sides = (
            f"upstream='right' if the ice lies on the right of the lines, as in "
            f"workbench fronts (it picks edge {right} here: {max(right_a, right_b)} of {n} "
            f"lines agree), 'left' if on their left (edge {left}); "
        )
    else:
        sides = (
            f"(the lines run both ways across the box — {right_a} vs {right_b} — so "
            "'right'/'left' cannot decide); "
        )
    return (
        sides + f"or the midpoint of the up-glacier end in the box's CRS: "
        f"upstream='{xy(a)}' (edge {a}) or '{xy(b)}' (edge {b}); CLI: --upstream right, "
        f"--upstream left, --upstream={xy(a)} or --upstream={xy(b)}"
    )


def _frame(
    poly: Polygon,
    crs: Any,
    geoms: Sequence[Any],
    upstream: Any,
    upstream_xy_work: np.ndarray | None,
    to_box: Any = None,
    geographic: bool = False,
) -> BoxFrame:
    from shapely.geometry import LineString, Point
    from shapely.geometry import Polygon as _Polygon

    if poly.geom_type != "Polygon":
        raise DataError(f"is a {poly.geom_type}", variable="box", expected="one Polygon")
    if not poly.is_valid or poly.area <= 0:
        raise DataError(
            "is not a valid polygon with an area",
            variable="box",
            expected="a valid four-cornered box polygon",
        )
    if len(poly.interiors):
        raise DataError(
            f"has {len(poly.interiors)} holes",
            variable="box",
            expected="a box polygon without holes",
        )
    corners = _quad_corners(_Polygon(poly.exterior))
    if len(corners) != 4:
        raise DataError(
            f"has {len(corners)} corners",
            variable="box",
            expected="a four-cornered (rectilinear) box; for a curved fjord use retreat_centreline",
        )
    poly = _Polygon(np.vstack([corners, corners[:1]]))
    edges = [LineString([corners[i], corners[(i + 1) % 4]]) for i in range(4)]
    lengths = np.array([e.length for e in edges])
    if upstream_xy_work is not None:
        d = np.array([e.distance(Point(upstream_xy_work)) for e in edges])
        order = np.argsort(d)
        width_guess = poly.area / max(lengths.max(), 1e-12)
        if d[order[1]] - d[order[0]] < 0.01 * width_guess:
            raise DataError(
                f"point {tuple(np.round(upstream_xy_work, 1))} is about equally near "
                f"two edges (a corner)",
                variable="upstream",
                expected="a point near the middle of the upstream edge",
            )
        up = int(order[0])
        source = f"given: edge {up}, nearest to the upstream point"
    elif (
        upstream is not None
        and isinstance(upstream, (int, np.integer))
        and not isinstance(upstream, bool)
    ):
        if not 0 <= int(upstream) <= 3:
            raise DataError(
                f"is {upstream!r}",
                variable="upstream",
                expected="an edge index 0..3 (edge i runs from corner i to i + 1)",
            )
        up = int(upstream)
        source = f"given: edge {up}"
    elif isinstance(upstream, str) and upstream.lower() in ("left", "right", "convex"):
        mode = upstream.lower()
        side_pair, how = _side_walls(edges, lengths, geoms)
        cand = 1 - side_pair
        if mode == "convex":
            to_far, to_near = _bulge_votes(poly, corners, cand, geoms)
            # bulging towards the far edge makes the near edge upstream
            votes_near, votes_far = to_far, to_near
            rule = "fronts bulge seawards (convex heuristic)"
        else:
            votes_near, votes_far = _side_votes(poly, corners, cand, geoms, mode)
            rule = f"ice on the {mode} of the lines"
        n = votes_near + votes_far
        if n == 0 or max(votes_near, votes_far) < _VOTE_MAJORITY * n:
            raise DataError(
                f"cannot tell which end of the box is upstream with upstream={mode!r}: "
                f"{votes_near} fronts vote for edge {cand}, {votes_far} for edge {cand + 2}",
                variable="upstream",
                expected="upstream=(x, y), a point near the upstream edge in the box's CRS "
                "(CLI: --upstream X,Y)",
            )
        up = cand if votes_near > votes_far else cand + 2
        source = f"{rule}: {max(votes_near, votes_far)} of {n} fronts vote for edge {up}; {how}"
    elif upstream is None:
        raise DataError(
            "is not given, and which end of the box is up-glacier cannot be read from the "
            "lines alone (no geometric rule is reliable: see workbench.geo.retreat)",
            variable="upstream",
            expected=_what_to_pass(
                poly, corners, edges, lengths, geoms, to_box or (lambda p: p), geographic
            ),
        )
    else:
        raise DataError(
            f"is {upstream!r}: the upstream end of the box is not known",
            variable="upstream",
            expected="(x, y) near the upstream edge in the box's CRS, an edge index 0..3, "
            "'right' or 'left' (the side of the lines the ice is on; workbench fronts: "
            "'right'), or 'convex' (heuristic) — CLI: --upstream X,Y | right | left",
        )
    m_up = np.asarray(edges[up].interpolate(0.5, normalized=True).coords[0])
    m_dn = np.asarray(edges[(up + 2) % 4].interpolate(0.5, normalized=True).coords[0])
    length = float(np.hypot(*(m_dn - m_up)))
    axis = tuple(float(v) for v in (m_dn - m_up) / length)
    from workbench.geo.crs import as_crs

    return BoxFrame(
        polygon=poly,
        crs=as_crs(crs),
        corners=corners,
        upstream_index=up,
        axis=axis,
        length_m=length,
        width_m=float(poly.area / length),
        upstream_source=source,
    )


def _upstream_point(upstream: Any) -> tuple[float, float] | None:
    from shapely.geometry import Point

    if upstream is None or (
        isinstance(upstream, (int, np.integer)) and not isinstance(upstream, bool)
    ):
        return None
    if isinstance(upstream, str):
        if upstream.lower() in ("left", "right", "convex"):
            return None
        try:
            x, y = (float(v) for v in upstream.split(","))
        except ValueError as err:
            raise DataError(
                f"is {upstream!r}",
                variable="upstream",
                expected="'X,Y' in the box's CRS (e.g. '-561932,-1346904'), "
                "'right', 'left' or 'convex'",
            ) from err
        return x, y
    if isinstance(upstream, Point):
        return float(upstream.x), float(upstream.y)
    try:
        x, y = (float(v) for v in upstream)
    except (TypeError, ValueError) as err:
        raise DataError(
            f"is {upstream!r}",
            variable="upstream",
            expected="(x, y) in the box's CRS, a shapely Point, or an edge index 0..3",
        ) from err
    return x, y


def box_frame(
    box: Any,
    fronts: Any = None,
    *,
    upstream: Any = None,
    crs: Any = None,
) -> BoxFrame:
    """The box in its metric working CRS, with its upstream edge decided geometrically.

    Parameters
    ----------
    box
        Box polygon: a shapely Polygon (in the fronts' CRS, or ``crs`` when no fronts are
        given), a GeoSeries/GeoDataFrame with one polygon, or a vector file.
    fronts
        Front lines (GeoDataFrame) for ``upstream="right"``, ``"left"`` or ``"convex"``.
    upstream
        ``(x, y)`` / ``Point`` / ``"X,Y"`` near the upstream edge, in the box's CRS; the
        index (0..3) of the upstream edge in the box's corner order; ``"right"``/``"left"``
        (the ice lies on that side of the lines); or ``"convex"`` (heuristic). Required:
        see the module docstring; left out, the error lists the values that fit the box.
    crs
        Working CRS (default: the box's CRS when metric, else a local equal-area CRS;
        ``"laea"`` forces the local equal-area CRS).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> f = box_frame(box(0, 0, 6000, 2000), upstream=(6000, 900), crs=32633)
    >>> f.upstream_edge.bounds, f.axis, f.width_m
    ((6000.0, 0.0, 6000.0, 2000.0), (-1.0, 0.0), 2000.0)

    Without ``upstream``, the error names what to pass:

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> north = gpd.GeoDataFrame({"date": ["2020-05-01"]}, crs=32633,
    ...                          geometry=[LineString([(3000, -10), (3000, 2010)])])
    >>> box_frame(box(0, 0, 6000, 2000), north)
    Traceback (most recent call last):
    ...
    workbench.errors.DataError: variable 'upstream' is not given, ... (expected upstream='right' if the ice lies on the right of the lines, as in workbench fronts (it picks edge 0 here: 1 of 1 lines agree), 'left' if on their left (edge 2); or the midpoint of the up-glacier end in the box's CRS: upstream='6000,1000' (edge 0) or '0,1000' (edge 2); CLI: ...)
    """
    fr = _fronts_frame(fronts) if fronts is not None else None
    return _box_frame(box, fr, upstream, crs)[0]


def _box_frame(
    box: Any, fr: gpd.GeoDataFrame | None, upstream: Any, crs: Any
) -> tuple[BoxFrame, np.ndarray]:
    """:func:`box_frame` for checked fronts; also returns the fronts' lines in the frame's CRS."""
    box_geom, box_crs = _load_single(box, "box", fr.crs if fr is not None else crs, ("Polygon",))
    work = _working_crs(crs, box_crs, box_geom)
    poly = _transform_geom(box_geom, box_crs, work)
    geoms = (
        np.empty(0, dtype=object)
        if fr is None
        else np.asarray(fr.to_crs(work).geometry.to_numpy(), dtype=object)
    )
    xy = _upstream_point(upstream)
    xy_work = None
    if xy is not None:
        from shapely.geometry import Point

        p = _transform_geom(Point(xy), box_crs, work)
        xy_work = np.array([p.x, p.y])

    def to_box(p: np.ndarray) -> tuple[float, float]:
        from shapely.geometry import Point

        q = _transform_geom(Point(p), work, box_crs)
        return float(q.x), float(q.y)

    from workbench.geo.crs import as_crs

    geographic = bool(as_crs(box_crs).is_geographic) if box_crs is not None else False
    return _frame(poly, work, geoms, upstream, xy_work, to_box, geographic), geoms


def _extend_line(line: Any, poly: Polygon, frame: BoxFrame) -> tuple[Any, bool]:
    from shapely.geometry import LineString, MultiLineString, Point

    reach = 2.0 * math.hypot(frame.length_m, frame.width_m)
    out, changed = [], False
    for part in _line_parts(line):
        c = np.asarray(part.coords)[:, :2]
        if len(c) < 2 or part.length == 0:
            out.append(part)
            continue
        step = min(part.length / 2.0, frame.width_m / 10.0)
        new = [c]
        for end in (0, 1):
            p = c[0] if end == 0 else c[-1]
            if not poly.contains(Point(p)):
                continue
            q = np.asarray(part.interpolate(step if end == 0 else part.length - step).coords[0])
            d = p - q
            norm = math.hypot(*d)
            if norm == 0:
                continue
            ext = p + d / norm * reach
            new = [ext[None], *new] if end == 0 else [*new, ext[None]]
            changed = True
        out.append(LineString(np.vstack(new)))
    if not out:
        return line, False
    return (out[0] if len(out) == 1 else MultiLineString(out)), changed


def _split_all(lines: np.ndarray, frame: BoxFrame, extend: bool) -> dict[str, Any]:
    """Split the box by every line (vectorised), extending the lines that do not separate it.

    Returns per line ``n_parts``, ``flags`` (lists) and ``ok`` (has a position), and the ice
    pieces of all lines with ``owner`` (the line each belongs to).
    """
    import shapely

    n = len(lines)
    present = np.zeros(n, bool)
    if n:
        present = ~shapely.is_missing(lines) & ~shapely.is_empty(lines)
    hits = present.copy()
    if present.any():
        shapely.prepare(frame.polygon)
        hits[present] = shapely.intersects(lines[present], frame.polygon)
    n_parts = np.where(present & ~hits, 1, 0).astype(int)
    flags: list[list[str]] = [
        [] if h else (["no_intersection"] if p else ["no_front"])
        for p, h in zip(present, hits, strict=False)
    ]
    ok = np.zeros(n, bool)
    ice_pieces: list[np.ndarray] = []
    owners: list[np.ndarray] = []

    def take(which: np.ndarray, res: Any, extended: bool) -> None:
        good = res.separates
        for k in np.flatnonzero(good):
            i = int(which[k])
            ok[i] = True
            n_parts[i] = int(res.n_parts[k])
            f = flags[i]
            if res.n_parts[k] > 2:
                f.append(f"multipart:{int(res.n_parts[k])}")
            if extended:
                f.append("extended")
            if res.up_ice[k] < 1.0 - 1e-6:
                f.append("crosses_upstream_edge")
            if res.dn_ocean[k] < 1.0 - 1e-6:
                f.append("crosses_downstream_edge")
            if res.ambiguous[k]:
                f.append("ambiguous_sides")
        sel = res.ice & good[res.line]
        ice_pieces.append(res.pieces[sel])
        owners.append(which[res.line[sel]])

    idx = np.flatnonzero(hits)
    first = split_box(lines[idx], frame)
    take(idx, first, False)
    failed = idx[~first.separates]
    n_parts[failed] = first.n_parts[~first.separates]
    if extend and len(failed):
        extended = [_extend_line(lines[i], frame.polygon, frame) for i in failed]
        changed = np.array([c for _, c in extended], bool)
        again = failed[changed]
        if len(again):
            second = split_box(np.asarray([g for g, c in extended if c], dtype=object), frame)
            take(again, second, True)
    for i in idx[~ok[idx]]:
        flags[i] = ["no_separation"]
    return {
        "n_parts": n_parts,
        "flags": flags,
        "ok": ok,
        "ice_pieces": np.concatenate(ice_pieces) if ice_pieces else np.empty(0, dtype=object),
        "owner": (np.concatenate(owners) if owners else np.zeros(0, dtype=np.intp)).astype(np.intp),
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


def retreat_box(
    fronts: Any,
    box: Any,
    *,
    crs: Any = None,
    upstream: Any = None,
    extend: bool = True,
    metres: str = "ground",
) -> pd.DataFrame:
    """Terminus position per date with the rectilinear-box method (Moon & Joughin 2008).

    See the module docstring for the rules (working CRS, upstream edge, 2-colouring of the
    pieces, width, ground metres) and :data:`FLAGS` for the flags. All fronts are split in a
    few vectorised shapely calls (:mod:`workbench.geo.retreat_split`).

    Parameters
    ----------
    fronts
        GeoDataFrame with ``date`` and (Multi)LineString geometry (predicted or reference
        fronts of one glacier), or a path for :func:`read_front_lines`.
    box
        Box polygon (shapely Polygon in the fronts' CRS, GeoSeries/GeoDataFrame, or file).
    crs
        Working CRS, where the box is split and its edges live (default: the box's CRS if
        metric, else local equal-area; ``"laea"``). It does not change the units.
    upstream
        Point near the upstream edge (box CRS), edge index, ``"right"``/``"left"`` (side of
        the lines the ice is on) or ``"convex"``; see :func:`box_frame`. Required (left out,
        the error lists the values that fit the box).
    extend
        Extend line ends that stop inside the box when the line does not separate the box
        (flag ``extended``); False: such lines get ``no_separation``.
    metres
        ``"ground"`` (default): positions in ground metres — areas in a local equal-area
        projection of the ellipsoid, the box length along it
        (:class:`~workbench.geo.retreat_ground.GroundMetres`); ``"map"``: in the working
        CRS's own metres (EPSG:3413's are 1.7 % short of ground metres at 76.6° N).

    Returns
    -------
    pandas.DataFrame
        ``date``, [``glacier``], ``position_m`` (m down flow from the upstream edge),
        ``change_m`` (since the first finite position), ``method`` ("box"), ``flags``,
        ``n_parts`` (pieces of the box). ``df.attrs``: ``crs`` (working CRS), ``metres``,
        ``distances`` (how they are measured, in words), ``box_width_m`` and
        ``box_length_m`` (in the metres of the positions), ``scale_factor`` (of the working
        CRS at the box), how the upstream edge was decided.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import LineString, box

    A front that leaves the box through a side edge and comes back cuts off a small
    triangle of ICE (it lies west of the line, like the main ice); it is counted as ice:

    >>> wiggle = LineString([(3000, -50), (3000, 1800), (2600, 1900), (2700, 2100),
    ...                      (2800, 1900), (2900, 2100)])
    >>> fr = gpd.GeoDataFrame({"date": ["2020-03-01"]}, geometry=[wiggle], crs=32633)
    >>> df = retreat_box(fr, box(0, 0, 6000, 2000), upstream=(0, 1000), metres="map")
    >>> float(df.position_m[0]), df["flags"][0], int(df.n_parts[0])   # (5942500 + 5000) m² / 2000 m
    (2973.75, 'multipart:3', 3)

    By default in ground metres (here, 500 km from UTM zone 33's central meridian, a map
    metre is 0.27 % longer than a ground metre):

    >>> round(float(retreat_box(fr, box(0, 0, 6000, 2000), upstream=(0, 1000)).position_m[0]), 1)
    2965.8
    """
    import shapely

    mode = _check_metres(metres)
    fr = _fronts_frame(fronts)
    frame, lines = _box_frame(box, fr, upstream, crs)
    res = _split_all(lines, frame, extend)
    k = _scale_factor(frame.crs, frame.polygon)
    ends = [
        np.asarray(e.interpolate(0.5, normalized=True).coords[0])
        for e in (frame.upstream_edge, frame.downstream_edge)
    ]
    ground = None
    if mode == "ground":
        ground = GroundMetres.around(frame.crs, frame.polygon)
        areas = ground.areas(np.concatenate([res["ice_pieces"], [frame.polygon]]))
        piece_areas, box_area = areas[:-1], float(areas[-1])
        length = ground.distance(*ends)
    else:
        piece_areas, box_area = shapely.area(res["ice_pieces"]), float(frame.polygon.area)
        length = frame.length_m
    width = float(box_area / length)
    ice_area = np.bincount(res["owner"], weights=piece_areas, minlength=len(lines))
    positions = np.where(res["ok"], ice_area / width, np.nan)
    df = _table(fr, positions, res["flags"], res["n_parts"], "box")
    df.attrs.update(
        {
            "method": "box",
            "crs": frame.crs.to_string(),
            "metres": mode,
            "distances": _describe_metres(mode, frame.crs, k, ground),
            "box_width_m": width,
            "box_length_m": float(length),
            "upstream": frame.upstream_source,
            "upstream_edge": frame.upstream_edge.wkt,
            "scale_factor": k,
        }
    )
    return df


# =========================================================================== centre line


def retreat_centreline(
    fronts: Any,
    centreline: Any,
    *,
    crs: Any = None,
    upstream: Any = None,
    metres: str = "ground",
) -> pd.DataFrame:
    """Terminus position per date along a glacier centre line.

    Position = distance along the centre line from its upstream end to its first
    intersection with the front walking down flow (where the line first leaves the ice);
    several intersections are flagged ``multi_intersection:N``. Without an intersection,
    the front is resampled evenly (about 500 points) and the mean of the points' distances
    along the centre line (``LineString.project``) is used, flagged ``snapped`` (plus
    ``beyond_centreline`` when some points project onto an end of the line).

    Parameters
    ----------
    fronts
        GeoDataFrame with ``date`` and line geometry, or a path for :func:`read_front_lines`.
    centreline
        LineString (in the fronts' CRS), GeoSeries/GeoDataFrame with one line, or a file.
        It must start upstream unless ``upstream`` is given.
    crs
        Working CRS (default: the centre line's CRS if metric, else local equal-area).
    upstream
        Optional point (centre-line CRS) near the upstream end; the line is reversed when its
        end is nearer to it than its start.
    metres
        ``"ground"`` (default): distances along the line on the ellipsoid (geodesic lengths of
        the densified line, :meth:`~workbench.geo.retreat_ground.GroundMetres.along`);
        ``"map"``: in the working CRS's own metres.

    Returns
    -------
    pandas.DataFrame
        As :func:`retreat_box`, with ``method`` "centreline" and ``n_parts`` = number of
        intersections (0 when snapped).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> fr = gpd.GeoDataFrame({"date": ["2020-03-01", "2020-09-01"]}, crs=32633,
    ...                       geometry=[LineString([(3000, 0), (3200, 1000), (3000, 2000)]),
    ...                                 LineString([(2000, 1400), (2100, 2000)])])
    >>> df = retreat_centreline(fr, LineString([(0, 1000), (6000, 1000)]), metres="map")
    >>> df[["position_m", "change_m", "flags"]].round(1).to_dict("list")
    {'position_m': [3200.0, 2050.0], 'change_m': [0.0, -1150.0], 'flags': ['', 'snapped']}

    In ground metres (the default; UTM's map metres are 0.27 % long this far from zone 33's
    central meridian):

    >>> retreat_centreline(fr, LineString([(0, 1000), (6000, 1000)])).position_m.round(1).tolist()
    [3191.5, 2044.5]
    """
    import shapely
    from shapely.geometry import Point

    mode = _check_metres(metres)
    fr = _fronts_frame(fronts)
    line, line_crs = _load_single(centreline, "centreline", fr.crs, ("LineString",))
    work = _working_crs(crs, line_crs, line)
    cl = _transform_geom(line, line_crs, work)
    xy = _upstream_point(upstream)
    if xy is not None:
        p = _transform_geom(Point(xy), line_crs, work)
        c = np.asarray(cl.coords)
        if Point(c[-1]).distance(p) < Point(c[0]).distance(p):
            cl = type(cl)(c[::-1])
    if cl.length <= 0:
        raise DataError("has zero length", variable="centreline", expected="a line")
    tol = 1e-9 * cl.length + 1e-9
    scale = _scale_factor(work, cl)
    ground, to_ground = None, (lambda d: np.asarray(d, dtype=float))
    if mode == "ground":
        ground = GroundMetres.around(work, cl)
        to_ground = ground.along_converter(cl)
    positions, flags, parts = [], [], []
    for g in fr.to_crs(work).geometry:
        f: list[str] = []
        if g is None or g.is_empty:
            positions.append(float("nan"))
            flags.append(["no_front"])
            parts.append(0)
            continue
        pts = _points(cl.intersection(g))
        if len(pts):
            d = np.sort(shapely.line_locate_point(cl, shapely.points(pts)))
            # distinct crossings: points closer than a millimetre-scale tolerance count once
            d = d[np.concatenate([[True], np.diff(d) > max(tol, 1e-6)])]
            if len(d) > 1:
                f.append(f"multi_intersection:{len(d)}")
            positions.append(float(to_ground(d.min())))
            parts.append(len(d))
        else:
            n = 500
            samples = []
            for part in _line_parts(g):
                k = max(2, int(round(n * part.length / max(g.length, 1e-12))))
                samples.append(shapely.line_interpolate_point(part, np.linspace(0, part.length, k)))
            pts_geom = np.concatenate(samples)
            d = shapely.line_locate_point(cl, pts_geom)
            f.append("snapped")
            if ((d <= tol) | (d >= cl.length - tol)).any():
                f.append("beyond_centreline")
            positions.append(float(np.mean(to_ground(d))))
            parts.append(0)
        flags.append(f)
    df = _table(fr, positions, flags, parts, "centreline")
    df.attrs.update(
        {
            "method": "centreline",
            "crs": work.to_string(),
            "metres": mode,
            "distances": _describe_metres(mode, work, scale, ground),
            "centreline_length_m": float(to_ground(cl.length)),
            "scale_factor": scale,
        }
    )
    return df


# =========================================================================== analysis


def _valid(df: pd.DataFrame) -> pd.DataFrame:
    if not {"date", "position_m"} <= set(df.columns):
        raise DataError(
            f"has columns {list(df.columns)}",
            variable="retreat table",
            expected="'date' and 'position_m' (from retreat_box/retreat_centreline)",
        )
    d = df[np.isfinite(df["position_m"].to_numpy(dtype=float))].copy()
    d["date"] = pd.to_datetime(d["date"])
    return d.sort_values("date", kind="stable")


def _smooth(dates: pd.Series, values: np.ndarray, days: float) -> np.ndarray:
    """Centred rolling median over a ``days``-long time window."""
    s = pd.Series(np.asarray(values, dtype=float), index=pd.DatetimeIndex(dates))
    if not s.index.is_unique:
        s = s.groupby(level=0).median()
        out = s.rolling(f"{int(days)}D", center=True, min_periods=1).median()
        return out.reindex(pd.DatetimeIndex(dates)).to_numpy()
    return s.rolling(f"{int(days)}D", center=True, min_periods=1).median().to_numpy()


def seasonal_summary(df: pd.DataFrame, *, smooth_days: int = 31) -> pd.DataFrame:
    """Per calendar year: seasonal maximum, the minimum after it, and their difference.

    Positions are first smoothed with a centred rolling median over ``smooth_days`` days (so
    that a single outlying front does not set the amplitude). For each year, ``max_m`` is
    the largest smoothed position (the most advanced front, usually in spring), ``min_m``
    the smallest smoothed position after it in the same year (the late-summer/autumn
    minimum), ``amplitude_m = max_m - min_m`` (seasonal retreat, peak to trough), and
    ``winter_change_m`` = this year's maximum minus the previous year's minimum (the
    re-advance over winter; NaN for the first year). Only rows with a finite position are
    used.

    Examples
    --------
    >>> dates = pd.date_range("2020-01-01", "2020-12-31", freq="7D")
    >>> pos = 1000 + 300 * np.cos(2 * np.pi * (dates.day_of_year - 120) / 365.25)
    >>> s = seasonal_summary(pd.DataFrame({"date": dates, "position_m": pos}))
    >>> int(s.loc[2020, "amplitude_m"]), s.loc[2020, "max_date"].month, s.loc[2020, "min_date"].month
    (595, 4, 10)
    """
    d = _valid(df)
    cols = [
        "n",
        "first",
        "last",
        "max_m",
        "max_date",
        "min_m",
        "min_date",
        "amplitude_m",
        "winter_change_m",
    ]
    if d.empty:
        return pd.DataFrame(columns=cols).rename_axis("year")
    d["smooth"] = _smooth(d["date"], d["position_m"].to_numpy(), smooth_days)
    rows = {}
    for year, g in d.groupby(d["date"].dt.year):
        i_max = int(np.argmax(g["smooth"].to_numpy()))
        after = g.iloc[i_max:]
        i_min = int(np.argmin(after["smooth"].to_numpy()))
        mx, mn = float(g["smooth"].iloc[i_max]), float(after["smooth"].iloc[i_min])
        rows[int(year)] = {
            "n": len(g),
            "first": g["date"].iloc[0],
            "last": g["date"].iloc[-1],
            "max_m": mx,
            "max_date": g["date"].iloc[i_max],
            "min_m": mn,
            "min_date": after["date"].iloc[i_min],
            "amplitude_m": mx - mn,
            "winter_change_m": (mx - rows[int(year) - 1]["min_m"])
            if int(year) - 1 in rows
            else float("nan"),
        }
    return pd.DataFrame.from_dict(rows, orient="index")[cols].rename_axis("year")


@dataclasses.dataclass(frozen=True)
class AnnualCycle:
    """Least-squares fit ``p(t) = offset + trend·t + a·cos(2πt) + b·sin(2πt)``, ``t`` in years.

    Attributes
    ----------
    amplitude_m, amplitude_se_m
        Semi-amplitude ``sqrt(a² + b²)`` (half the peak-to-trough range) and its standard
        error (delta method).
    peak_doy, trough_doy
        Day of year of the fitted maximum and minimum position.
    trend_m_per_yr, trend_se_m_per_yr
        Linear trend (negative: retreat) and its standard error.
    offset_m
        Fitted position at ``t0``.
    residual_std_m
        Standard deviation of the residuals.
    n
        Number of positions used.
    t0
        Time origin.
    """

    amplitude_m: float
    amplitude_se_m: float
    peak_doy: float
    trough_doy: float
    trend_m_per_yr: float
    trend_se_m_per_yr: float
    offset_m: float
    residual_std_m: float
    n: int
    t0: pd.Timestamp

    def predict(self, dates: Any, *, with_trend: bool = True) -> np.ndarray:
        """Fitted position (m) at ``dates`` (only the annual cycle if ``with_trend`` is False)."""
        t = (pd.DatetimeIndex(pd.to_datetime(dates)) - self.t0).days.to_numpy() / 365.25
        phase = 2 * np.pi * self.peak_doy / 365.25
        doy_t = (pd.DatetimeIndex(pd.to_datetime(dates)).day_of_year.to_numpy() - 1) / 365.25
        cycle = self.amplitude_m * np.cos(2 * np.pi * doy_t - phase)
        return (self.offset_m + self.trend_m_per_yr * t + cycle) if with_trend else cycle


def fit_annual_cycle(df: pd.DataFrame) -> AnnualCycle:
    """Fit a linear trend plus an annual sinusoid to the finite positions.

    The sinusoid is in calendar time (day of year), so ``peak_doy`` is comparable between
    glaciers. ``amplitude_m / amplitude_se_m`` is a signal-to-noise ratio for the seasonal
    cycle (> 3: clearly significant).

    Examples
    --------
    >>> dates = pd.date_range("2019-03-01", "2021-09-30", freq="6D")
    >>> doy = dates.day_of_year.to_numpy() - 1
    >>> pos = 5000 - 0.3 * (dates - dates[0]).days + 250 * np.cos(2 * np.pi * (doy - 120) / 365.25)
    >>> fit = fit_annual_cycle(pd.DataFrame({"date": dates, "position_m": pos}))
    >>> round(fit.amplitude_m), round(fit.peak_doy), round(fit.trend_m_per_yr)
    (250, 120, -110)
    """
    d = _valid(df)
    if len(d) < 5:
        raise DataError(
            f"has {len(d)} finite positions",
            variable="retreat table",
            expected="at least 5 to fit a trend and an annual cycle",
        )
    dates = pd.DatetimeIndex(d["date"])
    t0 = dates[0]
    t = (dates - t0).days.to_numpy() / 365.25
    w = 2 * np.pi * (dates.day_of_year.to_numpy() - 1) / 365.25
    x = np.column_stack([np.ones_like(t), t, np.cos(w), np.sin(w)])
    y = d["position_m"].to_numpy(dtype=float)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    dof = max(len(y) - 4, 1)
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.pinv(x.T @ x)
    a, b = coef[2], coef[3]
    amp = float(math.hypot(a, b))
    var_amp = (
        (a * a * cov[2, 2] + b * b * cov[3, 3] + 2 * a * b * cov[2, 3]) / amp**2
        if amp > 0
        else float(cov[2, 2])
    )
    peak = (math.atan2(b, a) % (2 * math.pi)) * 365.25 / (2 * math.pi)
    return AnnualCycle(
        amplitude_m=amp,
        amplitude_se_m=float(math.sqrt(max(var_amp, 0.0))),
        peak_doy=float(peak),
        trough_doy=float((peak + 365.25 / 2) % 365.25),
        trend_m_per_yr=float(coef[1]),
        trend_se_m_per_yr=float(math.sqrt(max(cov[1, 1], 0.0))),
        offset_m=float(coef[0]),
        residual_std_m=float(math.sqrt(s2)),
        n=len(y),
        t0=t0,
    )


def _flag_counts(df: pd.DataFrame) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in df["flags"].fillna(""):
        for item in filter(None, str(f).split(";")):
            key = item.split(":")[0]
            counts[key] = counts.get(key, 0) + 1
    return counts


def summarize_retreat(df: pd.DataFrame) -> str:
    """A short text summary: dates, net change, flagged dates (by flag).

    Examples
    --------
    >>> df = pd.DataFrame({"date": pd.to_datetime(["2020-03-01", "2020-09-01"]),
    ...                    "position_m": [3000.0, 2500.0], "change_m": [0.0, -500.0],
    ...                    "method": "box", "flags": ["", "multipart:3"], "n_parts": [2, 3]})
    >>> print(summarize_retreat(df))
    box method: 2 dates 2020-03-01..2020-09-01, 2 with a position
    position 3000 m -> 2500 m: net change -500 m (retreat)
    flagged: 1 of 2 dates (multipart: 1)
    """
    d = df.copy()
    d["date"] = pd.to_datetime(d["date"])
    v = _valid(d)
    method = str(d["method"].iloc[0]) if "method" in d and len(d) else "?"
    lines = [
        f"{method} method: {len(d)} dates "
        f"{d['date'].min():%Y-%m-%d}..{d['date'].max():%Y-%m-%d}, {len(v)} with a position"
    ]
    if len(v):
        first, last = float(v["position_m"].iloc[0]), float(v["position_m"].iloc[-1])
        net = last - first
        word = "retreat" if net < 0 else "advance" if net > 0 else "no change"
        lines.append(f"position {first:.0f} m -> {last:.0f} m: net change {net:+.0f} m ({word})")
    if df.attrs.get("metres") == "ground":
        lines.append(
            f"distances in ground metres (on the ellipsoid; the box and lines stay in "
            f"{df.attrs.get('crs', 'their CRS')})"
        )
    counts = _flag_counts(d)
    n_flagged = int((d["flags"].fillna("") != "").sum())
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    lines.append(f"flagged: {n_flagged} of {len(d)} dates" + (f" ({detail})" if detail else ""))
    k = df.attrs.get("scale_factor")
    if df.attrs.get("metres", "map") == "map" and k is not None and abs(float(k) - 1.0) > 0.005:
        k = float(k)
        lines.append(
            f"note: distances are map metres of {df.attrs.get('crs', '?')}, which has a "
            f"scale factor of {k:.4f} here: its metres are {abs(1 - k) * 100:.1f} % "
            f"{'shorter' if k < 1 else 'longer'} than on the ground (metres='ground', "
            "the default, or --metres ground, measures on the ellipsoid)"
        )
    return "\n".join(lines)


# =========================================================================== files


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


# =========================================================================== plotting

_YEAR_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
_MONTH_STARTS = [1, 32, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335]
_MONTHS = "JFMAMJJASOND"


def _segments(dates: pd.Series, max_gap_days: float) -> list[np.ndarray]:
    """Index arrays of runs of ``dates`` without a gap longer than ``max_gap_days``."""
    idx = pd.DatetimeIndex(dates)
    if len(idx) == 0:
        return []
    t = np.asarray((idx - idx[0]) / pd.Timedelta(days=1), dtype=float)
    breaks = np.nonzero(np.diff(t) > max_gap_days)[0] + 1
    return np.split(np.arange(len(t)), breaks)


def plot_retreat(
    df: pd.DataFrame,
    *,
    title: str | None = None,
    smooth_days: int = 31,
    max_gap_days: float = 60.0,
    figsize: tuple[float, float] = (12.5, 8.5),
) -> Figure:
    """Retreat curve with its seasonal cycle, as a matplotlib Figure (object API only).

    Panels:

    * top: terminus position change through time (left axis) and position in the box /
      along the centre line (right axis); points coloured per year; a centred running
      median over ``smooth_days`` days (black), broken where fronts are missing for more
      than ``max_gap_days`` (shaded, e.g. the polar night for optical data); flagged dates
      as hollow red diamonds; per year a bracket from the smoothed seasonal maximum to the
      following minimum, labelled with the seasonal retreat (:func:`seasonal_summary`);
    * bottom left: the years overlaid by day of year, each relative to its first front,
      so seasonal cycles can be compared without the long-term trend (days of the year
      without fronts in any year shaded);
    * bottom right: positions minus the fitted linear trend by day of year, with the
      fitted annual sinusoid (:func:`fit_annual_cycle`) and its amplitude ± standard error.

    Examples
    --------
    >>> dates = pd.date_range("2019-03-01", "2020-10-30", freq="9D")
    >>> pos = 4000 - 200 * np.sin(2 * np.pi * (dates.day_of_year - 150) / 365.25)
    >>> df = pd.DataFrame({"date": dates, "position_m": pos, "change_m": pos - pos[0],
    ...                    "method": "box", "flags": "", "n_parts": 2})
    >>> fig = plot_retreat(df, title="demo")
    >>> len(fig.axes)                      # (the top panel's position axis is a child axis)
    3
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    d = df.copy()
    d["date"] = pd.to_datetime(d["date"])
    if "flags" not in d:
        d["flags"] = ""
    d["flags"] = d["flags"].fillna("").astype(str)
    v = _valid(d).reset_index(drop=True)
    if v.empty:
        raise DataError(
            "has no finite position to plot",
            variable="retreat table",
            expected="at least one date with a position",
        )
    if "change_m" not in v:
        v["change_m"] = v["position_m"] - v["position_m"].iloc[0]
    ref = float((v["position_m"] - v["change_m"]).median())
    v["smooth"] = _smooth(v["date"], v["change_m"].to_numpy(), smooth_days)
    years = sorted(v["date"].dt.year.unique())
    colour = {y: _YEAR_COLOURS[i % len(_YEAR_COLOURS)] for i, y in enumerate(years)}
    flagged = (v["flags"] != "").to_numpy()
    n_nan = len(d) - len(v)
    method = str(d["method"].iloc[0]) if "method" in d else ""
    runs = _segments(v["date"], max_gap_days)

    fig = Figure(figsize=figsize, layout="constrained")
    gs = fig.add_gridspec(2, 2, height_ratios=[1.2, 1])
    ax = fig.add_subplot(gs[0, :])
    ax_doy = fig.add_subplot(gs[1, 0])
    ax_an = fig.add_subplot(gs[1, 1])

    # --- time series ------------------------------------------------------------------
    gaps = []
    for r0, r1 in zip(runs[:-1], runs[1:], strict=False):
        x0, x1 = v["date"].iloc[r0[-1]], v["date"].iloc[r1[0]]
        ax.axvspan(x0, x1, color="0.92", zorder=0)
        gaps.append((x0, x1))
    for y in years:
        sel = ((v["date"].dt.year == y).to_numpy()) & ~flagged
        ax.scatter(
            v.loc[sel, "date"],
            v.loc[sel, "change_m"],
            s=24,
            color=colour[y],
            edgecolor="white",
            linewidth=0.4,
            zorder=3,
        )
    ax.scatter(
        v.loc[flagged, "date"],
        v.loc[flagged, "change_m"],
        s=52,
        marker="D",
        facecolor="none",
        edgecolor="#d62728",
        linewidth=1.4,
        zorder=4,
    )
    for run in runs:
        ax.plot(v["date"].iloc[run], v["smooth"].iloc[run], color="black", lw=1.8, zorder=2)
    ax.axhline(0.0, color="0.55", lw=0.8, ls=":")
    summary = seasonal_summary(v.assign(position_m=v["change_m"]), smooth_days=smooth_days)
    for year, row in summary.iterrows():
        if not (row["amplitude_m"] > 0 and row["min_date"] > row["max_date"]):
            continue
        c = colour.get(year, "0.3")
        ax.hlines(
            row["max_m"],
            row["max_date"],
            row["min_date"],
            colors=c,
            lw=1.0,
            ls="--",
            alpha=0.9,
            zorder=1,
        )
        ax.annotate(
            "",
            xy=(row["min_date"], row["min_m"]),
            xytext=(row["min_date"], row["max_m"]),
            arrowprops={"arrowstyle": "-|>", "color": c, "lw": 1.6, "shrinkA": 0, "shrinkB": 0},
            zorder=5,
        )
        ax.annotate(
            f"{year}: −{row['amplitude_m']:.0f} m",
            xy=(row["min_date"], 0.5 * (row["max_m"] + row["min_m"])),
            xytext=(6, 0),
            textcoords="offset points",
            fontsize=9.5,
            color=c,
            fontweight="bold",
            va="center",
        )
    ax.set_ylabel("position change since first front (m)\n+ advance, − retreat")
    sec = ax.secondary_yaxis("right", functions=(lambda y: y + ref, lambda p: p - ref))
    sec.set_ylabel(
        "m down flow from " + ("the box's upstream edge" if method == "box" else "the line's start")
    )
    net = float(v["change_m"].iloc[-1] - v["change_m"].iloc[0])
    ax.set_title(
        f"{len(v)} fronts {v['date'].iloc[0]:%Y-%m-%d} – {v['date'].iloc[-1]:%Y-%m-%d}, "
        f"net change {net:+.0f} m; brackets: seasonal retreat (smoothed maximum → "
        "following minimum)",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    span = (v["date"].iloc[-1] - v["date"].iloc[0]) + pd.Timedelta(days=1)
    ax.set_xlim(v["date"].iloc[0] - 0.02 * span, v["date"].iloc[-1] + 0.13 * span)
    handles = [Line2D([], [], marker="o", ls="", color=colour[y], label=str(y)) for y in years]
    handles.append(Line2D([], [], color="black", lw=1.8, label=f"{smooth_days}-day running median"))
    if flagged.any():
        counts = _flag_counts(v)
        detail = ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
        handles.append(
            Line2D(
                [],
                [],
                marker="D",
                ls="",
                markerfacecolor="none",
                markeredgecolor="#d62728",
                label=f"flagged: {detail}",
            )
        )
    if gaps:
        handles.append(Patch(color="0.92", label=f"no fronts for > {max_gap_days:.0f} days"))
    if n_nan:
        handles.append(Line2D([], [], ls="", label=f"{n_nan} dates without a position"))
    ax.legend(handles=handles, loc="lower left", fontsize=8.5, ncol=2, framealpha=0.9)

    # --- years overlaid, each relative to its first front -------------------------------
    doy = v["date"].dt.day_of_year.to_numpy()
    for y in years:
        sel = (v["date"].dt.year == y).to_numpy()
        base = float(v.loc[sel, "smooth"].iloc[0])
        ax_doy.scatter(
            doy[sel],
            v.loc[sel, "change_m"] - base,
            s=12,
            color=colour[y],
            alpha=0.5,
            edgecolor="none",
        )
        ax_doy.plot(doy[sel], v.loc[sel, "smooth"] - base, color=colour[y], lw=2.2, label=str(y))
    ax_doy.axhline(0.0, color="0.55", lw=0.8, ls=":")
    ax_doy.set_title("seasonal cycle: each year relative to its first front", fontsize=10)
    ax_doy.set_ylabel("position change in the year (m)")

    # --- trend removed, with the fitted annual cycle -------------------------------------
    try:
        fit = fit_annual_cycle(v)
    except DataError:
        fit = None
    if fit is not None:
        t = (pd.DatetimeIndex(v["date"]) - fit.t0).days.to_numpy() / 365.25
        anomaly = v["position_m"].to_numpy() - (fit.offset_m + fit.trend_m_per_yr * t)
        for y in years:
            sel = (v["date"].dt.year == y).to_numpy()
            ax_an.scatter(
                doy[sel],
                anomaly[sel],
                s=14,
                color=colour[y],
                alpha=0.8,
                edgecolor="none",
                label=str(y),
            )
        grid = pd.date_range("2001-01-01", "2001-12-31", freq="D")
        ax_an.plot(
            grid.day_of_year,
            fit.predict(grid, with_trend=False),
            color="black",
            lw=2,
            label="annual sinusoid fit",
        )
        ax_an.axhline(0.0, color="0.55", lw=0.8, ls=":")
        ax_an.set_title(
            f"trend removed ({fit.trend_m_per_yr:+.0f} ± {fit.trend_se_m_per_yr:.0f} m/yr): "
            f"annual cycle ±{fit.amplitude_m:.0f} ± {fit.amplitude_se_m:.0f} m, "
            f"maximum on day {fit.peak_doy:.0f}",
            fontsize=10,
        )
        ax_an.set_ylabel("position − linear trend (m)")
        ax_an.legend(fontsize=8, loc="lower left")
    # day-of-year ranges without a front in any year (e.g. the polar night for optical data)
    seen = np.unique(doy)
    ext = np.concatenate([seen, [seen[0] + 366]])
    for a in (ax_doy, ax_an):
        for lo, hi in zip(ext[:-1], ext[1:], strict=False):
            if hi - lo > max_gap_days / 2:
                a.axvspan(lo, min(hi, 366), color="0.92", zorder=0)
                if hi > 366:
                    a.axvspan(1, hi - 366, color="0.92", zorder=0)
    for a in (ax_doy, ax_an):
        a.set_xlim(1, 366)
        a.set_xticks(_MONTH_STARTS)
        a.set_xticklabels(list(_MONTHS))
        a.set_xlabel("month")
        a.grid(alpha=0.3)
    ax_doy.legend(fontsize=8, loc="lower left")
    name = title
    if name is None:
        g = str(d["glacier"].iloc[0]) if "glacier" in d and len(d) else "terminus"
        name = g.replace("_", " ")
    fig.suptitle(
        f"{name}: terminus position" + (f" ({method} method)" if method else ""),
        fontsize=13,
        fontweight="bold",
    )
    return fig


def retreat_products(
    fronts: Any,
    out_dir: str | os.PathLike[str],
    *,
    box: Any = None,
    centreline: Any = None,
    upstream: Any = None,
    crs: Any = None,
    title: str | None = None,
    table_format: str = "csv",
    dpi: int = 110,
    metres: str = "ground",
) -> dict[str, Any]:
    """Retreat table and figure in one call (what ``workbench retreat`` runs).

    Measures with :func:`retreat_box` (``box``) or :func:`retreat_centreline`
    (``centreline``), then writes ``OUT/retreat_<method>.<csv|parquet>`` and
    ``OUT/retreat_<method>.png``, each atomically, only after everything was computed.

    Parameters
    ----------
    fronts
        GeoDataFrame or a path for :func:`read_front_lines`.
    out_dir
        Output folder (created).
    box, centreline
        Exactly one of them (geometry, GeoSeries/GeoDataFrame or file).
    upstream
        For the box: required (see :func:`box_frame`); a string of digits is an edge index.
        For the centre line: optional point to orient it.
    crs, title, table_format, dpi
        Working CRS, figure title, ``"csv"`` or ``"parquet"``, figure resolution.
    metres
        ``"ground"`` (default, metres on the ellipsoid) or ``"map"`` (the working CRS's).

    Returns
    -------
    dict
        ``{"table": Path, "figure": Path, "retreat": DataFrame, "summary": str}``.

    Examples
    --------
    >>> import tempfile, pathlib, geopandas as gpd
    >>> from shapely.geometry import LineString, box
    >>> fronts = gpd.GeoDataFrame({"date": pd.date_range("2020-03-01", periods=8, freq="30D")},
    ...     crs=32633, geometry=[LineString([(3000 - 50 * i, -100), (3000 - 50 * i, 2100)]) for i in range(8)])
    >>> res = retreat_products(fronts, pathlib.Path(tempfile.mkdtemp()), box=box(0, 0, 6000, 2000),
    ...                        upstream="0,1000", dpi=30)
    >>> res["table"].name, res["figure"].name, round(float(res["retreat"].change_m.iloc[-1]), 2)
    ('retreat_box.csv', 'retreat_box.png', -349.07)
    """
    if (box is None) == (centreline is None):
        raise DataError(
            "needs exactly one of box and centreline",
            variable="method",
            expected="box=... (rectilinear box) or centreline=... (centre line)",
        )
    if table_format not in ("csv", "parquet"):
        raise DataError(
            f"is {table_format!r}", variable="table_format", expected="'csv' or 'parquet'"
        )
    _check_metres(metres)
    fr = _fronts_frame(fronts)
    if isinstance(upstream, str) and upstream.strip().isdigit():
        upstream = int(upstream.strip())
    if box is not None:
        df = retreat_box(fr, box, crs=crs, upstream=upstream, metres=metres)
    else:
        df = retreat_centreline(fr, centreline, crs=crs, upstream=upstream, metres=metres)
    method = str(df["method"].iloc[0])
    if not np.isfinite(df["position_m"].to_numpy(float)).any():
        flags = sorted({f for fl in df["flags"] for f in str(fl).split(";") if f})
        where = box if box is not None else centreline
        raise DataError(
            f"gives no position for any of its {len(df)} fronts: none of them "
            f"crosses the {'box' if box is not None else 'centre line'} "
            f"{where if isinstance(where, (str, os.PathLike)) else ''} "
            f"(flags: {', '.join(flags) or 'none'})".replace("  ", " "),
            path=fronts if isinstance(fronts, (str, os.PathLike)) else None,
            variable="fronts",
            expected="fronts that cross the box/centre line, in the same area "
            "(check both files' CRS and location)",
        )
    fig = plot_retreat(df, title=title)
    out = Path(out_dir)
    table = out / f"retreat_{method}.{table_format}"
    figure = out / f"retreat_{method}.png"
    write_retreat_table(df, table)
    with atomic_path(figure) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    summary = summarize_retreat(df)
    if "upstream" in df.attrs:
        summary += f"\nupstream edge: {df.attrs['upstream']}"
    return {"table": table, "figure": figure, "retreat": df, "summary": summary}


def _main() -> None:  # pragma: no cover - regenerates docs/retreat_harald_moltke.png
    import sys

    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data/harald-moltke-brae")
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("docs/retreat_harald_moltke.png")
    fronts = read_front_lines(root / "lines")
    # the lines have the ice on their right (as workbench fronts); the basemap agrees: the
    # upstream edge is the eastern short edge, midpoint (-561932, -1346904) in EPSG:3413
    df = retreat_box(fronts, root / "box" / "harald_moltke_brae.shp", upstream="right")
    print(summarize_retreat(df))
    print(df.attrs["upstream"])
    print(seasonal_summary(df).to_string(float_format=lambda v: f"{v:.1f}"))
    fit = fit_annual_cycle(df)
    print(fit)
    print(
        summarize_retreat(
            retreat_box(
                fronts, root / "box" / "harald_moltke_brae.shp", upstream="right", metres="map"
            )
        )
    )
    fig = plot_retreat(df, title="Harald Moltke Bræ (NW Greenland)")
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    print(f"wrote {out}")


if __name__ == "__main__":  # pragma: no cover
    _main()
