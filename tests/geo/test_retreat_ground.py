"""Retreat distances in ground metres by default; the box frame stays in the box's CRS.

Expected ground values are computed independently of ``workbench.geo.retreat_ground``:
``pyproj.Geod`` on outlines densified to 5 m (``_geo_helpers.geod_area`` / ``geod_length``).
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from _geo_helpers import geod_area, geod_distance, geod_length
from shapely.geometry import LineString, Point, box

from workbench.cli import main
from workbench.errors import DataError
from workbench.geo.retreat import (
    box_frame,
    read_retreat_table,
    retreat_box,
    retreat_centreline,
    summarize_retreat,
)
from workbench.geo.retreat_ground import GroundMetres

# a 6 km × 2 km box at Harald Moltke Bræ, EPSG:3413 (scale factor 0.983 there)
X0, Y0 = -566000.0, -1346000.0
BOX = box(X0, Y0, X0 + 6000, Y0 + 2000)
UP = (X0, Y0 + 1000)


def _fronts(*xs, crs=3413):
    lines = [LineString([(X0 + x, Y0 - 50), (X0 + x, Y0 + 2050)]) for x in xs]
    return gpd.GeoDataFrame(
        {"date": pd.date_range("2020-03-01", periods=len(xs), freq="30D")}, geometry=lines, crs=crs
    )


@pytest.mark.parametrize(
    ("crs", "polygon"),
    [
        (3413, BOX),  # polar stereographic
        (
            3413,
            box(X0, Y0, X0 + 4000, Y0 + 4000).difference(
                box(X0 + 1000, Y0 + 1000, X0 + 2000, Y0 + 3000)
            ),
        ),  # a hole
        (32633, box(440000, 8690000, 452000, 8702000)),  # UTM, 60 km off centre
        (4326, box(-67.9, 76.55, -67.6, 76.65)),  # degrees: equal-area path
    ],
)
def test_ground_areas_are_pyproj_geod_areas(crs, polygon):
    g = GroundMetres.around(crs, polygon)
    assert g.areas([polygon])[0] == pytest.approx(geod_area(polygon, crs), rel=1e-9)
    if crs != 4326:
        assert g.fit_error < 1e-9  # the exact integration was used


def test_a_very_large_box_falls_back_to_the_equal_area_projection():
    huge = box(-1_500_000, -2_000_000, 500_000, 0)  # 2000 km of Greenland
    g = GroundMetres.around(3413, huge)
    assert not g.fit_error < 1e-9 and "densified polygons in +proj=laea" in g.describe()
    inner = box(-600_000, -1_400_000, -500_000, -1_300_000)
    assert g.areas([inner])[0] == pytest.approx(geod_area(inner, 3413), rel=1e-6)


def test_box_positions_are_ground_metres_by_default():
    fronts = _fronts(3500, 2500)
    df = retreat_box(fronts, gpd.GeoSeries([BOX], crs=3413), upstream=UP)
    assert df.attrs["metres"] == "ground" and df.attrs["crs"] == "EPSG:3413"
    # independent: the ice strip's share of the box's ellipsoidal area × the geodesic length
    length = geod_distance(UP, (X0 + 6000, Y0 + 1000), 3413)
    for x, pos in zip((3500, 2500), df.position_m, strict=False):
        share = geod_area(box(X0, Y0, X0 + x, Y0 + 2000), 3413) / geod_area(BOX, 3413)
        assert pos == pytest.approx(share * length, rel=1e-8)
    assert df.attrs["box_length_m"] == pytest.approx(length, rel=1e-12)
    # EPSG:3413's metres are 1.7 % short here: map positions = ground × its scale factor
    on_map = retreat_box(fronts, gpd.GeoSeries([BOX], crs=3413), upstream=UP, metres="map")
    assert on_map.position_m.tolist() == pytest.approx([3500.0, 2500.0])
    k = df.attrs["scale_factor"]
    assert k == pytest.approx(0.9832, abs=1e-4)
    assert (on_map.position_m / df.position_m).to_numpy() == pytest.approx(k, abs=2e-4)
    assert df.change_m.iloc[1] == pytest.approx(-1000 / k, rel=2e-4)  # -1017 m


def test_the_box_frame_stays_in_the_box_crs():
    """Only the measuring is on the ground: the edges (what is drawn, the upstream logic) stay
    in EPSG:3413, so plots over the basemap do not move."""
    fronts = _fronts(3500)  # runs north: its right (ice) is the east
    frame = box_frame(gpd.GeoSeries([BOX], crs=3413), fronts, upstream="right")
    east = (X0 + 6000, Y0, X0 + 6000, Y0 + 2000)
    assert frame.crs.to_epsg() == 3413 and frame.upstream_edge.bounds == east
    assert frame.length_m == pytest.approx(6000.0)  # map metres, as drawn
    df = retreat_box(fronts, gpd.GeoSeries([BOX], crs=3413), upstream="right")
    assert df.attrs["upstream_edge"] == frame.upstream_edge.wkt
    assert df.attrs["box_length_m"] == pytest.approx(6000.0 / 0.9832, rel=2e-4)  # on the ground
    # a local equal-area working CRS moves the frame but measures the same ground metres
    laea = retreat_box(fronts, gpd.GeoSeries([BOX], crs=3413), upstream="right", crs="laea")
    assert "laea" in laea.attrs["crs"]
    assert laea.position_m.iloc[0] == pytest.approx(df.position_m.iloc[0], abs=0.02)


def test_centreline_positions_are_ground_metres_by_default():
    cl = LineString([(X0, Y0 + 1000), (X0 + 3000, Y0 + 1200), (X0 + 6000, Y0 + 1000)])
    fronts = _fronts(4500)
    df = retreat_centreline(fronts, gpd.GeoSeries([cl], crs=3413))
    crossing = cl.intersection(fronts.geometry.iloc[0])
    along = shapely.ops.substring(cl, 0, cl.project(crossing))
    assert df.position_m.iloc[0] == pytest.approx(geod_length(along, 3413), rel=1e-8)
    assert df.attrs["centreline_length_m"] == pytest.approx(geod_length(cl, 3413), rel=1e-8)
    on_map = retreat_centreline(fronts, gpd.GeoSeries([cl], crs=3413), metres="map")
    assert on_map.position_m.iloc[0] == pytest.approx(cl.project(crossing))


def test_units_are_said_in_the_summary():
    df = retreat_box(_fronts(3500, 2500), gpd.GeoSeries([BOX], crs=3413), upstream=UP)
    assert "distances in ground metres" in summarize_retreat(df)
    on_map = retreat_box(
        _fronts(3500, 2500), gpd.GeoSeries([BOX], crs=3413), upstream=UP, metres="map"
    )
    last = summarize_retreat(on_map).splitlines()[-1]
    assert last.startswith("note: distances are map metres of EPSG:3413") and "1.7 %" in last


def test_bad_metres_is_a_clear_error():
    with pytest.raises(DataError, match=r"variable 'metres' is 'feet' \(expected 'ground'"):
        retreat_box(_fronts(3500), gpd.GeoSeries([BOX], crs=3413), upstream=UP, metres="feet")
    with pytest.raises(DataError, match="variable 'metres'"):
        retreat_centreline(
            _fronts(3500), gpd.GeoSeries([LineString([UP, (X0 + 6000, Y0)])], crs=3413), metres=None
        )


def test_cli_writes_ground_metres_and_says_so(tmp_path, capsys):
    _fronts(3500, 2500).to_file(tmp_path / "fronts.gpkg")
    gpd.GeoDataFrame(geometry=[BOX], crs=3413).to_file(tmp_path / "box.gpkg")
    args = [
        "retreat",
        str(tmp_path / "fronts.gpkg"),
        "--box",
        str(tmp_path / "box.gpkg"),
        f"--upstream={UP[0]},{UP[1]}",
    ]
    assert main([*args, "--out", str(tmp_path / "ground")]) == 0
    assert "distances in ground metres" in capsys.readouterr().out
    ground = read_retreat_table(tmp_path / "ground" / "retreat_box.csv")
    header = (tmp_path / "ground" / "retreat_box.csv").read_text().splitlines()[:4]
    assert header[:3] == ["# method: box", "# crs: EPSG:3413", "# metres: ground"]
    assert header[3].startswith(
        "# distances: ground metres on the WGS 84 ellipsoid: areas = "
        "integral of 1/areal scale of EPSG:3413"
    )
    assert main([*args, "--metres", "map", "--out", str(tmp_path / "map")]) == 0
    on_map = read_retreat_table(tmp_path / "map" / "retreat_box.csv")
    assert on_map.attrs["metres"] == "map"
    assert on_map.position_m.tolist() == pytest.approx([3500, 2500])
    assert ground.change_m.iloc[1] == pytest.approx(-1000 / 0.9832, rel=2e-4)
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--metres", "feet"])
    assert exit_.value.code == 2 and "invalid choice: 'feet'" in capsys.readouterr().err


def test_ground_point_distance_is_geodesic():
    g = GroundMetres.around(3413, BOX)
    a, b = (X0, Y0), (X0 + 6000, Y0 + 2000)
    assert g.distance(a, b) == pytest.approx(geod_distance(a, b, 3413), rel=1e-12)
    assert g.distance(a, b) > Point(a).distance(Point(b)) * 1.016  # 1.7 % longer than map
