"""The box method against the published rectilinear-box loop (eloebel/rectilinear-box-method).

``workbench.geo.retreat_reference`` re-implements the published loop (split, first piece,
per-piece Albers projection of the ellipsoid). Its areas and the workbench's are compared
here, untimed (``benchmarks/retreat_box.py`` times them):

* the published loop measures the first piece of each split, the workbench the ice pieces;
  where the first piece is the ocean (as on every Harald Moltke date), first piece + ice =
  the box, so the two are comparable date by date;
* they draw a polygon's edges straight in different projections (the published code in a
  per-piece Albers projection, the workbench in the box's CRS), a difference of up to tens of
  m² over a 6 km edge; with the edges densified to 10 m that difference vanishes and the two
  must agree to 0.01 m² — identical areas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from _geo_helpers import geod_area
from shapely.geometry import LineString, box
from shapely.ops import split

from workbench.geo.retreat import retreat_box
from workbench.geo.retreat_ground import GroundMetres
from workbench.geo.retreat_reference import published_area_change, published_box_areas
from workbench.geo.retreat_split import split_pieces

# a 6 km × 2 km box at Harald Moltke Bræ (EPSG:3413, 76.6° N: map metres 1.7 % short)
X0, Y0 = -566000.0, -1346000.0
BOX = box(X0, Y0, X0 + 6000, Y0 + 2000)
UPSTREAM = (X0, Y0 + 1000)  # the ice is at the western edge


def _line(*xy):
    return LineString([(X0 + x, Y0 + y) for x, y in xy])


#: constructed fronts: straight, a wiggle, a fold that cuts off an ICE triangle (3 pieces),
#: a line that cuts off two ice pockets along the southern side (4 pieces)
FRONTS = {
    "straight": _line((3500, -50), (3500, 2050)),
    "wiggle": _line(
        *[(3200 + 250 * np.sin(2 * np.pi * y / 2000), y) for y in np.linspace(-200, 2200, 241)]
    ),
    "ice fold": _line(
        (3000, -50), (3000, 1800), (2600, 1900), (2700, 2100), (2800, 1900), (2900, 2100)
    ),
    "four pieces": _line(
        (2800, -50), (2800, 500), (2600, -100), (2500, 100), (2400, -100), (2300, 2050)
    ),
}
#: a fold that cuts off an OCEAN inlet: the published loop counts everything but the first
#: piece as ice, so it counts the inlet as ice
INLET = _line((3000, -50), (3000, 1800), (3600, 2100), (2600, 2100), (2700, 1900), (2780, 2060))
INLET_TRIANGLE = shapely.Polygon(
    [(X0 + 2700, Y0 + 1900), (X0 + 2750, Y0 + 2000), (X0 + 2650, Y0 + 2000)]
)


def _fronts(lines):
    import geopandas as gpd

    return gpd.GeoDataFrame(
        {"date": pd.date_range("2020-03-01", periods=len(lines), freq="30D")},
        geometry=list(lines),
        crs=3413,
    )


def _ice_areas(lines, box_polygon, **kwargs):
    import geopandas as gpd

    df = retreat_box(_fronts(lines), gpd.GeoSeries([box_polygon], crs=3413), **kwargs)
    return df, df.position_m.to_numpy() * df.attrs["box_width_m"]


def test_the_reference_is_the_published_pyproj_transform_call():
    """The re-implementation builds the Albers transformer with ``Transformer.from_proj``; the
    published code calls the deprecated ``pyproj.transform``: bit-identical areas."""
    import warnings
    from functools import partial

    import pyproj
    import shapely.ops

    if not hasattr(pyproj, "transform"):
        pytest.skip(
            f"pyproj {pyproj.__version__} no longer has the deprecated pyproj.transform "
            "the published code calls"
        )
    to_wgs84 = pyproj.Transformer.from_crs(
        pyproj.CRS("EPSG:3413"), pyproj.CRS("EPSG:4326"), always_xy=True
    ).transform
    lines = list(FRONTS.values()) + [INLET]
    published = []
    with warnings.catch_warnings():  # pyproj.transform and shapely.ops.transform
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        for line in lines:  # the published loop body, call for call
            first = shapely.ops.transform(to_wgs84, split(BOX, line)).geoms[0]
            aea = partial(
                pyproj.transform,
                pyproj.Proj("+proj=latlon"),
                pyproj.Proj(proj="aea", lat_1=first.bounds[1], lat_2=first.bounds[3]),
            )
            published.append(shapely.ops.transform(aea, first).area)
    assert published_box_areas(lines, BOX, 3413).tolist() == published


def test_split_pieces_are_the_pieces_of_shapely_split():
    lines = np.array(list(FRONTS.values()) + [INLET], dtype=object)
    pieces, owner = split_pieces(lines, BOX)
    for i, line in enumerate(lines):
        expected = [p.area for p in split(BOX, line).geoms]
        assert shapely.area(pieces[owner == i]).tolist() == expected  # bit for bit
    assert np.bincount(owner).tolist() == [2, 2, 3, 4, 3]


def test_constructed_fronts_give_the_published_areas():
    lines = [shapely.segmentize(g, 10.0) for g in FRONTS.values()]
    dense_box = shapely.segmentize(BOX, 10.0)
    df, ice = _ice_areas(lines, dense_box, upstream=UPSTREAM)
    assert df["flags"].tolist() == ["", "", "multipart:3", "multipart:4"]
    first = published_box_areas(lines, dense_box, 3413)
    box_area = GroundMetres.around(3413, dense_box).areas([dense_box])[0]
    assert box_area == pytest.approx(geod_area(BOX, 3413), rel=1e-9)  # pyproj.Geod, independent
    # the first piece is the ocean here: first piece + ice pieces = the box, to 0.01 m²
    assert np.abs(first + ice - box_area).max() < 0.01
    assert np.abs((ice - ice[0]) - published_area_change(first)).max() < 0.01
    # as drawn (edges not densified) the published loop's Albers edges differ by < 50 m²
    df_raw, ice_raw = _ice_areas(list(FRONTS.values()), BOX, upstream=UPSTREAM)
    change = published_area_change(published_box_areas(list(FRONTS.values()), BOX, 3413))
    assert np.abs((ice_raw - ice_raw[0]) - change).max() < 50


def test_the_published_loop_counts_an_ocean_inlet_as_ice():
    lines = [shapely.segmentize(g, 10.0) for g in (FRONTS["straight"], INLET)]
    dense_box = shapely.segmentize(BOX, 10.0)
    df, ice = _ice_areas(lines, dense_box, upstream=UPSTREAM)
    assert df["flags"].tolist() == ["", "multipart:3"]
    first = published_box_areas(lines, dense_box, 3413)
    box_area = GroundMetres.around(3413, dense_box).areas([dense_box])[0]
    inlet = geod_area(INLET_TRIANGLE, 3413)  # 5000 m² of map, 5172 m² of ground
    assert inlet == pytest.approx(5172.04, abs=0.01)
    assert first[0] + ice[0] == pytest.approx(box_area, abs=0.01)
    assert box_area - first[1] - ice[1] == pytest.approx(inlet, abs=0.01)


@pytest.mark.shared_data
def test_harald_moltke_gives_the_published_areas(hm_fronts, hm_box):
    """All 159 real fronts: the workbench's default (ground metres) is the published loop's
    area change to < 50 m² (0.01 m of position) as drawn; the previous default (EPSG:3413 map
    metres) was up to 32 m off."""
    import geopandas as gpd

    box_polygon = gpd.read_file(hm_box).geometry.iloc[0]
    lines = list(hm_fronts.geometry)
    df, ice = _ice_areas(lines, box_polygon, upstream="right")
    first = published_box_areas(lines, box_polygon, 3413)
    change = published_area_change(first)
    width = df.attrs["box_width_m"]
    assert np.abs((ice - ice[0]) - change).max() < 50
    assert np.abs(df.change_m.to_numpy() - change / width).max() < 0.01
    assert df.change_m.iloc[-1] == pytest.approx(change[-1] / width, abs=0.01)  # -1918.3 m
    on_map = retreat_box(hm_fronts, hm_box, upstream="right", metres="map")
    assert np.abs(on_map.change_m.to_numpy() - change / width).max() > 30  # 32.1 m


@pytest.mark.slow
@pytest.mark.shared_data
def test_harald_moltke_densified_gives_identical_areas(hm_fronts, hm_box):
    """Densified to 10 m, the 159 fronts give identical areas: first piece + ice = the box."""
    import geopandas as gpd

    box_polygon = gpd.read_file(hm_box).geometry.iloc[0]
    lines = list(hm_fronts.geometry)
    dense_box = shapely.segmentize(box_polygon, 10.0)
    dense = [shapely.segmentize(g, 10.0) for g in lines]
    _, ice_dense = _ice_areas(dense, dense_box, upstream="right")
    first_dense = published_box_areas(dense, dense_box, 3413)
    box_area = GroundMetres.around(3413, dense_box).areas([dense_box])[0]
    assert np.abs(first_dense + ice_dense - box_area).max() < 0.01


@pytest.mark.shared_data
def test_harald_moltke_pieces_are_the_pieces_of_shapely_split(hm_fronts, hm_box):
    import geopandas as gpd

    box_polygon = gpd.read_file(hm_box).geometry.iloc[0]
    lines = hm_fronts.geometry.to_numpy()
    pieces, owner = split_pieces(lines, box_polygon)
    areas = shapely.area(pieces)
    for i, line in enumerate(lines):
        assert areas[owner == i].tolist() == [p.area for p in split(box_polygon, line).geoms]
    assert int((np.bincount(owner) > 2).sum()) == 12
