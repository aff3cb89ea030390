"""Retreat curves from dated calving-front lines: rectilinear box and centre line.

Implements docs/science.md §5 (retreat curves) for any collection of dated front
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

Layout
------
:mod:`~.reading` (front lines and inputs), :mod:`~.frame` (which box edge is upstream),
:mod:`~.box`, :mod:`~.centreline`, :mod:`~.table` (flags, metres, CSV/Parquet),
:mod:`~.analysis` (seasonal), :mod:`~.plot` and :mod:`~.products`; every public name is
importable from here.

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

from workbench.geo.retreat.analysis import (
    AnnualCycle,
    fit_annual_cycle,
    seasonal_summary,
    summarize_retreat,
)
from workbench.geo.retreat.box import retreat_box
from workbench.geo.retreat.centreline import retreat_centreline
from workbench.geo.retreat.frame import BoxFrame, box_frame
from workbench.geo.retreat.plot import plot_retreat
from workbench.geo.retreat.products import retreat_products
from workbench.geo.retreat.reading import read_front_lines
from workbench.geo.retreat.table import FLAGS, read_retreat_table, write_retreat_table

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
