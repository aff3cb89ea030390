"""The centre-line method: :func:`retreat_centreline`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.errors import DataError
from workbench.geo.retreat.frame import _points, _upstream_point
from workbench.geo.retreat.reading import (
    _fronts_frame,
    _line_parts,
    _load_single,
    _transform_geom,
    _working_crs,
)
from workbench.geo.retreat.table import _check_metres, _describe_metres, _scale_factor, _table
from workbench.geo.retreat_ground import GroundMetres

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["retreat_centreline"]


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
