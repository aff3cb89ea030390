"""Fronts corrected by hand (issue 15 §4), without a browser: the GeoPackage they are saved in,
the folder rules, precedence in the retreat curve and the exports, and `workbench retreat` on
the saved file."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString

from workbench.errors import ConfigError, DataError
from workbench.viz import ExplorerState
from workbench.viz.edits import FrontCorrections


def test_corrections_folder_must_be_writable_and_outside_the_data(world, tmp_path):
    from workbench.viz.sources import DataRoots

    with pytest.raises(ConfigError, match="inside a data root"):
        FrontCorrections(world / "edits", DataRoots([world]))
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ConfigError):
        FrontCorrections(tmp_path / "a_file" / "edits")
    assert (
        FrontCorrections(tmp_path / "edits", DataRoots([world])).folder
        == (tmp_path / "edits").resolve()
    )


def test_a_day_has_one_correction_and_bad_lines_leave_the_file_alone(tmp_path):
    edits = FrontCorrections(tmp_path / "edits")
    line = LineString([(500000, 8700000), (500200, 8700100)])
    edits.save("G", "2020-05-01T10:00", line, crs="EPSG:32633", edited_from="m.pt", editor="ana")
    edits.save("G", "2020-05-01", line.parallel_offset(50), crs="EPSG:32633", edited_from="m.pt")
    edits.save("H", "2020-05-01", line, crs="EPSG:32633", edited_from="reference")
    before = edits.path.read_bytes()
    with pytest.raises(DataError, match="is empty"):
        edits.save("G", "2020-05-13", LineString(), crs="EPSG:32633", edited_from="m.pt")
    assert edits.path.read_bytes() == before  # nothing half-written, nothing lost
    back = gpd.read_file(edits.path, layer="fronts")
    assert sorted(back["glacier"]) == ["G", "H"] and back.crs.to_epsg() == 32633
    g = back[back["glacier"] == "G"].iloc[0]
    assert g["editor"] == "" and g["edited_from"] == "m.pt" and g["source"] == "manual"
    assert g.geometry.equals_exact(
        line.parallel_offset(50), 1e-6
    )  # the second save replaced the first
    assert pd.Timestamp(g["edited_at"]).tzinfo is not None


def test_corrected_fronts_take_precedence_in_retreat_and_export(world, tmp_path):
    s = ExplorerState.from_paths([world], edits=tmp_path / "edits")
    s.date_index = 4
    reference = s.series.ref_at("fronts", 4)
    assert s.front_to_edit()[1] == "reference"  # no model run, no correction: the reference line
    moved = np.asarray(reference.geometry.iloc[0].coords)[:, :2] + [0.0, -400.0]  # 400 m down-fjord
    s.save_corrected_front([moved])
    assert s.corrections_count == 1 and s.front_to_edit()[1] == "reference"
    corrected = s.corrected_front()
    assert corrected is not None and np.allclose(
        np.asarray(corrected.geometry.iloc[0].coords), moved
    )
    df = s.retreat()
    manual = df[df["corrected"]]
    assert len(manual) == 1 and manual["source"].iloc[0] == "predicted"
    ref = df[(df["source"] == "reference") & (df["date"] == manual["date"].iloc[0])]
    assert (
        abs(manual["position_m"].iloc[0] - ref["position_m"].iloc[0]) > 100
    )  # the moved line counts
    fronts = s._vectors("fronts")
    assert fronts["corrected"].tolist() == [True] and fronts["model"].tolist() == ["manual"]
    raw = s.export_corrections().getvalue()
    assert raw == (tmp_path / "edits" / "corrected_fronts.gpkg").read_bytes()


def test_workbench_retreat_reads_the_corrections(world, tmp_path, capsys):
    from workbench.cli import main

    s = ExplorerState.from_paths([world], edits=tmp_path / "edits")
    for i in (2, 5):
        s.date_index = i
        s.save_corrected_front(
            [np.asarray(s.series.ref_at("fronts", i).geometry.iloc[0].coords)[:, :2]]
        )
    box = tmp_path / "box.gpkg"
    gpd.GeoDataFrame(geometry=[s.series.box], crs=s.series.crs).to_file(box)
    x, y = s.series.upstream
    rc = main(
        [
            "retreat",
            str(tmp_path / "edits" / "corrected_fronts.gpkg"),
            "--box",
            str(box),
            f"--upstream={x},{y}",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert rc == 0
    table = pd.read_csv(tmp_path / "out" / "retreat_box.csv", comment="#")
    assert len(table) == 2 and table["position_m"].notna().all()
    ours = s.retreat()
    ours = ours[ours["corrected"]].sort_values("date")
    np.testing.assert_allclose(table["position_m"], ours["position_m"], rtol=0.02)


def test_serve_refuses_an_edits_folder_inside_the_data(world, capsys):
    from workbench.cli import main

    assert main(["serve", str(world), "--edits", str(world / "edits"), "--dry-run"]) == 2
    assert "inside a data root" in capsys.readouterr().err
