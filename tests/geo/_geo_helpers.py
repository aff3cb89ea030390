"""Constants shared by the geo tests (imported as ``_geo_helpers``, like the other suites)."""

#: Pixel size of the synthetic glacier (m); 128 × 128 px, 7 dates (years=0.2).
PX = 80.0

#: Midpoint of the eastern (upstream) edge of the Harald Moltke box, EPSG:3413, read off the
#: basemap: the glacier flows west into Wolstenholme Fjord (checked in the tests by the
#: basemap brightness: ice at the upstream edge, dark water at the downstream edge).
HM_UPSTREAM_XY = (-561932.0, -1346904.0)
