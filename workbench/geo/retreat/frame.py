"""Which edge of a fjord box is upstream: :func:`box_frame` decides it geometrically (a point,
an edge index, or the side convention of the lines), never by assumption.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import DataError
from workbench.geo.retreat.reading import (
    _fronts_frame,
    _line_parts,
    _load_single,
    _transform_geom,
    _working_crs,
)

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pyproj
    from shapely.geometry import LineString, Polygon

__all__ = ["BoxFrame", "box_frame"]


_BULGE_MIN = 0.005  # |bulge| / box width below this: the front does not vote
_VOTE_MAJORITY = 0.6  # share of voting fronts that must agree on the downstream edge


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
