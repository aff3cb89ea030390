"""Vector products: traced fronts and outlines match the synthetic ground truth; files round-trip."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _geo_helpers import PX
from affine import Affine
from shapely.geometry import LineString, MultiLineString

from workbench.data.encoding import GLACIER, OCEAN
from workbench.errors import DataError, LabelEncodingError
from workbench.geo.vectors import (
    fronts_from_stack,
    fronts_from_zones,
    outlines_from_mask,
    outlines_from_stack,
    trace_front_pixels,
    write_vectors,
)

T = Affine(30.0, 0.0, 400000.0, 0.0, -30.0, 8600000.0)


# --------------------------------------------------------------------------- tracing


def _steps(path):
    return np.abs(np.diff(path, axis=0)).max(axis=1)


def test_trace_walks_8_connected_chains_without_zigzag():
    m = np.zeros((12, 12), bool)
    r, c = np.indices(m.shape)
    m[(c == r) | (c == r + 1)] = True  # 4-connected staircase, 23 pixels
    paths = trace_front_pixels(m)
    assert len(paths) == 1
    p = paths[0]
    assert (_steps(p) == 1).all()  # every step is to an 8-neighbour
    assert len(p) == 12 and (p[:, 0] == p[:, 1]).all()  # corners cut: the diagonal


def test_trace_branches_loops_and_clusters():
    t = np.zeros((9, 15), bool)
    t[4, :] = True
    t[5:, 7] = True  # a 4-pixel branch
    t[0, 0:5] = True  # a second cluster
    t[0, 10] = True  # a single pixel: too short
    paths = trace_front_pixels(t)
    lengths = sorted(len(p) for p in paths)
    assert lengths == [5, 5, 15]  # main line, branch joined at (4, 7), second cluster
    branch = [p for p in paths if len(p) == 5 and p[:, 1].min() == 7][0]
    assert {tuple(branch[0]), tuple(branch[-1])} >= {(4, 7)} or (4, 7) in map(tuple, branch)
    ring = np.zeros((10, 10), bool)
    ring[2, 2:8] = ring[7, 2:8] = ring[2:8, 2] = ring[2:8, 7] = True
    loop = trace_front_pixels(ring)
    traced = np.concatenate(loop)
    for px in np.argwhere(ring):  # every pixel is on or next to (a cut corner) a line
        assert np.abs(traced - px).max(axis=1).min() <= 1
    assert all((_steps(p) == 1).all() for p in loop)
    merged = shapely.line_merge(MultiLineString([LineString(p[:, ::-1]) for p in loop]))
    assert merged.geom_type == "LineString" and merged.is_ring  # the loop comes out closed


def test_trace_drops_short_spurs():
    m = np.zeros((7, 20), bool)
    m[3, :] = True
    m[4, 9] = True  # one-pixel bump: absorbed (within one pixel of the line)
    m[2:0:-1, 15] = True  # two-pixel spur: traced, but shorter than 3 pixels -> dropped
    paths = trace_front_pixels(m, min_length_px=3)
    assert len(paths) == 1 and len(paths[0]) == 20


# --------------------------------------------------------------------------- fronts


def test_fronts_match_synthetic_ground_truth_within_one_pixel(glacier):
    fronts = fronts_from_stack(glacier.stack, model="truth")
    truth = glacier.fronts
    assert len(fronts) == len(truth)
    assert (fronts.date.values == truth.date.values).all()
    assert fronts.crs == truth.crs
    for got, ref, n in zip(fronts.geometry, truth.geometry, fronts.n_parts, strict=False):
        assert n == 1 and got.geom_type == "LineString"
        assert got.hausdorff_distance(ref) <= PX * math.sqrt(2) + 1e-6
        # same orientation: the ice is on the right of both (left bank -> right bank)
        a, b = np.asarray(got.coords), np.asarray(ref.coords)
        assert np.dot(a[-1] - a[0], b[-1] - b[0]) > 0
    # corners are cut, so the traced line is a little shorter than the pixel chain
    ratio = fronts.length_m.to_numpy() / truth.length_m.to_numpy()
    assert ((ratio > 0.85) & (ratio <= 1.0 + 1e-9)).all()
    assert set(fronts.columns) >= {
        "date",
        "glacier",
        "sensor",
        "model",
        "mean_confidence",
        "length_m",
        "n_parts",
        "geometry",
    }
    assert fronts.sensor.iloc[0] in ("S1A", "S1B") and fronts.glacier.iloc[0] == glacier.name


def test_front_vertices_land_on_input_pixel_centres(glacier):
    ds = glacier.stack
    zones = ds.zones.isel(time=0).values
    row = fronts_from_zones(
        zones, ds.rio.transform(), ds.rio.crs, date=ds.time.values[0], glacier="g", model="m"
    ).iloc[0]
    xy = np.asarray(row.geometry.coords)
    cols = np.searchsorted(ds.x.values, xy[:, 0])
    rows = np.searchsorted(-ds.y.values, -xy[:, 1])
    assert np.allclose(ds.x.values[cols], xy[:, 0]) and np.allclose(ds.y.values[rows], xy[:, 1])
    front = ds.front.isel(time=0).values.astype(bool)
    assert front[rows, cols].all()  # every vertex is a front pixel of the input


def test_fronts_accept_caffe_values_confidence_and_dataarrays(glacier):
    ds = glacier.stack
    z = ds.zones.isel(time=1)
    caffe = np.asarray([0, 64, 127, 254], np.uint8)[z.values]
    conf = np.where(ds.front.isel(time=1).values == 1, 0.7, 0.1)
    a = fronts_from_zones(z, date="2019-01-13", glacier="g", model="m").iloc[0]  # DataArray
    b = fronts_from_zones(
        caffe,
        ds.rio.transform(),
        ds.rio.crs,
        date="2019-01-13",
        glacier="g",
        model="m",
        confidence=conf,
    ).iloc[0]
    assert a.geometry.equals(b.geometry)
    assert b.mean_confidence == pytest.approx(0.7)
    assert math.isnan(a.mean_confidence)


def test_no_front_keeps_the_row_with_empty_geometry():
    z = np.full((20, 20), GLACIER, np.uint8)
    z[:, 15:] = OCEAN
    gdf = fronts_from_zones(
        z, T, 32633, date="2020-01-01", glacier="g", model="m"
    )  # 20 px * 30 m < 750 m
    assert len(gdf) == 1 and gdf.geometry.iloc[0] is None
    assert gdf.length_m.iloc[0] == 0.0 and gdf.n_parts.iloc[0] == 0
    kept = fronts_from_zones(
        z, T, 32633, date="2020-01-01", glacier="g", model="m", min_cluster_m=0
    )
    assert kept.length_m.iloc[0] == pytest.approx(19 * 30.0)
    dropped = fronts_from_zones(
        z, T, 32633, date="2020-01-01", glacier="g", model="m", min_cluster_m=0, min_length_m=600
    )
    assert dropped.geometry.iloc[0] is None


def test_several_fronts_make_one_multilinestring_row():
    z = np.full((60, 60), OCEAN, np.uint8)
    z[:, :40] = GLACIER
    z[20:30, :40] = 1  # a rock spur splits the ice front into two pieces
    gdf = fronts_from_zones(z, T, 32633, date="2020-01-01", glacier="g", model="m", min_cluster_m=0)
    assert len(gdf) == 1
    row = gdf.iloc[0]
    assert row.geometry.geom_type == "MultiLineString" and row.n_parts == 2
    assert sorted(round(g.length) for g in row.geometry.geoms) == [19 * 30, 29 * 30]
    assert row.length_m == pytest.approx(48 * 30.0)


def test_bad_zone_input_is_refused():
    with pytest.raises(LabelEncodingError):
        fronts_from_zones(np.full((5, 5), 7), T, 32633, date="2020-01-01", glacier="g", model="m")
    with pytest.raises(DataError, match="crs"):
        fronts_from_zones(np.full((5, 5), 2), T, None, date="2020-01-01", glacier="g", model="m")
    with pytest.raises(DataError, match="date"):
        fronts_from_zones(np.full((5, 5), 2), T, 32633, date="not a date", glacier="g", model="m")
    with pytest.raises(DataError, match="confidence"):
        fronts_from_zones(
            np.full((5, 5), 2),
            T,
            32633,
            date="2020-01-01",
            glacier="g",
            model="m",
            confidence=np.zeros((4, 4)),
        )


# --------------------------------------------------------------------------- outlines


def test_outlines_match_synthetic_ground_truth(glacier):
    out = outlines_from_stack(glacier.stack, model="truth", min_area_km2=0, hole_min_area_km2=0)
    truth = glacier.outlines
    for got, ref in zip(out.geometry, truth.geometry, strict=False):
        assert got.symmetric_difference(ref).area <= 1e-6 * ref.area
    assert np.allclose(out.area_km2, truth.area_km2)
    assert (out.term_type == 1).all()  # marine-terminating: the glacier meets the ocean
    assert (out.src_date == out.date.dt.strftime("%Y-%m-%d")).all()
    assert (out.glac_name == glacier.name).all()


def test_outline_thresholds_holes_and_confidence():
    m = np.zeros((40, 40), bool)
    m[5:35, 5:35] = True
    m[10:20, 10:20] = False  # a 10×10 px hole: 0.09 km² at 30 m
    m[25:27, 25:27] = False  # a 2×2 px hole: 0.0036 km²
    m[0, 39] = True  # a stray pixel
    conf = np.where(m, 0.9, 0.0)
    row = outlines_from_mask(
        m,
        T,
        32633,
        date="2021-08-01",
        glacier="g",
        model="m",
        confidence=conf,
        ocean=np.zeros_like(m),
    ).iloc[0]
    assert row.geometry.geom_type == "Polygon" and len(row.geometry.interiors) == 1
    assert row.area_km2 == pytest.approx((900 - 100) * 0.0009)
    assert row.mean_confidence == pytest.approx(0.9) and row.term_type == 0
    everything = outlines_from_mask(
        m, T, 32633, date="2021-08-01", glacier="g", min_area_km2=0, hole_min_area_km2=0
    ).iloc[0]
    assert everything.geometry.geom_type == "MultiPolygon"
    assert everything.area_km2 == pytest.approx(m.sum() * 0.0009)
    assert everything.term_type == 9
    # exact pixel boundaries: the outline's bounds are pixel edges
    minx, miny, maxx, maxy = row.geometry.bounds
    assert (minx, maxy) == T * (5, 5) and (maxx, miny) == T * (35, 35)


def test_outline_errors():
    with pytest.raises(DataError, match="binary"):
        outlines_from_mask(np.array([[0, 2]]), T, 32633, date="2021-01-01", glacier="g")
    with pytest.raises(DataError, match="term_type"):
        outlines_from_mask(np.ones((3, 3)), T, 32633, date="2021-01-01", glacier="g", term_type=5)


# --------------------------------------------------------------------------- files


def _products(glacier):
    fronts = fronts_from_stack(glacier.stack, model="unet", confidence=None)
    outlines = outlines_from_stack(glacier.stack, model="unet")
    return fronts, outlines


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
def test_vector_files_round_trip(tmp_path, glacier, suffix):
    fronts, outlines = _products(glacier)
    for name, gdf in (("fronts", fronts), ("outlines", outlines)):
        path = write_vectors(gdf, tmp_path / f"{name}{suffix}")
        back = gpd.read_file(path)
        assert len(back) == len(gdf)
        assert back.crs.to_epsg() == (32633 if suffix == ".gpkg" else 4326)
        assert pd.api.types.is_datetime64_any_dtype(back["date"])
        assert (
            back["date"].dt.strftime("%Y-%m-%d").tolist()
            == gdf["date"].dt.strftime("%Y-%m-%d").tolist()
        )
        assert back["glacier"].tolist() == gdf["glacier"].tolist()
        native = back.to_crs(gdf.crs)
        for a, b in zip(native.geometry, gdf.geometry, strict=False):
            tol = 1e-6 if suffix == ".gpkg" else 0.05  # RFC 7946: 7 decimals ≈ 1 cm
            assert a.hausdorff_distance(b) <= tol
        if name == "fronts":
            assert np.allclose(back.length_m, gdf.length_m)
        else:
            assert np.allclose(back.area_km2, gdf.area_km2) and (back.term_type == 1).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"fronts{suffix}", f"outlines{suffix}"]
    )


def test_empty_geometry_rows_survive_files(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"date": pd.to_datetime(["2020-01-01", "2020-01-13"]), "glacier": "g"},
        geometry=[LineString([(0, 0), (10, 10)]), None],
        crs=32633,
    )
    for suffix in (".gpkg", ".geojson"):
        back = gpd.read_file(write_vectors(gdf, tmp_path / f"f{suffix}"))
        assert back.geometry.iloc[1] is None and len(back) == 2


def test_write_vectors_refuses_bad_input(tmp_path, glacier):
    gdf = glacier.fronts
    with pytest.raises(DataError, match="no CRS"):
        write_vectors(gdf.set_crs(None, allow_override=True), tmp_path / "a.gpkg")
    with pytest.raises(DataError, match="no rows"):
        write_vectors(gdf.iloc[:0], tmp_path / "a.gpkg")
    with pytest.raises(DataError, match="extension"):
        write_vectors(gdf, tmp_path / "a.shp")
    with pytest.raises(DataError, match="GeoDataFrame"):
        write_vectors(pd.DataFrame(gdf), tmp_path / "a.gpkg")
    assert list(tmp_path.iterdir()) == []
