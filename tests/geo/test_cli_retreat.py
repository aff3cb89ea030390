"""``workbench retreat``: help with examples, outputs, summary, and clean errors."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

from workbench.cli import build_parser, main
from workbench.geo.retreat import read_retreat_table, retreat_box, retreat_centreline


def test_help_has_examples_for_every_option(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["retreat", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "workbench retreat" in out
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices["retreat"]
    for action in sub._actions:
        assert action.help, f"option {action.dest} has no help"
        if action.option_strings and action.dest != "help":
            assert "e.g." in action.help or "(" in action.help, action.dest


@pytest.fixture(scope="module")
def files(tmp_path_factory, glacier):
    root = tmp_path_factory.mktemp("retreat_cli")
    glacier.fronts.to_file(root / "fronts.gpkg", engine="pyogrio")
    gpd.GeoDataFrame({"name": ["box"]}, geometry=[glacier.box], crs=32633).to_file(
        root / "box.gpkg"
    )
    gpd.GeoDataFrame({"name": ["cl"]}, geometry=[glacier.centreline], crs=32633).to_file(
        root / "centreline.geojson"
    )
    return root


def test_box_run_writes_table_and_figure(files, glacier, capsys):
    out = files / "out_box"
    x, y = glacier.centreline.coords[0]
    assert (
        main(
            [
                "retreat",
                str(files / "fronts.gpkg"),
                "--box",
                str(files / "box.gpkg"),
                f"--upstream={x},{y}",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "box method: 7 dates" in text and "net change" in text and "flagged: 0 of 7" in text
    table = read_retreat_table(out / "retreat_box.csv")
    expected = retreat_box(
        glacier.fronts,
        gpd.GeoSeries([glacier.box], crs=32633),
        upstream=glacier.centreline.coords[0],
    )
    assert np.allclose(table.position_m, expected.position_m)
    assert np.abs(table.position_m.to_numpy() - glacier.front_position_m.to_numpy()).max() <= 80
    assert (out / "retreat_box.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in out.iterdir()) == ["retreat_box.csv", "retreat_box.png"]


def test_centreline_run(files, glacier, capsys):
    out = files / "out_cl"
    assert (
        main(
            [
                "retreat",
                str(files / "fronts.gpkg"),
                "--centerline",
                str(files / "centreline.geojson"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "centreline method: 7 dates" in capsys.readouterr().out
    table = read_retreat_table(out / "retreat_centreline.csv")
    assert np.allclose(
        table.position_m, retreat_centreline(glacier.fronts, glacier.centreline).position_m
    )


def test_errors_are_reported_without_traceback(files, capsys, tmp_path):
    out = tmp_path / "nothing"
    assert (
        main(
            [
                "retreat",
                str(files / "fronts.gpkg"),
                "--box",
                str(files / "box.gpkg"),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "upstream" in err and "--upstream" in err and "Traceback" not in err
    assert not out.exists()
    assert (
        main(
            [
                "retreat",
                str(tmp_path / "missing"),
                "--box",
                str(files / "box.gpkg"),
                "--upstream",
                "right",
            ]
        )
        == 2
    )
    assert "missing: does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["retreat", str(files / "fronts.gpkg")])  # --box or --centerline is required
