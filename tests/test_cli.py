"""The ``workbench`` command: help texts, info, demo, and errors reported without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import pytest
import rioxarray  # noqa: F401  (registers .rio)

from workbench.cli import build_parser, main
from workbench.data.caffe import CaffeDataset
from workbench.data.demo import caffe_stem, db_to_uint8, make_demo_world
from workbench.data.stack import open_stack
from workbench.errors import DataError

SUBCOMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_every_subcommand_help_has_examples(sub, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([sub, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"workbench {sub}" in out
    # every option is explained
    parser = build_parser()
    for action in parser._subparsers._group_actions[0].choices[sub]._actions:
        assert action.help, f"option {action.dest} of `workbench {sub}` has no help"


def test_every_subcommand_is_covered():
    assert {"demo", "info", "train", "evaluate", "predict", "retreat", "serve"} <= set(SUBCOMMANDS)


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "info"], capture_output=True, text=True, check=True
    ).stdout
    assert "glacier-workbench" in out and "torch" in out and "device" in out


def test_info_on_missing_path_is_a_clean_error(capsys, tmp_path):
    assert main(["info", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere: does not exist" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "world"
    assert (
        main(
            [
                "demo",
                "--out",
                str(root),
                "--glaciers",
                "2",
                "--years",
                "0.1",
                "--size",
                "96",
                "--pixel-size",
                "60",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    return root


def test_demo_world_layout_and_manifest(world):
    manifest = json.loads((world / "manifest.json").read_text())
    assert len(manifest["glaciers"]) == 2
    assert manifest["crs"] == "EPSG:32633"
    for g in manifest["glaciers"]:
        ds = open_stack(world / g["zarr"])
        assert ds.rio.crs.to_epsg() == 32633
        assert ds.rio.resolution() == (60.0, -60.0)
        assert ds.sizes["time"] == g["n_dates"]
        tif = open_stack(world / g["geotiff"])
        assert tif.rio.transform() == ds.rio.transform()
        assert (tif["time"].values == ds["time"].values).all()
    assert (world / "preview.png").stat().st_size > 10_000


def test_demo_world_vectors_open_in_geopandas(world):
    fronts = gpd.read_file(world / "fronts.gpkg")
    outlines = gpd.read_file(world / "outlines.gpkg")
    manifest = json.loads((world / "manifest.json").read_text())
    n_dates = sum(g["n_dates"] for g in manifest["glaciers"])
    assert len(fronts) == len(outlines) == n_dates
    assert fronts.crs.to_epsg() == outlines.crs.to_epsg() == 32633
    assert set(fronts.geom_type) == {"LineString"}
    assert set(outlines.geom_type) <= {"Polygon", "MultiPolygon"}
    assert (fronts["length_m"] > 0).all() and (outlines["area_km2"] > 0).all()


def test_demo_world_caffe_export_reads_back(world):
    ds = CaffeDataset(world / "caffe")
    manifest = json.loads((world / "manifest.json").read_text())
    assert len(ds) == sum(g["n_dates"] for g in manifest["glaciers"])
    sample = ds[0]
    entry = next(g for g in manifest["glaciers"] if g["name"] == sample["meta"].glacier)
    stack = open_stack(world / entry["zarr"])
    first = stack.sel(time=str(sample["meta"].date))
    assert (sample["zones"].numpy() == first["zones"].values).all()
    assert (sample["front"].numpy().astype(bool) == first["front"].values.astype(bool)).all()


def test_demo_refuses_to_overwrite(world):
    with pytest.raises(DataError, match="already exists.*--force"):
        make_demo_world(world)


def test_demo_interrupted_leaves_nothing(tmp_path, monkeypatch):
    import workbench.data.demo as demo

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "preview_figure", boom)
    target = tmp_path / "world"
    with pytest.raises(KeyboardInterrupt):
        make_demo_world(target, n_glaciers=1, years=0.05, size=64, pixel_size=60)
    assert list(tmp_path.iterdir()) == []


def test_caffe_stem_and_db_mapping():
    assert (
        caffe_stem("Kongsbreen", "2019-01-13", "S1B", 20.0, 7)
        == "Kongsbreen_2019-01-13_S1_20_1_007"
    )
    assert db_to_uint8(__import__("numpy").array([-30.0, 5.0])).tolist() == [1, 255]
