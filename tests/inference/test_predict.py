"""Scene prediction: real tiny models end to end, georeferencing, inputs from the checkpoint,
resampling, nodata, TTA / ensembles, time-series scheduling and streaming to Zarr."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _inference_helpers import ConstantModel, PointwiseModel, Recorder, make_stack

from workbench.data.demo import db_to_uint8
from workbench.data.stack import write_stack
from workbench.errors import ConfigError, DataError, StackValidationError
from workbench.evaluation import CalibrationMap, entropy_confidence
from workbench.inference import Predictor, open_prediction, predict, predict_to_file
from workbench.inference import scene as scene_module
from workbench.models import CheckpointInfo, create_model, load_model, save_checkpoint


def _info(**kw) -> CheckpointInfo:
    base = dict(
        path="",
        model_name="",
        model_kwargs={},
        normalization=None,
        classes=None,
        train_config=None,
        metrics=None,
        format_version=1,
        created=None,
        versions={},
    )
    base.update(kw)
    return CheckpointInfo(**base)


def _same_grid(out, stack) -> None:
    assert out.rio.transform() == stack.rio.transform()
    assert out.rio.crs == stack.rio.crs
    np.testing.assert_array_equal(out.x.values, stack.x.values)
    np.testing.assert_array_equal(out.y.values, stack.y.values)


# ------------------------------------------------------------------------------ end to end
def test_caffe_unet_checkpoint_end_to_end(simulated_stack, unet_checkpoint, tmp_path):
    path = write_stack(simulated_stack, tmp_path / "scene.zarr")
    out = predict(path, unet_checkpoint, window=32, batch_size=4)
    n = simulated_stack.sizes["time"]
    assert dict(out.probabilities.sizes) == {"time": n, "class": 4, "y": 64, "x": 64}
    assert out.probabilities.dtype == np.float32 and out.zones.dtype == np.uint8
    assert list(out["class"].values) == ["na", "rock", "glacier", "ocean"]
    assert out.class_value.values.tolist() == [0, 64, 127, 254]
    np.testing.assert_allclose(out.probabilities.sum("class").values, 1.0, atol=1e-5)
    np.testing.assert_array_equal(out.zones.values, out.probabilities.argmax("class").values)
    conf = out.confidence.values
    assert 0.0 <= conf.min() and conf.max() <= 1.0
    np.testing.assert_allclose(
        conf, entropy_confidence(out.probabilities.values, axis=1), atol=1e-6
    )
    assert "uncertainty" not in out
    np.testing.assert_array_equal(out.time.values, simulated_stack.time.values)
    np.testing.assert_array_equal(out.sensor.values, simulated_stack.sensor.values)
    assert out.attrs["model"] == "caffe_unet" and out.attrs["label_variable"] == "zones"
    assert out.attrs["input_representation"] == "caffe8"
    _same_grid(out, simulated_stack)
    # the same as the in-memory model on the in-memory stack
    again = predict(simulated_stack, load_model(unet_checkpoint, device="cpu"), window=32)
    np.testing.assert_allclose(again.probabilities.values, out.probabilities.values, atol=1e-5)


def test_input_comes_from_the_checkpoint(unet_checkpoint):
    """σ0 → 8-bit grey / 255 → checkpoint normalisation (mean 0.5, std 0.25)."""
    stack = make_stack(32, 32, dates=("2020-01-01",))
    model = Recorder(load_model(unet_checkpoint, device="cpu"))
    predict(stack, model, window=32)
    seen = model.inputs[0][0, 0].numpy()
    expected = (db_to_uint8(stack.sigma0_db.values[0]) / 255.0 - 0.5) / 0.25
    np.testing.assert_allclose(seen, expected, atol=1e-5)


def test_time_series_variables_from_train_config(tmp_path):
    model = create_model("icemapper3d", preset="small", in_features=2)
    ckpt = save_checkpoint(
        model,
        tmp_path / "ice.pt",
        normalization={"mean": [0.5, -15.0], "std": [0.2, 5.0]},
        train_config={"task": "outlines", "data": {"variables": ["coherence", "sigma0_db"]}},
    )
    stack = make_stack(24, 24, dates=("2020-01-01", "2020-02-01"), coherence=True)
    rec = Recorder(load_model(ckpt, device="cpu"))
    out = predict(stack, rec, window=24)
    x = rec.inputs[0][0]  # T × C × H × W
    np.testing.assert_allclose(x[:, 0].numpy(), (stack.coherence.values - 0.5) / 0.2, atol=1e-5)
    np.testing.assert_allclose(x[:, 1].numpy(), (stack.sigma0_db.values + 15) / 5, atol=1e-5)
    assert "mask" in out and out.mask.dtype == np.uint8
    with pytest.raises(StackValidationError, match="coherence"):
        predict(stack.drop_vars("coherence"), ckpt, window=24)


# --------------------------------------------------------------------------- georeferencing
def test_georeferencing_round_trips(tmp_path):
    stack = make_stack(37, 29, pixel=30.0)
    out = predict(stack, ConstantModel(), window=16)
    _same_grid(out, stack)
    store = predict_to_file(stack, ConstantModel(), tmp_path / "p.zarr", window=16, tile=16)
    back = open_prediction(store)
    _same_grid(back, stack)
    assert back.rio.crs.to_epsg() == 32633


# ------------------------------------------------------------------------------- resampling
def test_resampling_to_the_model_pixel_size_and_back():
    """Scene at 40 m, model at 20 m: windows are upsampled ×2 for the model and the output
    comes back on the 40 m grid."""
    h, w = 40, 36
    yy, xx = np.mgrid[0:h, 0:w]
    v = (0.2 + 0.6 * (np.sin(yy / 9.0) * np.cos(xx / 11.0) + 1) / 2).astype(np.float32)
    stack = make_stack(h, w, dates=("2020-01-01",), pixel=40.0, values=v[None])
    model = Recorder(PointwiseModel())
    model.checkpoint_info = _info(train_config={"pixel_size": 20.0})
    out = predict(stack, model, window=32, overlap=0.5)
    assert {s[-2:] for s in model.shapes} == {(32, 32)}  # 32 model px = 16 scene px
    assert out.attrs["window_scene_px"] == [16, 16] and out.attrs["model_pixel_size"] == 20.0
    _same_grid(out, stack)
    np.testing.assert_allclose(out.probabilities.values[0, 0], v, atol=0.01)
    # a 10 m scene with the 20 m model: windows of 64 scene px shrink to 32
    fine = make_stack(80, 70, dates=("2020-01-01",), pixel=10.0, values=np.full((1, 80, 70), 0.3))
    model.shapes.clear()
    out = predict(fine, model, window=32)
    assert {s[-2:] for s in model.shapes} == {(32, 32)}
    np.testing.assert_allclose(out.probabilities.values[0, 0], 0.3, atol=1e-4)
    _same_grid(out, fine)


# ----------------------------------------------------------------------------------- nodata
def test_nodata_is_filled_for_the_model_and_masked_in_the_output(unet_checkpoint):
    stack = make_stack(40, 40)
    values = stack.sigma0_db.values.copy()
    values[0, 5:15, 10:30] = np.nan
    stack["sigma0_db"] = (("time", "y", "x"), values)
    model = Recorder(load_model(unet_checkpoint, device="cpu"))
    out = predict(stack, model, window=32, tta=True)
    assert model.all_finite
    hole = np.isnan(values)
    p = out.probabilities.values
    assert np.isnan(p[0][:, hole[0]]).all() and np.isfinite(p[0][:, ~hole[0]]).all()
    assert np.isfinite(p[1]).all()
    assert (out.zones.values[0][hole[0]] == 0).all()
    assert np.isnan(out.confidence.values[0][hole[0]]).all()
    assert np.isnan(out.uncertainty.values[0][hole[0]]).all()
    assert np.isfinite(out.confidence.values[1]).all()


def test_time_series_nodata_needs_every_date_missing():
    stack = make_stack(24, 24, dates=("2020-01-01", "2020-02-01"), coherence=True)
    s = stack.sigma0_db.values.copy()
    c = stack.coherence.values.copy()
    s[0, :8] = np.nan
    c[0, :8] = np.nan  # date 0 missing in rows 0..7, date 1 fine
    s[:, 20:] = np.nan
    c[:, 20:] = np.nan  # every date missing in rows 20..23
    stack = stack.assign(sigma0_db=(("time", "y", "x"), s), coherence=(("time", "y", "x"), c))
    out = predict(stack, create_model("icemapper3d", preset="small"), window=24)
    conf = out.confidence.values[0]
    assert np.isfinite(conf[:20]).all() and np.isnan(conf[20:]).all()
    assert (out.mask.values[0, 20:] == 0).all()


# ------------------------------------------------------------------------- TTA and ensembles
def test_tta_gives_uncertainty(unet_checkpoint, unet_checkpoint_2):
    stack = make_stack(32, 40, dates=("2020-01-01",))
    plain = predict(stack, unet_checkpoint, window=32)
    assert "uncertainty" not in plain
    tta = predict(stack, unet_checkpoint, window=32, tta=True)
    assert tta.attrs["members"] == 4 and tta.attrs["tta"] == ["rot0", "rot90", "rot180", "rot270"]
    u = tta.uncertainty.values
    assert u.dtype == np.float32 and u.shape == (1, 32, 40)
    assert (u >= 0).all() and u.max() > 1e-4  # a random U-Net is not rotation-equivariant
    np.testing.assert_allclose(tta.probabilities.sum("class").values, 1.0, atol=1e-5)
    invariant = predict(stack, PointwiseModel(), window=16, tta=True)  # pointwise: all agree
    assert float(np.nanmax(invariant.uncertainty.values)) < 1e-5
    both = predict(stack, [unet_checkpoint, unet_checkpoint_2], window=32, tta=["rot0", "hflip"])
    assert both.attrs["members"] == 4 and len(both.attrs["checkpoints"]) == 2
    assert float(both.uncertainty.max()) > 0


def test_calibration_map_from_the_checkpoint(tmp_path):
    cmap = CalibrationMap([0.0, 0.5, 1.0], [0.0, 0.2, 1.0])
    model = create_model("caffe_unet", preset="small")
    ckpt = save_checkpoint(model, tmp_path / "cal.pt", metrics={"calibration": cmap.to_dict()})
    stack = make_stack(32, 32, dates=("2020-01-01",))
    cal = predict(stack, ckpt, window=32)
    raw = predict(stack, ckpt, window=32, calibration=None)
    assert cal.attrs["calibrated"] == 1 and raw.attrs["calibrated"] == 0
    np.testing.assert_allclose(cal.confidence.values, cmap(raw.confidence.values), atol=1e-6)


# ------------------------------------------------------------------------------ time series
def _series_stack():
    dates = ("2019-02-01", "2019-06-01", "2019-09-01", "2019-12-01", "2020-03-01", "2020-08-01")
    return make_stack(24, 24, dates=dates, coherence=True)


def test_time_series_model_predicts_one_map_per_year(tmp_path):
    ckpt = save_checkpoint(
        create_model("icemapper3d", preset="small"),
        tmp_path / "ts.pt",
        train_config={"task": "outlines", "data": {"time_steps": 3}},
    )
    stack = _series_stack()
    rec = Recorder(load_model(ckpt, device="cpu"))
    out = predict(stack, rec, window=24)
    assert out.sizes["time"] == 2
    np.testing.assert_array_equal(out.time.values, stack.time.values[[3, 5]])
    np.testing.assert_array_equal(out.time_first.values, stack.time.values[[0, 4]])
    assert out.n_acquisitions.values.tolist() == [3, 2]  # 2019 has 4: 3 evenly spread
    assert sorted({s[1] for s in rec.shapes}) == [2, 3]
    assert out.attrs["temporal"] == "year" and out.attrs["steps"] == 3
    # for each date, the last N acquisitions up to it
    window = predict(stack, ckpt, window=24, temporal="window", steps=2)
    assert window.sizes["time"] == 6 and window.n_acquisitions.values.tolist() == [1, 2, 2, 2, 2, 2]
    np.testing.assert_array_equal(window.time.values, stack.time.values)
    every = predict(stack, create_model("convlstm_unet", preset="small"), window=24, temporal="all")
    assert every.sizes["time"] == 1 and every.n_acquisitions.values.tolist() == [6]
    with pytest.raises(ConfigError, match="steps"):
        predict(stack, create_model("icemapper3d", preset="small"), temporal="window")


# -------------------------------------------------------------------------------- streaming
def test_streaming_a_zarr_scene_window_by_window(tmp_path, unet_checkpoint, monkeypatch):
    stack = make_stack(64, 48, dates=("2020-01-01", "2020-02-01"))
    source = write_stack(stack, tmp_path / "big.zarr")
    regions = []
    real = scene_module._read_region

    def spy(ds, layout, spec, dates, y0, y1, x0, x1):
        regions.append((len(dates), y1 - y0, x1 - x0))
        return real(ds, layout, spec, dates, y0, y1, x0, x1)

    monkeypatch.setattr(scene_module, "_read_region", spy)
    out = predict_to_file(
        source, unet_checkpoint, tmp_path / "pred.zarr", window=16, tile=32, batch_size=16
    )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left
    assert len(regions) == 2 * 2 and {n for n, _, _ in regions} == {2}  # 2 × 2 tiles
    assert max(max(h, w) for _, h, w in regions) <= 32 + 2 * 16
    streamed = open_prediction(out)
    assert streamed.probabilities.chunks[2][0] == 32 and streamed.zones.chunks[1][0] == 32
    direct = predict(stack, unet_checkpoint, window=16)
    np.testing.assert_allclose(
        streamed.probabilities.values, direct.probabilities.values, atol=1e-5
    )
    np.testing.assert_array_equal(streamed.zones.values, direct.zones.values)
    _same_grid(streamed, stack)
    with pytest.raises(DataError, match="exists"):
        predict_to_file(source, unet_checkpoint, out, window=16)
    with pytest.raises(ConfigError, match="zarr"):
        predict_to_file(source, unet_checkpoint, tmp_path / "pred.tif")
    again = predict(source, unet_checkpoint, window=16, out=out, overwrite=True, tile=48)
    assert again.zones.chunks[1][0] == 48


def test_outputs_subset(tmp_path, unet_checkpoint):
    stack = make_stack(24, 24, dates=("2020-01-01",))
    out = predict(stack, unet_checkpoint, window=16, outputs=["labels", "confidence"])
    assert sorted(out.data_vars) == ["confidence", "zones"]
    store = predict_to_file(
        stack, unet_checkpoint, tmp_path / "o.zarr", window=16, tta=True, outputs=["uncertainty"]
    )
    assert sorted(open_prediction(store).data_vars) == ["uncertainty"]
    with pytest.raises(ConfigError, match="outputs"):
        predict(stack, unet_checkpoint, outputs=["colour"])


def test_memory_budget_chooses_tiles():
    stack = make_stack(64, 64)
    p = Predictor(ConstantModel())
    job = scene_module._prepare(
        stack,
        p,
        window=16,
        overlap=0.5,
        weighting="gaussian",
        tta=False,
        temporal="year",
        steps=None,
        device=None,
        calibration=None,
        tile=None,
        max_memory_mb=1024,
        validate=False,
        streaming=False,
    )
    assert job.tile == 64 and job.group == 2  # small scene: one tile, all dates at once
    job = scene_module._prepare(
        stack,
        p,
        window=16,
        overlap=0.5,
        weighting="gaussian",
        tta=False,
        temporal="year",
        steps=None,
        device=None,
        calibration=None,
        tile=None,
        max_memory_mb=0.001,
        validate=False,
        streaming=True,
    )
    assert job.tile == 256 and job.group == 1


# ----------------------------------------------------------------------------------- errors
def test_bad_inputs_are_refused_clearly(unet_checkpoint):
    stack = make_stack(16, 16)
    with pytest.raises(StackValidationError, match="sigma0_db"):
        predict(stack.rename(sigma0_db="s0"), unet_checkpoint)
    with pytest.raises(ConfigError, match="overlap"):
        predict(stack, unet_checkpoint, overlap=1.0)
    with pytest.raises(ConfigError, match="weighting"):
        predict(stack, unet_checkpoint, weighting="box")
    with pytest.raises(ConfigError, match="temporal"):
        predict(stack, unet_checkpoint, temporal="month")
    with pytest.raises(StackValidationError, match="variable 'optical' is missing; the glavitu"):
        predict(stack, create_model("glavitu", preset="small"))  # a σ0-only stack
    with pytest.raises(DataError):
        predict(42, unet_checkpoint)
    with pytest.raises(ConfigError, match="member 1"):
        Predictor(
            [
                create_model("caffe_unet", preset="small"),
                create_model("icemapper3d", preset="small"),
            ]
        )


def test_inference_mode_and_no_grad_state():
    stack = make_stack(16, 16, dates=("2020-01-01",))
    model = create_model("caffe_unet", preset="small")
    out = predict(stack, model, window=16)
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    assert out.zones.shape == (1, 16, 16)
