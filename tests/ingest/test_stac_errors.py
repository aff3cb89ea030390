"""Bad input to ``workbench stack`` gets a clear error naming the thing and what was expected,
exit status 2, no traceback and nothing written: an AOI outside the items, an empty search, a
date range backwards, an asset key that does not exist, mixed polarisations, amplitude vs
power confusion, uncalibrated GRD, values that contradict their declared scale."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pytest
from _stac_helpers import ASC, PX, X0, Y0, aoi_box, build_catalogue
from affine import Affine
from shapely.geometry import box

from workbench.cli import main
from workbench.ingest.local_catalogue import Scene, write_catalogue

DATES = "2019-04-01/2019-05-31"


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    return build_catalogue(tmp_path_factory.mktemp("stac") / "catalogue")


def _scene(day: int, bands: dict, orbit=ASC, **kw) -> Scene:
    return Scene(
        id=f"S1_{day:02d}",
        datetime=dt.datetime(2019, 4, day, 7, 12),
        crs="EPSG:32633",
        transform=Affine(PX, 0, X0, 0, -PX, Y0),
        bands=bands,
        **orbit,
        **kw,
    )


def _fail(argv: list[str], capsys, out) -> str:
    """Run the CLI, expect exit 2, return the one error line; nothing may be written."""
    code = main([*argv, "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.startswith("workbench stack: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert not out.exists() or list(out.iterdir()) == []
    return lines[0]


def test_aoi_outside_the_items(catalogue, tmp_path, capsys):
    msg = _fail(
        ["stack", str(catalogue), "--aoi=-20.0,64.0,-19.9,64.1", "--datetime", DATES],
        capsys,
        tmp_path / "o",
    )
    assert "the AOI -20.0,64.0,-19.9,64.1 lies outside all 8 items" in msg
    assert (
        "(they cover 14.9209,78.8725,15.1986,78.9259 as W,S,E,N)" in msg
        and "expected an AOI inside the catalogue's items" in msg
    )


def test_empty_search(catalogue, tmp_path, capsys):
    msg = _fail(
        ["stack", str(catalogue), "--aoi", aoi_box(), "--datetime", "2021-01-01/2021-02-01"],
        capsys,
        tmp_path / "o",
    )
    assert "has no items between 2021-01-01 and 2021-02-01: the search is empty" in msg
    assert "its items span 2019-04-01..2019-05-07" in msg


def test_unknown_collection(catalogue, tmp_path, capsys):
    msg = _fail(
        [
            "stack",
            str(catalogue),
            "--aoi",
            aoi_box(),
            "--datetime",
            DATES,
            "--collection",
            "sentinel-2-l2a",
        ],
        capsys,
        tmp_path / "o",
    )
    assert (
        "has no items of collection 'sentinel-2-l2a' (its collections: ['sentinel-1-rtc'])" in msg
    )


def test_date_range_backwards(catalogue, tmp_path, capsys):
    msg = _fail(
        ["stack", str(catalogue), "--aoi", aoi_box(), "--datetime", "2019-05-31/2019-04-01"],
        capsys,
        tmp_path / "o",
    )
    assert (
        "variable '--datetime' is '2019-05-31/2019-04-01': it ends (2019-04-01) before it starts"
        in msg
    )


def test_asset_key_that_does_not_exist(catalogue, tmp_path, capsys):
    msg = _fail(
        ["stack", str(catalogue), "--aoi", aoi_box(), "--datetime", DATES, "--asset", "sigma0"],
        capsys,
        tmp_path / "o",
    )
    assert "variable '--asset' has no asset 'sigma0' (its assets: ['vh', 'vv'])" in msg


def test_mixed_polarisations(tmp_path, capsys):
    cat = write_catalogue(
        tmp_path / "cat",
        [
            _scene(
                1,
                {
                    "hh": np.full((64, 64), 0.1, np.float32),
                    "hv": np.full((64, 64), 0.01, np.float32),
                },
            ),
            _scene(
                13,
                {
                    "vv": np.full((64, 64), 0.1, np.float32),
                    "vh": np.full((64, 64), 0.01, np.float32),
                },
            ),
        ],
    )
    box_ = "15.005,78.905,15.02,78.909"
    msg = _fail(["stack", str(cat), "--aoi", box_, "--datetime", DATES], capsys, tmp_path / "o")
    assert (
        "variable 'items' come in mixed polarisations with none common to all "
        "(HH: 1 items, HV: 1 items, VH: 1 items, VV: 1 items)" in msg
    )
    assert "--polarisation HH|VV|HV|VH" in msg
    # picking one leaves the other items out and works
    assert (
        main(
            [
                "stack",
                str(cat),
                "--aoi",
                box_,
                "--datetime",
                DATES,
                "--polarisation",
                "HH",
                "--out",
                str(tmp_path / "hh"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert "left out 1 of 2 items without HH (HH: 1 items" in capsys.readouterr().out


def test_amplitude_declared_but_power_requested(tmp_path, capsys):
    cat = write_catalogue(
        tmp_path / "cat",
        [_scene(1, {"vv": np.full((64, 64), 0.3, np.float32)}, unit="amplitude")],
        collection_id="my-rtc",
    )
    args = ["stack", str(cat), "--aoi", "15.005,78.905,15.02,78.909", "--datetime", DATES]
    msg = _fail([*args, "--scale", "power"], capsys, tmp_path / "o")
    assert (
        "variable '--scale' is 'power', but the items say their values are linear amplitude" in msg
    )
    # without --scale the declared amplitude is squared: 20·log10(0.3)
    assert main([*args, "--out", str(tmp_path / "ok"), "--no-progress"]) == 0
    from workbench.data.stack import open_stack

    values = open_stack(tmp_path / "ok" / "aoi.zarr").sigma0_db.values
    np.testing.assert_allclose(values, 20 * np.log10(0.3), atol=1e-4)


def test_undeclared_scale_needs_scale_option(tmp_path, capsys):
    cat = write_catalogue(
        tmp_path / "cat",
        [_scene(1, {"vv": np.full((64, 64), 0.1, np.float32)})],
        collection_id="my-rtc",
    )
    msg = _fail(
        ["stack", str(cat), "--aoi", "15.005,78.905,15.02,78.909", "--datetime", DATES],
        capsys,
        tmp_path / "o",
    )
    assert "does not say whether its values are linear power, amplitude or dB" in msg
    assert "expected --scale power|amplitude|dB" in msg


def test_digital_numbers_declared_as_power(tmp_path, capsys):
    rng = np.random.default_rng(0)
    cat = write_catalogue(
        tmp_path / "cat",
        [_scene(1, {"vv": rng.uniform(50, 400, (64, 64)).astype(np.float32)}, unit="linear power")],
        collection_id="my-rtc",
    )
    msg = _fail(
        ["stack", str(cat), "--aoi", "15.005,78.905,15.02,78.909", "--datetime", DATES],
        capsys,
        tmp_path / "o",
    )
    assert "was read as linear power" in msg and "100% of its values exceed 1.5" in msg
    assert "look like uncalibrated digital numbers" in msg


def test_db_values_declared_as_power(tmp_path, capsys):
    cat = write_catalogue(
        tmp_path / "cat", [_scene(1, {"vv": np.full((64, 64), -12.0, np.float32)})]
    )
    msg = _fail(
        ["stack", str(cat), "--aoi", "15.005,78.905,15.02,78.909", "--datetime", DATES],
        capsys,
        tmp_path / "o",
    )
    assert "100% of its values are negative: they look like dB" in msg


def test_level1_grd_is_refused(tmp_path, capsys):
    cat = write_catalogue(
        tmp_path / "cat",
        [_scene(1, {"vv": np.full((64, 64), 200, np.float32)})],
        collection_id="sentinel-1-grd",
    )
    msg = _fail(
        ["stack", str(cat), "--aoi", "15.005,78.905,15.02,78.909", "--datetime", DATES],
        capsys,
        tmp_path / "o",
    )
    assert "collection 'sentinel-1-grd': Level-1 GRD assets hold uncalibrated amplitude" in msg
    assert "workbench stack --safe" in msg


@pytest.mark.parametrize(
    "aoi, expected",
    [
        ("15,78.9", "variable '--aoi' is '15,78.9': 2 numbers"),
        ("15.1,78.9,15.0,79.0", "west 15.1 is not less than east 15"),
        ("nowhere.gpkg", "is 'nowhere.gpkg', neither numbers nor an existing file"),
    ],
)
def test_malformed_aoi(catalogue, tmp_path, capsys, aoi, expected):
    msg = _fail(
        ["stack", str(catalogue), "--aoi", aoi, "--datetime", DATES], capsys, tmp_path / "o"
    )
    assert expected in msg


def test_outline_file_with_where(catalogue, tmp_path, capsys):
    w, s, e, n = map(float, aoi_box().split(","))
    outlines = gpd.GeoDataFrame(
        {"glac_name": ["Testbreen", "Elsewhere"]},
        geometry=[box(w, s, e, n), box(-20, 64, -19.9, 64.1)],
        crs="EPSG:4326",
    )
    rgi = tmp_path / "rgi.gpkg"
    outlines.to_file(rgi)
    msg = _fail(
        [
            "stack",
            str(catalogue),
            "--aoi",
            str(rgi),
            "--where",
            "glac_name = 'Nobreen'",
            "--datetime",
            DATES,
        ],
        capsys,
        tmp_path / "o",
    )
    assert "has no outline where glac_name = 'Nobreen'" in msg
    assert (
        main(
            [
                "stack",
                str(catalogue),
                "--aoi",
                str(rgi),
                "--where",
                "glac_name = 'Testbreen'",
                "--datetime",
                "2019-04-01/2019-04-02",
                "--out",
                str(tmp_path / "ok"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert (tmp_path / "ok" / "Testbreen.zarr").is_dir()


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--crs", "EPSG:4326", "variable '--crs' is 'EPSG:4326', not a projected CRS in metres"),
        ("--orbit", "sideways", "variable '--orbit' is 'sideways'"),
        ("--polarisation", "XX", "variable '--polarisation' is 'XX'"),
        ("--min-coverage", "1.5", "variable '--min-coverage' is 1.5"),
        ("--resolution", "0.001", "makes a grid of 1,279,9"),
        ("--resolution", "500", "makes a grid of only"),
    ],
)
def test_bad_options(catalogue, tmp_path, capsys, option, value, expected):
    msg = _fail(
        ["stack", str(catalogue), "--aoi", aoi_box(), "--datetime", DATES, option, value],
        capsys,
        tmp_path / "o",
    )
    assert expected in msg


def test_orbit_the_items_do_not_have(catalogue, tmp_path, capsys):
    msg = _fail(
        ["stack", str(catalogue), "--aoi", aoi_box(), "--datetime", DATES, "--orbit", "42"],
        capsys,
        tmp_path / "o",
    )
    assert "no item has sat:relative_orbit = 42 (the items have ['110', '15'])" in msg


def test_missing_arguments_and_safe_conflicts(catalogue, tmp_path, capsys):
    msg = _fail(["stack", str(catalogue), "--aoi", aoi_box()], capsys, tmp_path / "o")
    assert "--datetime missing" in msg
    msg = _fail(["stack", str(catalogue), "--safe", str(tmp_path)], capsys, tmp_path / "o")
    assert "variable '--safe' is given with SOURCE/--aoi/--datetime" in msg
