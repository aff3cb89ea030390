"""State and logic of the explorer without a browser (workbench.viz)."""

from __future__ import annotations

import json
import os

import holoviews as hv
import numpy as np
import pandas as pd
import param
import pytest

from workbench.errors import DataError
from workbench.viz import DataRoots, ExplorerState, discover, open_series
from workbench.viz.state import clear_predictions


@pytest.fixture()
def state(world, tiny_checkpoint):
    return ExplorerState.from_paths([world], checkpoints=[tiny_checkpoint])


def test_discover_demo_world(world):
    cat = discover(DataRoots([world]))
    (entry,) = cat.values()
    assert entry.kind == "demo" and len(entry.glaciers) == 2


def test_roots_refuse_paths_outside(world, tmp_path):
    roots = DataRoots([world])
    assert roots.resolve(world / "stacks") == (world / "stacks").resolve()
    for bad in ("/etc/passwd", world / ".." / "elsewhere", world / "stacks" / ".." / ".." / ".."):
        with pytest.raises(DataError, match="outside the data roots"):
            roots.resolve(bad)
    link = world.parent / "escape-link"
    if not link.exists():
        os.symlink("/etc", link)
    with pytest.raises(DataError):
        DataRoots([world]).resolve(world / ".." / "escape-link" / "passwd")
    assert "/etc/passwd" not in roots


def test_symlink_inside_root_to_outside_is_skipped(tmp_path, world):
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(world, root / "linked-world")  # points outside the root
    assert discover(DataRoots([root])) == {}


def test_a_broken_stack_is_skipped_with_a_visible_note(world, tmp_path):
    """One unreadable stack in a folder of stacks must not blank the explorer: it is left out
    of the glacier list and named, with the reason, in the notes of every page of that folder."""
    import shutil

    stacks = tmp_path / "stacks"
    shutil.copytree(world / "stacks", stacks)
    first = sorted(p.name for p in stacks.glob("*.zarr"))[0]
    (stacks / "Aaa_broken.zarr").mkdir()  # sorts first: the default glacier
    (stacks / "Aaa_broken.zarr" / "zarr.json").write_text("{not json")
    state = ExplorerState.from_paths([stacks])
    entry = state.entry
    assert "Aaa_broken.zarr" not in entry.glaciers and first in entry.glaciers
    assert state.glacier != "Aaa_broken.zarr" and len(state.series) > 0
    assert any(
        n.startswith("skipped Aaa_broken.zarr: it cannot be opened") for n in state.series.notes
    )


def test_crafted_names_never_open_paths(world, tiny_checkpoint):
    s = ExplorerState.from_paths(
        [world],
        checkpoints=[tiny_checkpoint],
        dataset="../../etc",
        glacier="../../../etc/passwd",
        checkpoint="/etc/passwd",
    )
    assert (
        s.dataset == "world" and s.glacier in s.entry.glaciers and s.checkpoint == "tiny_zones.pt"
    )
    with pytest.raises(ValueError):
        s.dataset = "/etc"
    with pytest.raises(ValueError):
        s.glacier = "../../passwd"
    with pytest.raises(DataError):
        s.run_model("/etc/passwd")
    with pytest.raises(DataError):
        open_series(s.entry, "../../passwd", s.roots)


def test_date_index_and_date_stay_in_sync(state):
    times = state.series.times
    assert state.date == str(times[0].date()) and state.label.startswith(state.date)
    state.date_index = 3
    assert state.date == str(times[3].date())
    state.date = str((times[5] + pd.Timedelta(days=2)).date())  # snaps to the nearest acquisition
    assert state.date_index == 5 and state.date == str(times[5].date())
    state.select_date(times[2] - pd.Timedelta(days=1))
    assert state.date_index == 2
    state.step(100)
    assert state.date_index == len(times) - 1
    with pytest.raises(ValueError):
        state.date_index = len(times) + 5


def test_switching_glacier_keeps_the_date(state):
    state.date_index = 4
    date = state.date
    other = [g for g in state.param.glacier.objects if g != state.glacier][0]
    state.glacier = other
    assert state.series.glacier == other and state.date == date
    assert " · S1" in state.label and "orbit" in state.label


def test_frame_overlay_follows_toggles(state):
    from workbench.viz.views import frame_image, frame_overlay

    state.overlays = []
    assert len(frame_overlay(state)) == 1
    state.overlays = ["reference front", "reference outline"]
    ov = frame_overlay(state)
    assert len(ov) == 3
    assert any(isinstance(e, hv.Path) and len(e.data) for e in ov)
    img = frame_image(state.series, 2, state.clim)
    assert isinstance(img, hv.Image) and img.data is not None


def test_rasterize_large_frames():
    from types import SimpleNamespace

    import xarray as xr

    from workbench.viz.views import frame_image

    arr = xr.DataArray(
        np.random.default_rng(0).normal(-12, 3, (1, 1200, 1200)).astype("float32"),
        dims=("time", "y", "x"),
        coords={
            "time": [np.datetime64("2020-01-01")],
            "y": np.arange(1200.0)[::-1],
            "x": np.arange(1200.0),
        },
    )
    series = SimpleNamespace(image=lambda i: arr[i], units="dB")
    el = frame_image(series, 0, (-20, 0), size=400)  # decimated: real pixel values
    assert el.dimension_values(2, flat=False).shape == (400, 400)
    el = frame_image(series, 0, (-20, 0), size=300, rasterize=True)  # datashader mean
    assert el.dimension_values(2, flat=False).shape == (300, 300)


def test_reference_retreat_curve(state):
    df = state.retreat()
    assert set(df["source"]) == {"reference"} and len(df) == len(state.series)
    assert df["position_m"].notna().all()


def test_run_model_cached_and_shared(world, tiny_checkpoint):
    from workbench.inference import archive

    clear_predictions()
    a = ExplorerState.from_paths([world], checkpoints=[tiny_checkpoint])
    b = ExplorerState.from_paths([world], checkpoints=[tiny_checkpoint])  # a second session
    seen = []
    a.param.watch(lambda e: seen.append(e.new), "progress")
    loads = archive._LOADS["count"]
    res = a.run_model()
    assert res["label"] == "zones" and len(res["dataset"].time) == len(a.series)
    assert seen and seen[-1] == 1.0 and a.run_count == 1 and not a.busy
    assert b.run_model() is res  # cached per (scene, checkpoint): instant for every session
    assert archive._LOADS["count"] - loads <= 1  # one model copy per process
    assert a.prediction("zones").shape == a.image().shape
    assert a.prediction("confidence") is not None and a.prediction("uncertainty") is None
    a.predicted_front()  # may be empty for random weights, never raises
    df = a.retreat()
    assert "reference" in set(df["source"])


def test_exports(state, tmp_path):
    state.date_index = 2
    gj = json.loads(state.export_vectors("fronts", "geojson").getvalue())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) > 0
    import geopandas as gpd

    gpkg = tmp_path / "outlines.gpkg"
    gpkg.write_bytes(state.export_vectors("outlines", "gpkg").getvalue())
    gdf = gpd.read_file(gpkg)
    assert len(gdf) > 0 and gdf.crs is not None
    csv = pd.read_csv(state.export_retreat_csv())
    assert {"date", "position_m", "source", "glacier"} <= set(csv.columns)
    png = state.export_png().getvalue()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_state_is_plain_param(state):
    assert isinstance(state, param.Parameterized)
    assert set(state.param) >= {"dataset", "glacier", "date", "date_index", "overlays", "clim"}
