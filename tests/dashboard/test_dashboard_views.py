"""The explorer's Bokeh views and the state behind them, without a browser (issue 15):
longitude/latitude fit, point time series, one model layer at a time, where a model applies,
the map's frame and image orientation."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from workbench.errors import DataError
from workbench.viz import ExplorerState


@pytest.fixture()
def state(world, tiny_checkpoint):
    return ExplorerState.from_paths([world], checkpoints=[tiny_checkpoint])


@pytest.mark.parametrize(
    "crs, bounds",
    [
        ("EPSG:32633", (512640.0, 8735520.0, 517760.0, 8740640.0)),  # the demo world, 5 km
        ("EPSG:32633", (400000.0, 8600000.0, 482000.0, 8682000.0)),  # 4096 px of 20 m
        ("EPSG:3413", (-300000.0, -1200000.0, -250000.0, -1150000.0)),  # polar stereographic
    ],
)
def test_lonlat_fit_matches_pyproj(crs, bounds):
    from pyproj import Transformer

    from workbench.viz.lonlat import LonLatFit

    fit = LonLatFit(crs, bounds)
    rng = np.random.default_rng(0)
    x = rng.uniform(bounds[0], bounds[2], 500)
    y = rng.uniform(bounds[1], bounds[3], 500)
    lon, lat = fit(x, y)
    elon, elat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    assert np.abs(lon - elon).max() < 1e-6 and np.abs(lat - elat).max() < 1e-6
    assert "Math.pow(u," in fit.js()


def test_lonlat_fit_refuses_geographic_crs():
    from workbench.viz.lonlat import LonLatFit

    with pytest.raises(DataError, match="geographic"):
        LonLatFit("EPSG:4326", (10.0, 60.0, 11.0, 61.0))


def test_point_series_averages_power_in_a_window(state):
    s = state.series
    x, y = float(s.images.x[40]), float(s.images.y[50])
    df = state.point_series((x + 5.0, y - 5.0), window=5)  # snaps to the nearest pixel
    block = s.images.values[:, 48:53, 38:43].astype(float)
    expected = 10 * np.log10((10 ** (block / 10)).mean(axis=(1, 2)))
    np.testing.assert_allclose(df["sigma0_db"], expected, rtol=0, atol=1e-9)
    assert (df["n_pixels"] == 25).all() and df.attrs["row"] == 50 and df.attrs["col"] == 40
    assert (
        df.attrs["window_m"] == 200.0
        and df.attrs["crs"] == "EPSG:32633"
        and 78 < df.attrs["lat"] < 79
    )
    # at the corner the window is cut by the image edge
    corner = state.point_series((float(s.images.x[0]), float(s.images.y[0])), window=5)
    assert (corner["n_pixels"] == 9).all()
    with pytest.raises(DataError, match="outside the images"):
        state.point_series((0.0, 0.0))
    state.point = None
    with pytest.raises(DataError, match="no point chosen"):
        state.point_series()


def test_point_csv_reads_back(state):
    s = state.series
    state.point = (float(s.images.x[10]), float(s.images.y[20]))
    raw = state.export_point_csv().getvalue().decode()
    head = dict(line[2:].split(": ", 1) for line in raw.splitlines() if line.startswith("# "))
    df = pd.read_csv(io.StringIO(raw), comment="#", parse_dates=["date"])
    assert len(df) == len(s) and list(df.columns) == ["date", "sigma0_db", "n_pixels"]
    assert float(head["x"]) == float(s.images.x[10]) and head["glacier"] == state.glacier
    np.testing.assert_allclose(df["sigma0_db"], state.point_series()["sigma0_db"], atol=1e-9)


def test_one_model_layer_at_a_time(state):
    state.overlays = ["front", "zones"]
    state.overlays = [*state.overlays, "confidence"]
    assert (
        "confidence" in state.overlays
        and "zones" not in state.overlays
        and "front" in state.overlays
    )
    state.overlays = ["uncertainty", "zones", "confidence"]  # several at once (a URL): one is kept
    assert len([o for o in state.overlays if o in ("zones", "confidence", "uncertainty")]) == 1


def test_switching_glacier_clears_status_and_point(state):
    state.status = "tiny_zones.pt: 10 predictions (zones)"
    state.point = (float(state.series.images.x[3]), float(state.series.images.y[3]))
    state.glacier = [g for g in state.param.glacier.objects if g != state.glacier][0]
    assert state.status == "" and state.point is None


def test_layer_notes_before_and_after_a_run(world, tiny_checkpoint):
    from workbench.viz.state import clear_predictions

    clear_predictions()
    s = ExplorerState.from_paths([world], checkpoints=[tiny_checkpoint])
    before = s.layer_notes()
    assert {"front", "zones", "confidence", "uncertainty", "outline"} <= set(before)
    assert "after Run model" in before["zones"]
    try:
        s.run_model()
        after = s.layer_notes()
    finally:
        clear_predictions()  # the cache is per process: other tests expect no run
    assert not {"front", "zones", "confidence"} & set(after)
    assert "TTA" in after["uncertainty"] and "outline model" in after["outline"]


def test_models_apply_by_what_they_were_trained_on(world, tmp_path):
    import torch

    from workbench.models import create_model, save_checkpoint
    from workbench.viz.state import checkpoint_applies

    torch.manual_seed(0)
    model = create_model("caffe_unet", preset="small")
    caffe_ck = save_checkpoint(
        model, tmp_path / "caffe.pt", train_config={"data": {"kind": "caffe"}}
    )
    demo_ck = save_checkpoint(model, tmp_path / "demo.pt", train_config={"data": {"kind": "demo"}})
    s = ExplorerState.from_paths([world, world / "caffe"], checkpoints=[caffe_ck, demo_ck])
    assert checkpoint_applies(demo_ck, s.series) is None and "CaFFe's 8-bit" in checkpoint_applies(
        caffe_ck, s.series
    )
    assert (
        s.usable_checkpoints() == ["demo.pt"] and s.checkpoint == "demo.pt" and s.model_note() == ""
    )
    s.dataset = "caffe"
    assert s.usable_checkpoints() == ["caffe.pt"] and s.checkpoint == "caffe.pt"
    only_demo = ExplorerState.from_paths([world / "caffe"], checkpoints=[demo_ck])
    assert only_demo.checkpoint is None
    assert only_demo.model_note().startswith(
        "No model applies to these images: demo.pt was trained on σ0 in dB"
    )


def test_map_frame_follows_the_data_and_north_is_up(wide_stacks):
    from workbench.viz.mapview import MapView

    s = ExplorerState.from_paths([wide_stacks])
    view = MapView(s, max_frame=(600, 560))
    fw, fh = view.frame_size()
    assert (
        (view.figure.frame_width, view.figure.frame_height) == (fw, fh) == (600, 360)
    )  # 160 × 96 px
    arr = view.image_source.data["image"][0]
    # Bokeh draws row 0 at the bottom: the southernmost image row comes first
    np.testing.assert_array_equal(arr[0], s.series.images.values[0, -1])
    assert view.lonlat is not None and view.figure.x_range.start == pytest.approx(4.9e5)


def test_large_images_are_decimated_by_stride(wide_stacks):
    from workbench.viz.mapview import MapView

    s = ExplorerState.from_paths([wide_stacks])
    view = MapView(s, max_pixels=50)  # 160 px wide: every 4th pixel
    arr = view.image_source.data["image"][0]
    assert arr.shape == (24, 40) and arr.dtype == np.float32
    np.testing.assert_array_equal(arr[-1], s.series.images.values[0, 0, ::4])


def test_retreat_view_without_a_box_is_not_available(world):
    from workbench.viz.plots import RetreatView

    s = ExplorerState.from_paths([world / "caffe"])
    assert RetreatView(s).available is False


def test_a_shared_point_is_kept_only_inside_the_images(world):
    from workbench.viz.app import _parse_point

    s = ExplorerState.from_paths([world])
    x, y = float(s.series.images.x[7]), float(s.series.images.y[9])
    assert ExplorerState.from_paths([world], point=(x, y)).point == (x, y)
    assert ExplorerState.from_paths([world], point=(0.0, 0.0)).point is None  # outside: dropped
    assert _parse_point(f"{x},{y}") == (x, y)
    for bad in ("", "1,2,3", "nan,1", "a,b", None):
        assert _parse_point(bad) is None


def test_harald_basemap_has_no_point_series_and_no_model(harald_moltke):
    """One optical basemap under 159 dated front lines: the same image every date."""
    from types import SimpleNamespace

    from workbench.viz.mapview import MapView

    s = ExplorerState.from_paths([harald_moltke])
    assert (
        s.static_images
        and s.model_note() == "No model applies: these images have no σ0 stack to predict."
    )
    view = MapView(s)
    x0, y0, x1, y1 = view.extent()
    view._on_tap(SimpleNamespace(x=(x0 + x1) / 2, y=(y0 + y1) / 2))  # a click on the map
    assert s.point is None
    assert view.figure.frame_width / view.figure.frame_height == pytest.approx(
        (x1 - x0) / (y1 - y0), rel=0.01
    )


@pytest.mark.slow  # reads 159 PNGs (~6 s on 2 busy cores)
def test_caffe256_jac_square_pixels_and_point_series(caffe256):
    from workbench.viz.mapview import MapView

    s = ExplorerState.from_paths([caffe256], glacier="JAC")
    assert not s.static_images and s.usable_checkpoints() == []
    view = MapView(s)
    assert (view.figure.frame_width, view.figure.frame_height) == (560, 560)  # 256 × 256 px
    df = s.point_series((100.5, -120.5), window=3)
    assert len(df) == len(s.series) == 159 and df.attrs["col"] == 100 and df.attrs["row"] == 120
