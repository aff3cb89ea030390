"""Ground metres for retreat curves: areas and lengths on the ellipsoid, whatever the map CRS.

A map CRS's metres are not ground metres away from its true scale: EPSG:3413 (polar
stereographic, true at 70° N) has a scale factor of 0.983 at Harald Moltke Bræ (76.6° N), so
its metres are 1.7 % short of the ground. The box and the lines stay in their own CRS (that is
where they are split and drawn, edges straight in that CRS); only the *measuring* is done on
the ground:

* **areas**: the ground area of a polygon drawn in a projected CRS is the integral, over its
  map area, of ``1 / areal_scale`` (PROJ's areal scale factor, map area per ground area,
  from :meth:`pyproj.Proj.get_factors`). Over a glacier box that factor is smooth: it is
  fitted by a quadratic in x, y from 25 exact values, the fit is checked at 16 other points
  (it must agree to 1e-9), and the quadratic is integrated *exactly* over each polygon from
  its vertices (Green's theorem: the polygon's area, first and second moments). Where the
  check fails (a very large box) or the CRS is not in metres, the polygons are densified and
  projected into a local Lambert azimuthal equal-area projection of the same ellipsoid
  instead. On Harald Moltke Bræ both agree to 0.001 m² per piece;
* **lengths**: geodesics on the ellipsoid with :class:`pyproj.Geod` (between points; summed
  along a densified line for a centre line).

Examples
--------
>>> from shapely.geometry import box
>>> b = box(-565000, -1345800, -563000, -1343800)    # 2 km × 2 km of EPSG:3413 map, 76.6° N
>>> g = GroundMetres.around("EPSG:3413", b)
>>> round(float(g.areas([b])[0]) / b.area, 4)                       # (1 / 0.9832)²
1.0344
>>> round(g.distance((-565000, -1345800), (-563000, -1345800)), 1)   # 2000 map metres
2034.0
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["GroundMetres", "polygon_moments"]

#: Largest relative error of the quadratic fit of 1 / areal scale (checked on every box).
FIT_TOLERANCE = 1e-9


def _quadratic_terms(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones_like(u), u, v, u * u, u * v, v * v])


def polygon_moments(polygons: np.ndarray, centre: tuple[float, float], scale: float) -> np.ndarray:
    """Per polygon: ∫∫ (1, u, v, u², uv, v²) du dv, with ``u, v = (x, y) - centre) / scale``.

    Exact for polygons with straight edges (holes subtract, whichever way the rings run), from
    the vertices by Green's theorem. Shape ``(n, 6)``.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> polygon_moments(np.array([box(0, 0, 2, 1)]), (0.0, 0.0), 1.0).round(4).tolist()
    [[2.0, 2.0, 1.0, 2.6667, 1.0, 0.6667]]
    >>> holed = box(0, 0, 4, 4).difference(box(1, 1, 2, 2))
    >>> polygon_moments(np.array([holed]), (0.0, 0.0), 1.0)[:, 0].tolist()     # 16 - 1
    [15.0]
    """
    import shapely

    rings, owner = shapely.get_rings(np.asarray(polygons, dtype=object), return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    u = (xy[:, 0] - centre[0]) / scale
    v = (xy[:, 1] - centre[1]) / scale
    edge = np.flatnonzero(ring[:-1] == ring[1:])
    x0, y0, x1, y1 = u[edge], v[edge], u[edge + 1], v[edge + 1]
    c = x0 * y1 - x1 * y0
    terms = np.column_stack(
        [
            c / 2,
            c * (x0 + x1) / 6,
            c * (y0 + y1) / 6,
            c * (x0 * x0 + x0 * x1 + x1 * x1) / 12,
            c * (x0 * y1 + 2 * x0 * y0 + 2 * x1 * y1 + x1 * y0) / 24,
            c * (y0 * y0 + y0 * y1 + y1 * y1) / 12,
        ]
    )
    # orientation: exterior rings count positive, holes negative, whichever way they run
    signed_area = np.bincount(ring[edge], weights=terms[:, 0], minlength=len(rings))
    exterior = np.r_[True, owner[1:] != owner[:-1]] if len(rings) else np.zeros(0, bool)
    sign = np.where(exterior, 1.0, -1.0) * np.sign(signed_area)
    weight = sign[ring[edge]]
    who = owner[ring[edge]]
    return np.column_stack(
        [np.bincount(who, weights=t * weight, minlength=len(polygons)) for t in terms.T]
    )


@dataclasses.dataclass(frozen=True)
class GroundMetres:
    """Measures geometries given in ``crs`` on the ground (its ellipsoid).

    Build it with :meth:`around`. Attributes: ``crs`` (the CRS of the geometries, a
    :class:`pyproj.CRS`), ``equal_area`` (PROJ string of the local equal-area projection used
    when the areal-scale fit does not apply), ``geod`` (the ellipsoid, :class:`pyproj.Geod`),
    ``fit_error`` (relative error of the areal-scale fit at the check points; ``nan``: not
    fitted, areas come from the equal-area projection).
    """

    crs: Any
    equal_area: str
    geod: Any
    fit_error: float
    _to_lonlat: Any = dataclasses.field(repr=False)
    _to_equal_area: Any = dataclasses.field(repr=False)
    _fit: tuple[tuple[float, float], float, np.ndarray] | None = dataclasses.field(repr=False)

    @classmethod
    def around(cls, crs: Any, geometry: Any) -> GroundMetres:
        """Ground measures for geometries in ``crs`` lying within the bounds of ``geometry``.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> g = GroundMetres.around(32633, box(499000, 8699000, 501000, 8701000))
        >>> g.equal_area.split()[:3], g.fit_error < 1e-9
        (['+proj=laea', '+lat_0=78.373026', '+lon_0=15.000000'], True)
        """
        import pyproj

        from workbench.geo.crs import as_crs, is_metric

        src = as_crs(crs)
        geodetic = src.geodetic_crs or pyproj.CRS("EPSG:4326")
        to_lonlat = pyproj.Transformer.from_crs(src, geodetic, always_xy=True)
        c = geometry.centroid
        lon, lat = to_lonlat.transform(c.x, c.y)
        geod = geodetic.get_geod() or pyproj.Geod(ellps="WGS84")
        b = geod.a * (1.0 - geod.f)
        laea = (
            f"+proj=laea +lat_0={lat:.6f} +lon_0={lon:.6f} +x_0=0 +y_0=0 "
            f"+a={geod.a!r} +b={b!r} +units=m +no_defs"
        )
        x0, y0, x1, y1 = geometry.bounds
        size = max(x1 - x0, y1 - y0)
        fit, error = None, float("nan")
        if is_metric(src) and size > 0:
            centre, half = (0.5 * (x0 + x1), 0.5 * (y0 + y1)), 0.5 * size
            proj = pyproj.Proj(src)

            def inverse_scale(u: np.ndarray, v: np.ndarray) -> np.ndarray:
                lon_, lat_ = to_lonlat.transform(centre[0] + half * u, centre[1] + half * v)
                return 1.0 / np.asarray(proj.get_factors(lon_, lat_).areal_scale, dtype=float)

            gu, gv = (g.ravel() for g in np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5)))
            coef, *_ = np.linalg.lstsq(_quadratic_terms(gu, gv), inverse_scale(gu, gv), rcond=None)
            cu, cv = (
                g.ravel()
                for g in np.meshgrid(np.linspace(-0.75, 0.75, 4), np.linspace(-0.75, 0.75, 4))
            )
            exact = inverse_scale(cu, cv)
            error = float(np.max(np.abs(_quadratic_terms(cu, cv) @ coef - exact) / exact))
            if np.isfinite(error) and error <= FIT_TOLERANCE:
                fit = (centre, half, coef)
        return cls(
            crs=src,
            equal_area=laea,
            geod=geod,
            fit_error=error,
            _to_lonlat=to_lonlat,
            _to_equal_area=pyproj.Proj(laea),
            _fit=fit,
        )

    def _lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self._to_lonlat.transform(np.asarray(x, float), np.asarray(y, float))
        return np.asarray(lon), np.asarray(lat)

    def to_equal_area(self, geoms: Any) -> np.ndarray:
        """The geometries (array-like) in the local equal-area projection (one call for all)."""
        import shapely

        def project(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return self._to_equal_area(*self._lonlat(x, y))

        return shapely.transform(np.asarray(geoms, dtype=object), project, interleaved=False)

    def areas(self, polygons: Any) -> np.ndarray:
        """Ground area (m²) of each polygon (edges straight in ``crs``).

        Examples
        --------
        >>> from shapely.geometry import box
        >>> g = GroundMetres.around(4326, box(-0.01, -0.01, 0.01, 0.01))   # degrees: no fit
        >>> round(float(g.areas([box(-0.01, -0.01, 0.01, 0.01)])[0]) / 1e6, 3)   # km²
        4.924
        """
        import shapely

        polygons = np.asarray(polygons, dtype=object)
        if self._fit is not None:
            centre, half, coef = self._fit
            return polygon_moments(polygons, centre, half) @ coef * half * half
        x0, y0, x1, y1 = shapely.bounds(polygons).T
        step = np.maximum(np.fmax(x1 - x0, y1 - y0) / 200.0, 1e-12)  # map edges stay straight
        return shapely.area(self.to_equal_area(shapely.segmentize(polygons, step)))

    def distance(self, a: Any, b: Any) -> float:
        """Geodesic distance (m) between two points ``(x, y)`` given in ``crs``.

        Examples
        --------
        >>> from shapely.geometry import Point
        >>> round(GroundMetres.around(4326, Point(0, 0)).distance((0, 0), (1, 0)), 1)
        111319.5
        """
        lon, lat = self._lonlat(np.array([a[0], b[0]]), np.array([a[1], b[1]]))
        return float(self.geod.inv(lon[0], lat[0], lon[1], lat[1])[2])

    def along(self, line: Any, distances: Any, *, step_m: float = 25.0) -> np.ndarray:
        """Ground distances along ``line`` of the points at map ``distances`` along it.

        The line is densified (at most ``step_m`` map metres between vertices, at most 20,000
        vertices), the geodesic lengths of its pieces summed, and the map distances
        interpolated onto them. For many calls on one line, use :meth:`along_converter`.

        Examples
        --------
        >>> from shapely.geometry import LineString
        >>> line = LineString([(0, 0), (2, 0)])                    # 2° of the equator
        >>> g = GroundMetres.around(4326, line)
        >>> g.along(line, [1.0, 2.0]).round(0).tolist()
        [111319.0, 222639.0]
        """
        return self.along_converter(line, step_m=step_m)(distances)

    def along_converter(self, line: Any, *, step_m: float = 25.0) -> Callable[[Any], np.ndarray]:
        """A function turning map distances along ``line`` into ground distances (:meth:`along`).

        Examples
        --------
        >>> from shapely.geometry import LineString
        >>> line = LineString([(-565000, -1345000), (-561000, -1345000)])   # EPSG:3413, 76.6° N
        >>> to_ground = GroundMetres.around(3413, line).along_converter(line)
        >>> float(to_ground(4000.0).round(1))                               # 4 km of map
        4068.2
        """
        import shapely

        if line.length == 0:
            return lambda d: np.zeros_like(np.asarray(d, dtype=float))
        step = max(step_m, line.length / 20000.0) if self.crs.is_projected else line.length / 2000.0
        xy = shapely.get_coordinates(shapely.segmentize(line, step))
        map_cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
        lon, lat = self._lonlat(xy[:, 0], xy[:, 1])
        _, _, seg = self.geod.inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
        ground_cum = np.concatenate([[0.0], np.cumsum(seg)])
        map_cum *= line.length / map_cum[-1]

        def to_ground(distances: Any) -> np.ndarray:
            return np.interp(np.asarray(distances, dtype=float), map_cum, ground_cum)

        return to_ground

    def describe(self) -> str:
        """One line for table headers: how ground metres are measured here.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> g = GroundMetres.around(3413, box(-566000, -1346800, -562000, -1342800))
        >>> print(g.describe())  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
        ground metres on the WGS 84 ellipsoid: areas = integral of 1/areal scale of EPSG:3413
        (quadratic fit, error ...e-12), lengths geodesic (pyproj.Geod)
        """
        name = self.crs.geodetic_crs.ellipsoid.name if self.crs.geodetic_crs else "WGS 84"
        if self._fit is not None:
            how = (
                f"integral of 1/areal scale of {self.crs.to_string()} (quadratic fit, error "
                f"{self.fit_error:.0e})"
            )
        else:
            how = "densified polygons in " + " ".join(self.equal_area.split()[:3])
        return (
            f"ground metres on the {name} ellipsoid: areas = {how}, lengths geodesic (pyproj.Geod)"
        )
