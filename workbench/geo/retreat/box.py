"""The rectilinear-box method (Moon & Joughin 2008): :func:`retreat_box`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.geo.retreat.frame import BoxFrame, _box_frame
from workbench.geo.retreat.reading import _fronts_frame, _line_parts
from workbench.geo.retreat.table import _check_metres, _describe_metres, _scale_factor, _table
from workbench.geo.retreat_ground import GroundMetres
from workbench.geo.retreat_split import split_box

if TYPE_CHECKING:  # pragma: no cover
    from shapely.geometry import Polygon

__all__ = ["retreat_box"]


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
