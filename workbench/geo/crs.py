"""CRS handling for products and retreat curves: metric working CRSs and metric measures.

Retreat curves and product attributes are measured in metres. :func:`metric_crs` picks the
CRS to measure in: the given CRS when it is projected with metre units (e.g. EPSG:3413 for
Greenland, a UTM zone), else a local Lambert azimuthal equal-area projection centred on the
geometry (:func:`local_equal_area_crs`), whose scale error is below 0.1 % within about 90 km of
its centre. :func:`geodesic_length_area` measures lines and polygons on the ellipsoid when a
product is in a geographic CRS.

Examples
--------
>>> from shapely.geometry import box
>>> metric_crs("EPSG:32633", box(500000, 8700000, 501000, 8701000)).to_epsg()
32633
>>> c = metric_crs("EPSG:4326", box(10.0, 60.0, 10.1, 60.1))
>>> c.is_projected, c.coordinate_operation.method_name
(True, 'Lambert Azimuthal Equal Area')
"""

from __future__ import annotations

from typing import Any

import pyproj
from shapely.geometry.base import BaseGeometry

from workbench.errors import DataError

__all__ = [
    "as_crs",
    "is_metric",
    "local_equal_area_crs",
    "metric_crs",
    "geodesic_length_area",
]


def as_crs(crs: Any, *, variable: str = "crs", path: Any = None) -> pyproj.CRS:
    """Turn anything pyproj understands (EPSG code, WKT, ``rasterio`` CRS, ...) into a CRS.

    Raises :class:`~workbench.errors.DataError` when ``crs`` is ``None`` or not a CRS.

    Examples
    --------
    >>> as_crs(3413).name
    'WGS 84 / NSIDC Sea Ice Polar Stereographic North'
    >>> as_crs(None)
    Traceback (most recent call last):
    ...
    workbench.errors.DataError: variable 'crs' is missing (expected a coordinate reference system, e.g. 'EPSG:32633')
    """
    if crs is None:
        raise DataError(
            "is missing",
            path=path,
            variable=variable,
            expected="a coordinate reference system, e.g. 'EPSG:32633'",
        )
    if isinstance(crs, pyproj.CRS):
        return crs
    try:
        if hasattr(crs, "to_wkt"):  # rasterio.crs.CRS
            return pyproj.CRS.from_wkt(crs.to_wkt())
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as err:
        raise DataError(
            f"is {crs!r}, not a CRS ({err})",
            path=path,
            variable=variable,
            expected="an EPSG code, WKT or PROJ string",
        ) from err


def is_metric(crs: Any) -> bool:
    """True when ``crs`` is projected and its horizontal axes are in metres.

    Examples
    --------
    >>> is_metric("EPSG:3413"), is_metric("EPSG:4326")
    (True, False)
    """
    c = as_crs(crs)
    if not c.is_projected:
        return False
    units = {a.unit_name.lower() for a in c.axis_info[:2]}
    return bool(units) and units <= {"metre", "meter", "m"}


def local_equal_area_crs(geometry: BaseGeometry, crs: Any) -> pyproj.CRS:
    """A Lambert azimuthal equal-area CRS (WGS 84, metres) centred on ``geometry``.

    ``geometry`` is given in ``crs``; its centroid (in longitude/latitude) becomes the centre.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> c = local_equal_area_crs(Point(-70.0, 76.6), "EPSG:4326")
    >>> c.is_projected, c.coordinate_operation.method_name
    (True, 'Lambert Azimuthal Equal Area')
    """
    src = as_crs(crs)
    if geometry is None or geometry.is_empty:
        raise DataError(
            "is empty",
            variable="geometry",
            expected="a geometry to centre the equal-area projection on",
        )
    c = geometry.centroid
    if src.is_geographic:
        lon, lat = c.x, c.y
    else:
        to_ll = pyproj.Transformer.from_crs(src, "EPSG:4326", always_xy=True)
        lon, lat = to_ll.transform(c.x, c.y)
    return pyproj.CRS.from_proj4(
        f"+proj=laea +lat_0={lat:.6f} +lon_0={lon:.6f} +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )


def metric_crs(crs: Any, geometry: BaseGeometry | None = None) -> pyproj.CRS:
    """The CRS to measure in: ``crs`` if projected in metres, else a local equal-area CRS.

    Parameters
    ----------
    crs
        The CRS the data are in.
    geometry
        Geometry (in ``crs``) to centre the local equal-area projection on; needed only when
        ``crs`` is not a metric projected CRS.

    Examples
    --------
    >>> metric_crs("EPSG:3413").to_epsg()
    3413
    """
    c = as_crs(crs)
    if is_metric(c):
        return c
    if geometry is None:
        raise DataError(
            f"{c.name} is not a metric projected CRS and no geometry was given to "
            "centre a local equal-area projection on",
            variable="crs",
            expected="a projected CRS in metres, or a geometry",
        )
    return local_equal_area_crs(geometry, c)


def geodesic_length_area(geometry: BaseGeometry, crs: Any) -> tuple[float, float]:
    """Length (m) and area (m², absolute) of ``geometry``: planar in a metric CRS, else geodesic.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> geodesic_length_area(box(0, 0, 100, 50), "EPSG:32633")
    (300.0, 5000.0)
    >>> length, area = geodesic_length_area(box(0, 0, 0.001, 0.001), "EPSG:4326")
    >>> round(area / 1e4, 2)                      # about 111 m × 111 m at the equator, in ha
    1.23
    """
    if geometry is None or geometry.is_empty:
        return 0.0, 0.0
    c = as_crs(crs)
    if is_metric(c):
        return float(geometry.length), float(geometry.area)
    if c.is_geographic:
        geod = c.get_geod() or pyproj.Geod(ellps="WGS84")
        area, perimeter = geod.geometry_area_perimeter(geometry)
        return float(perimeter), abs(float(area))
    import shapely

    work = local_equal_area_crs(geometry, c)
    t = pyproj.Transformer.from_crs(c, work, always_xy=True)
    g = shapely.transform(geometry, t.transform, interleaved=False)
    return float(g.length), float(g.area)
