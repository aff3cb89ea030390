"""A retreat CSV says how its positions were measured (method, CRS, ground or map metres, how)
and reads back with the same metadata."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from _geo_helpers import geod_area, geod_distance
from shapely.geometry import LineString, box

from workbench.geo.retreat import read_retreat_table, retreat_box, write_retreat_table


def test_csv_header_names_method_and_crs(tmp_path):
    fronts = gpd.GeoDataFrame(
        {"date": ["2020-03-01", "2020-06-01"]},
        crs=32633,
        geometry=[LineString([(3000, -50), (3000, 2050)]), LineString([(2500, -50), (2500, 2050)])],
    )
    df = retreat_box(fronts, box(0, 0, 6000, 2000), upstream=(0, 1000))
    path = write_retreat_table(df, tmp_path / "retreat.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "# method: box" and lines[1].startswith("# crs: ")
    assert "EPSG:32633" in lines[1] and any(ln.startswith("# scale_factor: ") for ln in lines)
    assert lines[2] == "# metres: ground"
    assert lines[3].startswith("# distances: ground metres on the WGS 84 ellipsoid")
    back = read_retreat_table(path)
    assert back.attrs["method"] == "box" and "32633" in back.attrs["crs"]
    assert back.attrs["metres"] == "ground"
    assert float(back.attrs["box_width_m"]) == df.attrs["box_width_m"]
    pd.testing.assert_series_equal(back["position_m"], df["position_m"])
    # 500 m of map between the fronts; on the ground (pyproj.Geod, independently): the strip's
    # share of the box's ellipsoidal area times the geodesic box length = 498.67 m, because
    # this far from UTM zone 33's central meridian a map metre is 0.27 % long
    strip = geod_area(box(2500, 0, 3000, 2000), 32633) / geod_area(box(0, 0, 6000, 2000), 32633)
    expected = -strip * geod_distance((0, 1000), (6000, 1000), 32633)
    assert back["change_m"].iloc[0] == 0.0
    assert back["change_m"].iloc[1] == pytest.approx(expected, rel=1e-7)
    assert round(back["change_m"].iloc[1], 2) == -498.67


def test_csv_header_of_map_metres(tmp_path):
    fronts = gpd.GeoDataFrame(
        {"date": ["2020-03-01", "2020-06-01"]},
        crs=32633,
        geometry=[LineString([(3000, -50), (3000, 2050)]), LineString([(2500, -50), (2500, 2050)])],
    )
    df = retreat_box(fronts, box(0, 0, 6000, 2000), upstream=(0, 1000), metres="map")
    back = read_retreat_table(write_retreat_table(df, tmp_path / "retreat.csv"))
    assert back.attrs["metres"] == "map"
    assert back.attrs["distances"].startswith("map metres of EPSG:32633, not ground metres")
    assert list(back["change_m"]) == [0.0, -500.0]
