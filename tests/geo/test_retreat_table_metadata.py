"""A retreat CSV says how its positions were measured (method, CRS, scale factor) and reads
back with the same metadata."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, box

from workbench.geo.retreat import read_retreat_table, retreat_box, write_retreat_table


def test_csv_header_names_method_and_crs(tmp_path):
    fronts = gpd.GeoDataFrame({"date": ["2020-03-01", "2020-06-01"]}, crs=32633,
                              geometry=[LineString([(3000, -50), (3000, 2050)]),
                                        LineString([(2500, -50), (2500, 2050)])])
    df = retreat_box(fronts, box(0, 0, 6000, 2000), upstream=(0, 1000))
    path = write_retreat_table(df, tmp_path / "retreat.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "# method: box" and lines[1].startswith("# crs: ")
    assert "EPSG:32633" in lines[1] and any(ln.startswith("# scale_factor: ") for ln in lines)
    back = read_retreat_table(path)
    assert back.attrs["method"] == "box" and "32633" in back.attrs["crs"]
    pd.testing.assert_series_equal(back["position_m"], df["position_m"])
    assert list(back["change_m"]) == [0.0, -500.0]
