"""Constants shared by the geo tests (imported as ``_geo_helpers``, like the other suites)."""

#: Pixel size of the synthetic glacier (m); 128 × 128 px, 7 dates (years=0.2).
PX = 80.0

#: Midpoint of the eastern (upstream) edge of the Harald Moltke box, EPSG:3413, read off the
#: basemap: the glacier flows west into Wolstenholme Fjord (checked in the tests by the
#: basemap brightness: ice at the upstream edge, dark water at the downstream edge).
HM_UPSTREAM_XY = (-561932.0, -1346904.0)


def _lonlat(geom, crs):
    """``geom`` (in ``crs``) densified to 5 m (5e-5° in a geographic CRS), in lon/lat."""
    import pyproj
    import shapely

    c = pyproj.CRS.from_user_input(crs)
    to_ll = pyproj.Transformer.from_crs(c, 4326, always_xy=True)
    step = 5e-5 if c.is_geographic else 5.0
    return shapely.transform(shapely.segmentize(geom, step), to_ll.transform, interleaved=False)


def geod_area(polygon, crs) -> float:
    """Ellipsoidal area (m²) of a polygon with straight edges in ``crs``, by ``pyproj.Geod``.

    Independent of :mod:`workbench.geo.retreat_ground` (which integrates the areal scale
    factor): the outline is densified to 5 m and its geodesic polygon area computed.
    """
    import pyproj

    return abs(pyproj.Geod(ellps="WGS84").geometry_area_perimeter(_lonlat(polygon, crs))[0])


def geod_length(line, crs) -> float:
    """Geodesic length (m) of a line with straight segments in ``crs`` (densified to 5 m)."""
    import pyproj

    return pyproj.Geod(ellps="WGS84").geometry_length(_lonlat(line, crs))


def geod_distance(a, b, crs) -> float:
    """Geodesic distance (m) between two points given in ``crs``."""
    import pyproj

    (x0, x1), (y0, y1) = pyproj.Transformer.from_crs(crs, 4326, always_xy=True).transform(
        [a[0], b[0]], [a[1], b[1]]
    )
    return pyproj.Geod(ellps="WGS84").inv(x0, y0, x1, y1)[2]
