"""Retreat curves: exact on constructed geometry, within a pixel on the synthetic glacier."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from _geo_helpers import PX, geod_area, geod_length
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from shapely import affinity
from shapely.geometry import LineString, MultiLineString, Point, box
from shapely.ops import split, substring

from workbench.errors import DataError, FileFormatError
from workbench.geo.retreat import (
    box_frame,
    fit_annual_cycle,
    plot_retreat,
    read_front_lines,
    read_retreat_table,
    retreat_box,
    retreat_centreline,
    seasonal_summary,
    summarize_retreat,
    write_retreat_table,
)
from workbench.geo.vectors import fronts_from_stack

BOX = box(0, 0, 6000, 2000)  # flow towards +x, upstream edge at x = 0
UP = (0, 1000)


def _fronts(*lines, dates=None, crs=32633):
    dates = dates or [f"2020-{m:02d}-01" for m in range(1, len(lines) + 1)]
    return gpd.GeoDataFrame({"date": pd.to_datetime(dates)}, geometry=list(lines), crs=crs)


# --------------------------------------------------------------------------- synthetic


def test_box_method_reproduces_synthetic_positions_within_a_pixel(glacier):
    truth = glacier.front_position_m.to_numpy()
    box_gs = gpd.GeoSeries([glacier.box], crs=32633)
    exact = retreat_box(glacier.fronts, box_gs, upstream=glacier.centreline.coords[0])
    err = exact.position_m.to_numpy() - truth
    assert np.abs(err).max() <= PX
    # the residual is CaFFe's front definition: the line runs through the OCEAN pixels next
    # to the glacier, on average half a pixel seawards of the glacier/ocean boundary
    assert np.abs(err - PX / 2).max() <= PX / 4
    assert (exact["flags"] == "").all() and (exact.n_parts == 2).all()
    assert np.allclose(exact.change_m, exact.position_m - exact.position_m.iloc[0])
    # width = area / length, both on the ground (default): the box's ellipsoidal area from
    # pyproj.Geod on its densified outline, independent of the workbench's integration
    ground_area = geod_area(glacier.box, 32633)
    assert exact.attrs["box_width_m"] == pytest.approx(ground_area / exact.attrs["box_length_m"])
    assert exact.attrs["metres"] == "ground"
    # fronts traced from the zones (ice on the right) give the same within a pixel
    traced = retreat_box(fronts_from_stack(glacier.stack), box_gs, upstream="right")
    assert np.abs(traced.position_m.to_numpy() - truth).max() <= PX
    assert "ice on the right" in traced.attrs["upstream"]
    # the relative changes are even closer: the half-pixel offset cancels
    assert np.abs(exact.change_m.to_numpy() - (truth - truth[0])).max() <= PX / 2


def test_box_method_with_a_geographic_box_uses_an_equal_area_crs(glacier):
    box_ll = gpd.GeoSeries([glacier.box], crs=32633).to_crs(4326)
    fronts_ll = glacier.fronts.to_crs(4326)
    df = retreat_box(fronts_ll, box_ll, upstream="right")
    assert "laea" in df.attrs["crs"]
    ref = retreat_box(glacier.fronts, gpd.GeoSeries([glacier.box], crs=32633), upstream="right")
    # UTM scale factor near 0.9996 vs the local equal-area CRS: agreement to ~0.1 %
    assert np.allclose(df.position_m, ref.position_m, rtol=2e-3)


# --------------------------------------------------------------------------- constructed


# The constructed cases below check the geometric rules of the box method in the plane, so
# they measure in map metres (metres="map"); ground metres are tested in test_retreat_ground.py.


def test_straight_front_in_a_rectangle_is_exact():
    df = retreat_box(
        _fronts(LineString([(2500, -10), (2500, 2010)])), BOX, upstream=UP, metres="map"
    )
    assert df.position_m.iloc[0] == pytest.approx(2500.0)
    df = retreat_box(
        _fronts(LineString([(2500, -10), (2500, 2010)])), BOX, upstream=(6000, 1000), metres="map"
    )
    assert df.position_m.iloc[0] == pytest.approx(3500.0)  # measured from the other end


@settings(max_examples=25, deadline=None)
@given(angle=st.floats(0, 360), d=st.floats(300, 5700), wiggle=st.floats(0, 250))
def test_rotated_box_and_wiggly_front_position(angle, d, wiggle):
    # a symmetric wiggle (one full sine period across the box) has zero mean displacement
    y = np.linspace(-200, 2200, 241)
    x = d + wiggle * np.sin(2 * np.pi * y / 2000.0)
    line = LineString(np.column_stack([x, y]))
    b = affinity.rotate(BOX, angle, origin=(0, 0))
    f = affinity.rotate(line, angle, origin=(0, 0))
    up = affinity.rotate(Point(UP), angle, origin=(0, 0))
    df = retreat_box(_fronts(f), b, upstream=up, metres="map")
    # the analytic mean of the piecewise-linear sine over y in [0, 2000]
    ys = np.linspace(0, 2000, 20001)
    expected = np.interp(ys, y, x).mean()
    assert df.position_m.iloc[0] == pytest.approx(expected, abs=0.5)
    assert df["flags"].iloc[0] == ""


def _ice_by_parity(piece, line) -> bool:
    """Independent rule: a ray due west (to x = -10 km, deep in the ice) crosses the front an
    even number of times from a point on the ice side."""
    p = piece.representative_point()
    hits = LineString([(p.x, p.y), (-10_000, p.y)]).intersection(line)
    n = 0 if hits.is_empty else len(getattr(hits, "geoms", [hits]))
    return n % 2 == 0


def test_multipart_front_counts_each_piece_on_its_side_of_the_line():
    # leaves the box through the side y = 2000 and comes back east of the main crossing:
    # the small triangle cut off lies on the ICE side (its ice reaches it around the fold)
    ice_fold = LineString(
        [(3000, -50), (3000, 1800), (2600, 1900), (2700, 2100), (2800, 1900), (2900, 2100)]
    )
    # folds back west of the main crossing: the small triangle is an OCEAN inlet
    ocean_inlet = LineString(
        [(3000, -50), (3000, 1800), (3600, 2100), (2600, 2100), (2700, 1900), (2780, 2060)]
    )
    df = retreat_box(_fronts(ice_fold, ocean_inlet), BOX, upstream=UP, metres="map")
    for k, line in enumerate((ice_fold, ocean_inlet)):
        pieces = list(split(BOX, line).geoms)
        assert df.n_parts.iloc[k] == len(pieces) == 3
        assert df["flags"].iloc[k] == "multipart:3"
        ice = sum(p.area for p in pieces if _ice_by_parity(p, line))
        assert df.position_m.iloc[k] == pytest.approx(ice / 2000)
        touching = sum(
            p.area for p in pieces if p.intersection(LineString([(0, 0), (0, 2000)])).length
        )
        small = min(p.area for p in pieces)
        # "pieces touching the upstream edge" would miss the ice triangle of the first line
        assert (
            (touching == pytest.approx(ice - small)) if k == 0 else (touching == pytest.approx(ice))
        )
    assert df.position_m.iloc[0] == pytest.approx((5_942_500 + 5_000) / 2000)


def test_self_crossing_fronts_are_coloured_by_ray_parity():
    """Zigzags that cross themselves (some at shallow angles) cut the box into up to 9 pieces;
    every piece of every consistently coloured line is on the side ray parity says."""
    from workbench.geo.retreat_split import split_box

    rng = np.random.default_rng(1)
    lines = []
    for _ in range(90):
        n = int(rng.integers(3, 9))
        y = rng.uniform(-100, 2100, n)
        y[0], y[-1] = -100, 2100
        lines.append(LineString(np.column_stack([3000 + rng.normal(0, 700, n), y])))
    s = split_box(np.array(lines, dtype=object), box_frame(BOX, upstream=UP, crs=32633))
    checked = 0
    for i, line in enumerate(lines):
        if s.separates[i] and not s.ambiguous[i] and s.n_parts[i] > 2:
            mine = np.flatnonzero(s.line == i)
            assert s.ice[mine].tolist() == [_ice_by_parity(s.pieces[j], line) for j in mine], i
            checked += 1
    assert checked >= 20 and s.n_parts.max() >= 8
    # crossing is not retracing: none is ambiguous (the previous buffered adjacency test took
    # pieces meeting at a shallow crossing for neighbours and flagged 3 of these 90)
    assert not s.ambiguous.any()


def test_a_front_that_retraces_itself_is_flagged_ambiguous():
    # up x = 3000, back down to y = 1000, east, up again: the stretch it runs twice borders
    # two pieces that parity puts on the same side, so the colouring cannot be consistent
    retrace = LineString([(3000, -50), (3000, 2050), (3000, 1000), (3500, 1000), (3500, 2050)])
    df = retreat_box(_fronts(retrace), BOX, upstream=UP, metres="map")
    assert df["flags"].iloc[0] == "multipart:3;ambiguous_sides"
    assert df.position_m.iloc[0] == pytest.approx(3000.0)  # the pieces touching the upstream edge


def test_short_lines_are_extended_and_flagged():
    short = LineString([(2000, 300), (2100, 1000), (2000, 1700)])  # ends inside the box
    df = retreat_box(_fronts(short), BOX, upstream=UP)
    assert df["flags"].iloc[0] == "extended"
    assert 1900 < df.position_m.iloc[0] < 2100
    df = retreat_box(_fronts(short), BOX, upstream=UP, extend=False)
    assert df["flags"].iloc[0] == "no_separation" and np.isnan(df.position_m.iloc[0])


def test_lines_missing_the_box_or_empty_are_nan_and_flagged():
    miss = LineString([(7000, -10), (7000, 2010)])
    corner = LineString([(-10, 1500), (500, 2010)])  # cuts a corner only
    df = retreat_box(
        _fronts(LineString([(2500, -10), (2500, 2010)]), miss, corner, None), BOX, upstream=UP
    )
    # the corner cut does not separate the upstream from the downstream edge
    assert df["flags"].tolist() == ["", "no_intersection", "no_separation", "no_front"]
    assert np.isnan(df.position_m.iloc[1:]).all()
    assert df.change_m.iloc[0] == 0.0
    assert summarize_retreat(df).splitlines()[-1].startswith("flagged: 3 of 4 dates")


def test_fronts_crossing_the_end_edges_are_flagged():
    diagonal = LineString([(-100, 500), (6100, 1500)])  # crosses x = 0 and x = 6000
    df = retreat_box(_fronts(diagonal), BOX, upstream=UP)
    assert set(df["flags"].iloc[0].split(";")) >= {
        "crosses_upstream_edge",
        "crosses_downstream_edge",
    }
    assert df.position_m.iloc[0] == pytest.approx(3000.0, rel=0.02)


def test_multilinestring_fronts():
    two = MultiLineString([[(3000, -10), (3000, 1000)], [(3000, 1000), (3000, 2010)]])
    df = retreat_box(_fronts(two), BOX, upstream=UP, metres="map")
    assert df.position_m.iloc[0] == pytest.approx(3000.0) and df["flags"].iloc[0] == ""


def test_upstream_must_be_given_and_is_decided_geometrically():
    fronts = _fronts(
        LineString([(3000, -10), (3200, 1000), (3000, 2010)]),
        LineString([(2900, 2010), (3100, 1000), (2900, -10)]),
    )
    with pytest.raises(DataError, match="upstream"):
        retreat_box(fronts, BOX, upstream=None)
    with pytest.raises(DataError, match="corner"):
        retreat_box(fronts, BOX, upstream=(0, 0))
    with pytest.raises(DataError, match="edge index"):
        retreat_box(fronts, BOX, upstream=7)
    # convex heuristic: these fronts bulge towards +x, so x = 0 is upstream
    assert box_frame(BOX, fronts, upstream="convex").upstream_edge.bounds[0] == 0
    # line orientation: the two lines run in opposite directions -> no majority
    with pytest.raises(DataError, match="cannot tell"):
        retreat_box(fronts, BOX, upstream="right")
    one_way = _fronts(LineString([(3000, -10), (3000, 2010)]))  # runs north
    assert box_frame(BOX, one_way, upstream="right").upstream_edge.bounds[0] == 6000
    assert box_frame(BOX, one_way, upstream="left").upstream_edge.bounds[0] == 0
    # edge index in the box's own corner order
    assert box_frame(BOX, upstream=1, crs=32633).upstream_index == 1


def _turned(glacier, turn: float, reverse: bool):
    """The synthetic glacier's fronts, box and up-glacier point turned by ``turn`` degrees
    about the box centre (the box's corners listed backwards with ``reverse``)."""
    from shapely.geometry.polygon import orient

    c = glacier.box.centroid
    fronts = glacier.fronts.set_geometry(
        glacier.fronts.geometry.apply(lambda g: affinity.rotate(g, turn, origin=c))
    )
    b = affinity.rotate(glacier.box, turn, origin=c)
    b = orient(b, sign=-1.0 if reverse else 1.0)
    up = affinity.rotate(Point(glacier.centreline.coords[0]), turn, origin=c)
    return fronts, gpd.GeoSeries([b], crs=32633), (up.x, up.y)


@pytest.mark.parametrize(("turn", "reverse"), [(0, False), (180, True), (90, False)])
def test_without_upstream_the_error_says_exactly_what_to_pass(glacier, turn, reverse):
    fronts, box_gs, up = _turned(glacier, turn, reverse)
    truth = box_frame(box_gs, fronts, upstream=up)
    with pytest.raises(DataError) as err:
        retreat_box(fronts, box_gs)
    text = str(err.value)
    n = len(fronts)
    assert "'right' if the ice lies on the right of the lines" in text
    assert f"picks edge {truth.upstream_index} here: {n} of {n} lines agree" in text
    down = (truth.upstream_index + 2) % 4
    assert f"'left' if on their left (edge {down})" in text
    point = re.search(rf"'(-?[\d.]+,-?[\d.]+)' \(edge {truth.upstream_index}\)", text).group(1)
    assert f"--upstream={point}" in text
    # either suggestion gives the known positions (within a pixel: CaFFe's front definition)
    for upstream in ("right", point):
        df = retreat_box(fronts, box_gs, upstream=upstream)
        assert np.abs(df.position_m.to_numpy() - glacier.front_position_m.to_numpy()).max() <= PX


def test_without_upstream_or_fronts_every_edge_midpoint_is_offered():
    with pytest.raises(DataError) as err:
        box_frame(BOX, crs=32633)
    text = str(err.value)
    assert "'0,1000' (edge 2)" in text and "'6000,1000' (edge 0)" in text
    assert box_frame(BOX, upstream="0,1000", crs=32633).upstream_index == 2
    # lines running both ways cannot decide 'right'/'left': the midpoints still can
    both = _fronts(LineString([(3000, -10), (3000, 2010)]), LineString([(2900, 2010), (2900, -10)]))
    with pytest.raises(
        DataError,
        match=r"run both ways .*'6000,1000' \(edge 0\) or '0,1000' "
        r"\(edge 2\)",
    ):
        retreat_box(both, BOX)


def test_box_must_have_four_corners():
    with pytest.raises(DataError, match="corners"):
        retreat_box(_fronts(LineString([(0, 0), (1, 1)])), Point(0, 0).buffer(100), upstream=UP)
    # collinear extra vertices are fine
    b = gpd.GeoSeries.from_wkt(
        ["POLYGON((0 0, 3000 0, 6000 0, 6000 2000, 0 2000, 0 0))"], crs=32633
    )
    assert box_frame(b, upstream=UP).length_m == pytest.approx(6000)


def test_centreline_method():
    cl = LineString([(0, 1000), (6000, 1000)])
    wiggle = LineString(
        [(3000, 0), (3000, 950), (2500, 1050), (3300, 950), (3000, 1100), (3000, 2000)]
    )  # crosses y = 1000 at x = 2750, 2900, 3200
    off = LineString([(2000, 1400), (2100, 2000)])
    df = retreat_centreline(
        _fronts(LineString([(3000, 0), (3000, 2000)]), wiggle, off), cl, metres="map"
    )
    assert df.position_m.tolist()[:2] == pytest.approx([3000.0, 2750.0])
    assert df["flags"].tolist() == ["", "multi_intersection:3", "snapped"]
    assert df.position_m.iloc[2] == pytest.approx(2050.0, abs=1.0)
    assert df.n_parts.tolist() == [1, 3, 0]
    rev = retreat_centreline(
        _fronts(LineString([(3000, 0), (3000, 2000)])),
        LineString([(6000, 1000), (0, 1000)]),
        upstream=(0, 1000),
        metres="map",
    )
    assert rev.position_m.iloc[0] == pytest.approx(3000.0)
    beyond = retreat_centreline(_fronts(LineString([(7000, 1400), (7000, 2000)])), cl)
    assert beyond["flags"].iloc[0] == "snapped;beyond_centreline"


def test_centreline_on_the_synthetic_glacier(glacier):
    df = retreat_centreline(glacier.fronts, glacier.centreline)
    on_map = retreat_centreline(glacier.fronts, glacier.centreline, metres="map")
    assert (df["flags"] == "").all()
    for g, pos, map_pos in zip(
        glacier.fronts.geometry, df.position_m, on_map.position_m, strict=False
    ):
        p = glacier.centreline.intersection(g)
        d = glacier.centreline.project(p if p.geom_type == "Point" else p.geoms[0])
        assert d == pytest.approx(map_pos)
        # by default the geodesic length of the line up to the crossing (pyproj.Geod)
        assert geod_length(substring(glacier.centreline, 0, d), 32633) == pytest.approx(pos)
    # positions follow the box positions (same front, different definition) within ~3 px
    box_df = retreat_box(glacier.fronts, gpd.GeoSeries([glacier.box], crs=32633), upstream="right")
    assert np.abs(df.change_m - box_df.change_m).max() < 3 * PX


def test_bad_front_input():
    with pytest.raises(DataError, match="no CRS"):
        retreat_box(_fronts(LineString([(0, 0), (1, 1)]), crs=None), BOX, upstream=UP)
    with pytest.raises(DataError, match="date"):
        retreat_box(
            gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)])], crs=32633), BOX, upstream=UP
        )
    with pytest.raises(DataError, match="glaciers"):
        f = _fronts(LineString([(0, 0), (1, 1)]), LineString([(0, 0), (1, 1)]))
        retreat_box(f.assign(glacier=["a", "b"]), BOX, upstream=UP)
    with pytest.raises(DataError, match="Polygon"):
        retreat_box(_fronts(BOX), BOX, upstream=UP)


# --------------------------------------------------------------------------- reading


def _write_layout(root, glacier):
    name = "kvitravn"
    for date, geom in zip(glacier.fronts.date, glacier.fronts.geometry, strict=False):
        d = f"{date:%Y%m%d}"
        folder = root / "lines" / name / d
        folder.mkdir(parents=True)
        gpd.GeoDataFrame({"ID": [1]}, geometry=[geom], crs=32633).to_file(
            folder / f"{name}_{d}.shp", engine="pyogrio"
        )
    return root / "lines"


def test_read_front_lines_folder_layout_and_single_file(tmp_path, glacier):
    lines = _write_layout(tmp_path, glacier)
    fronts = read_front_lines(lines)
    assert len(fronts) == len(glacier.fronts)
    assert (fronts.date.values == glacier.fronts.date.values).all()
    assert (fronts.glacier == "kvitravn").all() and fronts.crs.to_epsg() == 32633
    assert all(a.equals(b) for a, b in zip(fronts.geometry, glacier.fronts.geometry, strict=False))
    # one GeoPackage with a date column, in another CRS: same positions
    gpkg = tmp_path / "fronts.gpkg"
    glacier.fronts.to_crs(4326).to_file(gpkg, engine="pyogrio")
    single = read_front_lines(gpkg)
    assert single.crs.to_epsg() == 4326 and (single.glacier == glacier.name).all()
    a = retreat_box(fronts, gpd.GeoSeries([glacier.box], crs=32633), upstream="right")
    b = retreat_box(single, gpd.GeoSeries([glacier.box], crs=32633), upstream="right")
    assert np.allclose(a.position_m, b.position_m, atol=0.05)


def test_read_front_lines_merges_features_of_one_date(tmp_path):
    path = tmp_path / "f.geojson"
    gpd.GeoDataFrame(
        {"date": ["2020-05-01", "2020-05-01", "2020-06-01"], "glacier": "g"},
        geometry=[
            LineString([(0, 0), (1, 0)]),
            LineString([(1, 0), (2, 0)]),
            LineString([(0, 1), (2, 1)]),
        ],
        crs=32633,
    ).to_file(path)
    fronts = read_front_lines(path)
    assert len(fronts) == 2 and fronts.geometry.iloc[0].equals(LineString([(0, 0), (1, 0), (2, 0)]))


def test_read_front_lines_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_front_lines(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no vector files"):
        read_front_lines(tmp_path)
    undated = tmp_path / "undated" / "front.gpkg"
    undated.parent.mkdir()
    gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)])], crs=32633).to_file(undated)
    with pytest.raises(DataError, match=r"front\.gpkg: has no date"):
        read_front_lines(undated.parent)
    bad_date = tmp_path / "bad.gpkg"
    gpd.GeoDataFrame(
        {"date": ["soon"]}, geometry=[LineString([(0, 0), (1, 1)])], crs=32633
    ).to_file(bad_date)
    with pytest.raises(DataError, match=r"bad\.gpkg: variable 'date' holds a date that cannot"):
        read_front_lines(bad_date)
    poly = tmp_path / "poly_20200101.gpkg"
    gpd.GeoDataFrame(geometry=[BOX], crs=32633).to_file(poly)
    with pytest.raises(FileFormatError, match="Polygon"):
        read_front_lines(poly)
    nocrs = tmp_path / "nocrs" / "x_20200101.geojson"
    nocrs.parent.mkdir()
    nocrs.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", '
        '"properties": {}, "geometry": {"type": "LineString", '
        '"coordinates": [[0, 0], [1, 1]]}}]}'
    )
    fronts = read_front_lines(nocrs)  # GeoJSON without crs member is WGS 84 by spec
    assert fronts.crs.to_epsg() == 4326
    garbage = tmp_path / "g" / "x_20200101.shp"
    garbage.parent.mkdir()
    garbage.write_bytes(b"not a shapefile")
    with pytest.raises(FileFormatError, match=r"x_20200101\.shp: cannot be read"):
        read_front_lines(garbage.parent)


# --------------------------------------------------------------------------- tables, analysis


def _seasonal_table():
    dates = pd.date_range("2019-03-01", "2021-09-30", freq="5D")
    dates = dates[(dates.month >= 3) & (dates.month <= 10)]
    doy = dates.day_of_year.to_numpy()
    pos = 4000.0 - 0.5 * (dates - dates[0]).days + 300 * np.cos(2 * np.pi * (doy - 130) / 365.25)
    return pd.DataFrame(
        {
            "date": dates,
            "position_m": pos,
            "change_m": pos - pos[0],
            "method": "box",
            "flags": "",
            "n_parts": 2,
        }
    )


def test_seasonal_summary_and_annual_fit():
    df = _seasonal_table()
    s = seasonal_summary(df)
    assert list(s.index) == [2019, 2020, 2021]
    assert (s.max_date.dt.month <= 6).all() and (s.min_date.dt.month >= 9).all()
    assert (s.amplitude_m > 400).all() and np.isnan(s.winter_change_m.iloc[0])
    fit = fit_annual_cycle(df)
    assert fit.amplitude_m == pytest.approx(300, rel=0.05)
    assert fit.peak_doy == pytest.approx(130, abs=3)
    assert fit.trend_m_per_yr == pytest.approx(-0.5 * 365.25, rel=0.05)
    assert fit.amplitude_m / fit.amplitude_se_m > 10
    with pytest.raises(DataError, match="at least 5"):
        fit_annual_cycle(df.iloc[:3])


def test_table_round_trip_and_parquet_without_pyarrow(tmp_path, monkeypatch):
    df = retreat_box(
        _fronts(LineString([(2500, -10), (2500, 2010)]), LineString([(7000, -10), (7000, 2010)])),
        BOX,
        upstream=UP,
    )
    back = read_retreat_table(write_retreat_table(df, tmp_path / "r.csv"))
    assert back.columns.tolist() == ["date", "position_m", "change_m", "method", "flags", "n_parts"]
    assert back["flags"].tolist() == ["", "no_intersection"] and np.isnan(back.position_m.iloc[1])
    assert (back.date == df.date).all()
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("pyarrow", "fastparquet") else real(name, *a),
    )
    with pytest.raises(DataError, match="pyarrow"):
        write_retreat_table(df, tmp_path / "r.parquet")
    with pytest.raises(DataError, match="extension"):
        write_retreat_table(df, tmp_path / "r.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


def test_plot_is_a_figure_with_the_seasonal_panels(tmp_path):
    df = _seasonal_table()
    df.loc[3, "flags"] = "multipart:3"
    df.loc[5, ["position_m", "change_m", "flags"]] = [np.nan, np.nan, "no_intersection"]
    fig = plot_retreat(df, title="synthetic")
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    top = fig.axes[0]
    labels = [t.get_text() for t in top.get_legend().get_texts()]
    assert any("flagged" in t for t in labels) and any("without a position" in t for t in labels)
    assert any("2019: −" in t.get_text() for t in top.texts)  # seasonal retreat brackets
    out = tmp_path / "r.png"
    fig.savefig(out, dpi=40)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(DataError, match="no finite position"):
        plot_retreat(df.assign(position_m=np.nan))
