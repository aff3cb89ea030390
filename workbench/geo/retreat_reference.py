"""A faithful re-implementation of the published rectilinear-box loop, for tests and benchmarks.

The reference is ``box_method.py`` of Erik Loebel's *rectilinear-box-method*
(https://github.com/eloebel/rectilinear-box-method, MIT licence, the code that comes with
the Harald Moltke Bræ lines in ``../shared/data/harald-moltke-brae``). Per front line, in a
Python loop, it:

1. splits the box with ``shapely.ops.split(box, line)``;
2. transforms the whole split result from the lines' CRS to EPSG:4326 with one
   ``pyproj.Transformer`` (built once, before the loop);
3. takes the **first** piece (``geoms[0]``), builds an Albers equal-area projection with
   standard parallels at the piece's southern and northern latitudes, and projects the piece
   (the published code calls the deprecated ``pyproj.transform(Proj("+proj=latlon"),
   Proj(proj="aea", lat_1=..., lat_2=...))``, i.e. a new transformer per front;
   ``Transformer.from_proj`` is the same operation without the deprecation warning — the
   tests check that the areas are bit-identical where ``pyproj.transform`` still exists);
4. keeps its planar area: the area of the first piece on the ellipsoid, in m².

After the loop it turns the areas into a change since the first date, assuming the glacier
retreats: ``area - area[0]`` if the first area is not smaller than the last, else
``area[0] - area`` (:func:`published_area_change`). It reports km²; here it stays in m².

This module is not what the workbench uses (see :func:`workbench.geo.retreat.retreat_box`);
it exists so that the workbench can be checked, and timed, against the published method.

Examples
--------
>>> import numpy as np
>>> from shapely.geometry import LineString, box
>>> b = box(-565000, -1345800, -563000, -1343800)                    # EPSG:3413, 76.6° N
>>> lines = [LineString([(-564000, -1345900), (-564000, -1343700)]),
...          LineString([(-564500, -1345900), (-564500, -1343700)])]
>>> area = published_box_areas(lines, b, "EPSG:3413")
>>> (area / 1e6).round(4).tolist()          # the first piece is the eastern one, km² of ground
[2.0688, 3.1031]
>>> (published_area_change(area) / 1e6).round(4).tolist()   # 1 km² of map, 1.0344 km² of ground
[0.0, -1.0344]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["published_box_areas", "published_area_change"]


def published_box_areas(lines: Sequence[Any], box: Any, crs: Any) -> np.ndarray:
    """Per line: the ellipsoidal area (m²) of the first piece of the split box, as published.

    Parameters
    ----------
    lines
        Front lines (shapely LineStrings) in ``crs``, one per date.
    box
        The box (shapely Polygon) in ``crs``.
    crs
        Their CRS (the published code takes an EPSG code, e.g. 3413).

    Examples
    --------
    >>> from shapely.geometry import LineString, box
    >>> area = published_box_areas([LineString([(0.5, -1), (0.5, 2)])], box(0, 0, 1, 1), 4326)
    >>> round(float(area[0]) / 1e6, 1)                 # half of a 1° × 1° cell at the equator
    6154.2
    """
    import warnings

    import pyproj
    import shapely.ops
    from shapely.ops import split

    transform = getattr(shapely.ops, "transform", None)
    if transform is None:  # pragma: no cover - shapely without the deprecated ops.transform

        def transform(func: Any, geom: Any) -> Any:
            return shapely.transform(geom, func, interleaved=False)

    to_wgs84 = pyproj.Transformer.from_crs(
        pyproj.CRS.from_user_input(crs), pyproj.CRS("EPSG:4326"), always_xy=True
    ).transform
    area = np.zeros(len(lines))
    with warnings.catch_warnings():  # shapely >= 2.2 deprecates ops.transform, which it calls
        warnings.simplefilter("ignore", DeprecationWarning)
        for i, line in enumerate(lines):
            pieces = split(box, line)
            first = transform(to_wgs84, pieces).geoms[0]
            aea = pyproj.Proj(proj="aea", lat_1=first.bounds[1], lat_2=first.bounds[3])
            to_aea = pyproj.Transformer.from_proj(pyproj.Proj("+proj=latlon"), aea)
            area[i] = transform(to_aea.transform, first).area
    return area


def published_area_change(area: np.ndarray) -> np.ndarray:
    """The published change since the first date (m²), assuming that the glacier retreats.

    Examples
    --------
    >>> published_area_change(np.array([5.0, 6.0, 8.0])).tolist()      # piece 0 grows
    [0.0, -1.0, -3.0]
    >>> published_area_change(np.array([8.0, 6.0, 5.0])).tolist()      # piece 0 shrinks
    [0.0, -2.0, -3.0]
    """
    area = np.asarray(area, dtype=float)
    return area - area[0] if area[0] >= area[-1] else area[0] - area
