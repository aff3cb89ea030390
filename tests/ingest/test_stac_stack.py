"""``workbench stack`` on a static STAC catalogue built in the test (real COGs by rasterio):
the stack's grid, CRS, dates, dB values, mosaic, per-date coordinates and skipped dates, and
that the output opens in the dashboard's catalogue without further steps."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rioxarray  # noqa: F401  (registers .rio)
from _stac_helpers import (
    EXPECTED,
    MOSAIC_SPLIT_X,
    SKIPPED,
    aoi_box,
    build_catalogue,
    item_collection,
)

from workbench.cli import main
from workbench.data.stack import open_stack


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    return build_catalogue(tmp_path_factory.mktemp("stac") / "catalogue")


@pytest.fixture(scope="module")
def built(catalogue, tmp_path_factory):
    out = tmp_path_factory.mktemp("stacks")
    code = main(
        [
            "stack",
            str(catalogue),
            "--aoi",
            aoi_box(),
            "--datetime",
            "2019-04-01/2019-05-31",
            "--out",
            str(out),
            "--name",
            "testglacier",
            "--no-progress",
        ]
    )
    assert code == 0
    return out


def test_grid_crs_and_dates(built, capsys):
    stack = open_stack(built / "testglacier.zarr")  # validates the conventions
    assert stack.rio.crs.to_epsg() == 32633  # UTM from the AOI centre (15° E)
    assert stack.rio.resolution() == (20.0, -20.0)  # the items' native pixel size
    x, y = stack.x.values, stack.y.values
    assert np.allclose((x - 10) % 20, 0) and np.allclose(
        (y - 10) % 20, 0
    )  # pixel centres on the 20 m grid
    # the grid is the AOI's bounding box in UTM: inside the central 64² px of the tiles
    assert 500640 <= x.min() - 10 and x.max() + 10 <= 501920
    assert 8758080 <= y.min() - 10 and y.max() + 10 <= 8759360
    assert stack.sizes["y"] >= 55 and stack.sizes["x"] >= 55
    assert list(stack.time.values) == sorted(EXPECTED)  # exact acquisition times, sorted


def test_values_are_db_and_the_mosaic_joins_two_items(built):
    stack = open_stack(built / "testglacier.zarr")
    assert stack.sigma0_db.attrs["units"] == "dB"
    assert stack.sigma0_db.attrs["quantity"] == "gamma0"
    for when, (power, *_rest) in EXPECTED.items():
        day = stack.sigma0_db.sel(time=when).values
        assert np.isfinite(day).all(), f"{when}: nodata inside the AOI"
        if power is not None:
            # 10·log10 of the linear power, also for the item in EPSG:3413 (reprojected)
            np.testing.assert_allclose(day, 10 * np.log10(power), atol=1e-4, err_msg=str(when))
    mosaic = stack.sigma0_db.sel(time=np.datetime64("2019-04-13T07:12:00"))
    west = mosaic.where(mosaic.x < MOSAIC_SPLIT_X - 20, drop=True).values
    east = mosaic.where(mosaic.x > MOSAIC_SPLIT_X + 20, drop=True).values
    np.testing.assert_allclose(west, -10.0, atol=1e-4)  # 0.10 from the western item
    np.testing.assert_allclose(east, -20.0, atol=1e-4)  # 0.01 from the eastern item


def test_per_date_coordinates(built):
    stack = open_stack(built / "testglacier.zarr")
    for i, when in enumerate(stack.time.values):
        _, direction, rel, sensor = EXPECTED[when]
        assert stack.orbit_direction.values[i] == direction
        assert int(stack.relative_orbit.values[i]) == rel and stack.orbit.values[i] == str(rel)
        assert stack.sensor.values[i] == sensor
        assert stack.platform.values[i] == f"SENTINEL-1{sensor[-1]}"
        assert stack.polarisation.values[i] == "VV"
    mosaic = list(stack.time.values).index(np.datetime64("2019-04-13T07:12:00"))
    assert stack.product_id.values[mosaic] == "S1A_20190413T071200_W+S1A_20190413T071220_E"
    assert stack.attrs["collection"] == "sentinel-1-rtc"


def test_skipped_dates_are_reported(built, catalogue, tmp_path, capsys):
    stack = open_stack(built / "testglacier.zarr")
    skipped = json.loads(stack.attrs["skipped_dates"])
    assert {np.datetime64(s["time"]): s["reason"].split(" ")[0] for s in skipped} == {
        t: r.split(" ")[0] for t, r in SKIPPED.items()
    }
    for s in skipped:
        assert 0.3 < s["coverage"] < 0.5  # about 40 % of the AOI each
    # the terminal report names them
    args = [
        "stack",
        str(catalogue),
        "--aoi",
        aoi_box(),
        "--datetime",
        "2019-04-01/2019-05-31",
        "--no-progress",
    ]
    assert main([*args, "--out", str(tmp_path / "strict")]) == 0
    report = capsys.readouterr().out.splitlines()
    assert report[1] == "skipped 2 dates below the minimum coverage of the AOI:"
    assert report[2].startswith("  2019-04-30 16:05 (footprints cover 4")
    assert report[3].startswith("  2019-05-07 07:12 (valid pixels cover 4")
    # a lower threshold keeps both partial dates, the holes as NaN
    assert main([*args, "--out", str(tmp_path / "lenient"), "--min-coverage", "0.3"]) == 0
    report = capsys.readouterr().out.splitlines()
    assert len(report) == 1 and " 7 dates " in report[0]
    lenient = open_stack(tmp_path / "lenient" / "aoi.zarr")
    holed = lenient.sigma0_db.sel(time=np.datetime64("2019-05-07T07:12:00"))
    assert 0.3 < float(np.isfinite(holed).mean()) < 0.5
    assert json.loads(lenient.attrs["skipped_dates"]) == []


def test_orbit_polarisation_and_crs_options(catalogue, tmp_path):
    code = main(
        [
            "stack",
            str(catalogue),
            "--aoi",
            aoi_box(),
            "--datetime",
            "2019-04-01/2019-05-31",
            "--out",
            str(tmp_path),
            "--orbit",
            "descending",
            "--polarisation",
            "VH",
            "--crs",
            "EPSG:3413",
            "--resolution",
            "40",
            "--no-progress",
        ]
    )
    assert code == 0
    stack = open_stack(tmp_path / "aoi.zarr")
    assert stack.rio.crs.to_epsg() == 3413 and stack.rio.resolution() == (40.0, -40.0)
    assert list(stack.time.values) == [
        np.datetime64("2019-04-06T16:05:00"),
        np.datetime64("2019-04-18T16:05:00"),
    ]
    assert set(stack.polarisation.values) == {"VH"}
    inside = stack.sigma0_db.sel(time=np.datetime64("2019-04-06T16:05:00")).values
    # VH is a fifth of VV: 0.05 / 5 → -20 dB (bilinear at the edges of the rotated grid)
    assert np.nanmedian(inside) == pytest.approx(-20.0, abs=1e-4)


def test_item_collection_file_is_a_source(catalogue, tmp_path):
    items, _ = item_collection(catalogue, tmp_path / "api")
    code = main(
        [
            "stack",
            str(items),
            "--aoi",
            aoi_box(),
            "--datetime",
            "2019-04-01/2019-04-10",
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
        ]
    )
    assert code == 0
    stack = open_stack(tmp_path / "out" / "aoi.zarr")
    assert list(stack.time.values) == [
        np.datetime64("2019-04-01T07:12:00"),
        np.datetime64("2019-04-06T16:05:00"),
    ]


def test_the_output_opens_in_the_dashboard_catalogue(built):
    from workbench.viz.sources import DataRoots, discover, open_series

    roots = DataRoots([built])
    found = discover(roots)
    entry = found[built.name]
    assert entry.kind == "stacks" and entry.glaciers == ("testglacier.zarr",)
    series = open_series(entry, "testglacier.zarr", roots)
    assert len(series) == len(EXPECTED)
    assert series.label(0) == "2019-04-01 · S1A · orbit 15"
    assert series.stack is not None and series.crs.to_epsg() == 32633


def test_nothing_is_left_behind(built):
    assert sorted(p.name for p in built.iterdir()) == ["testglacier.zarr"]


def test_opera_conventions(tmp_path):
    """OPERA RTC-S1 as ASF serves it: upper-case asset keys (VV, VH, mask), γ0 linear power with
    NaN nodata, 30 m UTM bursts, and items without sar:polarizations (read from the assets)."""
    import datetime as dt

    from affine import Affine

    from workbench.ingest.local_catalogue import Scene, write_catalogue

    power = np.full((96, 96), 0.08, np.float32)
    power[:, :8] = np.nan  # burst edge without data
    scenes = [
        Scene(
            id=f"OPERA_L2_RTC-S1_T066-140780-IW1_201904{d:02d}T071200Z_S1A_30_v1.0",
            datetime=dt.datetime(2019, 4, d, 7, 12),
            crs="EPSG:32633",
            transform=Affine(30, 0, 500000, 0, -30, 8760000),
            nodata=float("nan"),
            bands={"VV": power, "VH": power / 4, "mask": np.zeros((96, 96), np.float32)},
            polarizations=[],
            orbit_state="descending",
            relative_orbit=66,
        )
        for d in (2, 14)
    ]
    cat = write_catalogue(tmp_path / "cat", scenes, collection_id="OPERA_L2_RTC-S1_V1")
    assert (
        main(
            [
                "stack",
                str(cat),
                "--aoi",
                "15.01,78.90,15.05,78.91",
                "--datetime",
                "2019-04-01/2019-04-30",
                "--out",
                str(tmp_path / "out"),
                "--no-progress",
            ]
        )
        == 0
    )
    stack = open_stack(tmp_path / "out" / "aoi.zarr")
    assert stack.attrs["profile"] == "OPERA RTC-S1" and stack.attrs["asset"] == "VV"
    assert stack.sigma0_db.attrs["quantity"] == "gamma0"
    assert stack.rio.resolution() == (30.0, -30.0)
    assert list(stack.polarisation.values) == ["VV", "VV"]
    values = stack.sigma0_db.values
    np.testing.assert_allclose(values[np.isfinite(values)], 10 * np.log10(0.08), atol=1e-4)
    # the burst's empty western edge is NaN, and its share shows in the coverage coordinate
    assert np.isnan(values[:, :, 0]).all() and np.isfinite(values[:, :, -1]).all()
    assert all(0.8 < c < 1.0 for c in stack.coverage.values)
