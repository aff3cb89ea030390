"""The area of interest of ``workbench stack``: a box, a point with a radius, or an outline.

:func:`parse_aoi` turns what the user typed into an :class:`AOI` (a polygon in longitude /
latitude, EPSG:4326, and a name for the output):

- ``W,S,E,N``: a bounding box in degrees, e.g. ``11.9,78.8,12.6,79.0``;
- ``LON,LAT,KM``: a circle of ``KM`` kilometres around a point, e.g. ``12.2,78.9,5``;
- a polygon file (GeoPackage, GeoJSON, shapefile, anything GDAL reads), optionally with an
  SQL ``where`` to pick one outline of an RGI-style file, e.g.
  ``rgi.gpkg`` with ``where="glac_name = 'Kronebreen'"``. Several selected outlines are
  merged into one area.

Examples
--------
>>> aoi = parse_aoi("11.9,78.8,12.6,79.0")
>>> aoi.geometry.bounds, aoi.name
((11.9, 78.8, 12.6, 79.0), 'aoi')
>>> round(parse_aoi("12.2,78.9,5").geometry.bounds[1], 3)   # 5 km south of 78.9° N
78.855
>>> parse_aoi("12.6,78.8,11.9,79.0")
Traceback (most recent call last):
...
workbench.errors.ConfigError: variable '--aoi' is '12.6,78.8,11.9,79.0': west 12.6 is not less than east 11.9 (expected W,S,E,N in degrees with W < E and S < N, e.g. 11.9,78.8,12.6,79.0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from workbench.errors import ConfigError, DataError

__all__ = ["AOI", "parse_aoi"]

_FORMS = (
    "a box W,S,E,N in degrees (11.9,78.8,12.6,79.0), a point with a radius LON,LAT,KM "
    "(12.2,78.9,5) or a polygon file (GeoPackage, GeoJSON, shapefile)"
)
_NAME_COLUMNS = ("glac_name", "name", "Name", "NAME", "rgi_id", "RGIId", "glac_id")


@dataclass(frozen=True)
class AOI:
    """An area of interest: ``geometry`` (EPSG:4326 polygon) and ``name`` (for the output)."""

    geometry: BaseGeometry
    name: str
    text: str

    @property
    def centre(self) -> tuple[float, float]:
        """(lon, lat) of the centroid."""
        c = self.geometry.centroid
        return float(c.x), float(c.y)


def _numbers(text: str) -> list[float] | None:
    parts = [p.strip() for p in text.split(",")]
    try:
        return [float(p) for p in parts]
    except ValueError:
        return None


def _slug(text: str) -> str:
    return re.sub(r"[^\w-]+", "_", text).strip("_") or "aoi"


def parse_aoi(text: str, *, where: str | None = None) -> AOI:
    """Parse ``--aoi`` (and ``--where`` for a file) into an :class:`AOI`.

    Raises :class:`~workbench.errors.ConfigError` for a malformed box/point and
    :class:`~workbench.errors.DataError` for a file that holds no (selected) polygon.
    """
    text = str(text).strip()
    numbers = _numbers(text) if "," in text else None
    if numbers is not None and not Path(text).exists():
        if where is not None:
            raise ConfigError(
                "applies only to a polygon file",
                variable="--where",
                expected="--aoi FILE --where \"glac_name = 'Kronebreen'\"",
            )
        if len(numbers) == 4:
            return AOI(_box(text, numbers), "aoi", text)
        if len(numbers) == 3:
            return AOI(_circle(text, *numbers), "aoi", text)
        raise ConfigError(f"is {text!r}: {len(numbers)} numbers", variable="--aoi", expected=_FORMS)
    path = Path(text).expanduser()
    if not path.exists():
        raise ConfigError(
            f"is {text!r}, neither numbers nor an existing file", variable="--aoi", expected=_FORMS
        )
    return _from_file(path, where)


def _box(text: str, numbers: list[float]) -> BaseGeometry:
    w, s, e, n = numbers
    expected = "W,S,E,N in degrees with W < E and S < N, e.g. 11.9,78.8,12.6,79.0"
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= 90 and -90 <= n <= 90):
        raise ConfigError(
            f"is {text!r}: outside -180..180 / -90..90 degrees", variable="--aoi", expected=expected
        )
    if w >= e:
        raise ConfigError(
            f"is {text!r}: west {w:g} is not less than east {e:g}",
            variable="--aoi",
            expected=expected,
        )
    if s >= n:
        raise ConfigError(
            f"is {text!r}: south {s:g} is not less than north {n:g}",
            variable="--aoi",
            expected=expected,
        )
    return box(w, s, e, n)


def _circle(text: str, lon: float, lat: float, km: float) -> BaseGeometry:
    import pyproj
    import shapely
    from shapely.geometry import Point

    if not (-180 <= lon <= 180 and -90 < lat < 90):
        raise ConfigError(
            f"is {text!r}: the point lies outside -180..180 / -90..90 degrees",
            variable="--aoi",
            expected="LON,LAT,KM, e.g. 12.2,78.9,5",
        )
    if not 0 < km <= 500:
        raise ConfigError(
            f"is {text!r}: radius {km:g} km",
            variable="--aoi",
            expected="a radius in kilometres, 0 < KM <= 500, e.g. 12.2,78.9,5",
        )
    local = pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m")
    to_ll = pyproj.Transformer.from_crs(local, "EPSG:4326", always_xy=True).transform
    return shapely.transform(
        Point(0, 0).buffer(km * 1000.0, quad_segs=32), to_ll, interleaved=False
    )


def _from_file(path: Path, where: str | None) -> AOI:
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path, where=where) if where else gpd.read_file(path)
    except Exception as err:  # noqa: BLE001 - GDAL/pyogrio raise many types for a bad file or SQL
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        what = f"cannot be read with where={where!r}" if where else "cannot be read"
        raise DataError(
            f"{what} ({first})",
            path=path,
            expected="a polygon file GDAL reads (GeoPackage, GeoJSON, shapefile)"
            + (" and a valid SQL where on its columns" if where else ""),
        ) from None
    if len(gdf) == 0:
        if where:
            raise DataError(
                f"has no outline where {where}",
                path=path,
                expected="a where clause on its columns that selects an outline",
            )
        raise DataError("holds no features", path=path, expected="at least one polygon")
    polygons = gdf[gdf.geometry.notna() & gdf.geom_type.isin(["Polygon", "MultiPolygon"])]
    if len(polygons) == 0:
        raise DataError(
            f"holds no polygon (geometry types: {sorted(set(gdf.geom_type))})",
            path=path,
            expected="polygon outlines (Polygon or MultiPolygon)",
        )
    if polygons.crs is None:
        raise DataError("has no CRS", path=path, expected="a file with a CRS (e.g. EPSG:4326)")
    geometry = polygons.to_crs("EPSG:4326").geometry.union_all()
    name = path.stem
    if where:
        column = next((c for c in _NAME_COLUMNS if c in polygons.columns), None)
        values = polygons[column].dropna().astype(str).unique() if column else []
        name = values[0] if len(values) == 1 else name
    return AOI(geometry, _slug(name), str(path) + (f" where {where}" if where else ""))
