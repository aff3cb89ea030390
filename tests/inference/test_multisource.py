"""Multi-source models (GlaViTU) in scene prediction: the model input is built from the
stack's variables as the checkpoint declares (sources, bands, per-source normalisation,
slope derived from the DEM), optional sources may be absent, and a missing source is an
error naming the file, the variable and what was expected."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from workbench.data.stack import write_stack
from workbench.errors import CheckpointError, StackValidationError
from workbench.inference import InputSpec, open_prediction, predict, predict_to_file
from workbench.models import create_model, load_model, save_checkpoint

BANDS = ["B2", "B3", "B4", "B8", "B11", "B12"]
SOURCES = {
    "optical": ["optical"],
    "dem": ["dem", "slope"],
    "sar": ["sigma0_db"],
    "coherence": ["coherence"],
}
NORM = {
    "optical": {"mean": [0.4] * 6, "std": [0.2] * 6},
    "dem": {"mean": [300.0, 10.0], "std": [100.0, 5.0]},
    "sar": {"mean": [-15.0], "std": [3.0]},
}


def _stack(height: int = 40, width: int = 44, seed: int = 0) -> xr.Dataset:
    """Two dates of σ0, a static 7-band optical image (one band more than the model's) and a
    DEM, on a 10 m grid; no coherence (an optional source of the small GlaViTU)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    dem = 300 + 4 * xx + 20 * np.sin(yy / 5.0) + rng.normal(0, 1, (height, width))
    ds = xr.Dataset(
        {
            "sigma0_db": (
                ("time", "y", "x"),
                rng.normal(-15, 2, (2, height, width)).astype(np.float32),
            ),
            "optical": (("band", "y", "x"), rng.random((7, height, width)).astype(np.float32)),
            "dem": (("y", "x"), dem.astype(np.float32)),
        },
        coords={
            "time": np.array(["2020-07-01", "2020-08-14"], "datetime64[ns]"),
            "band": ["B1", *BANDS],
            "y": 8.7e6 - 5 - 10 * np.arange(height),
            "x": 5e5 + 5 + 10 * np.arange(width),
        },
        attrs={"glacier": "testbreen"},
    )
    return ds.rio.write_crs("EPSG:32633")


@pytest.fixture(scope="module")
def glavitu_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model(
        "glavitu", preset="small", sources={"optical": 6, "dem": 2, "sar": 1, "coherence": 1}
    )
    return save_checkpoint(
        model,
        tmp_path_factory.mktemp("glavitu") / "glavitu.pt",
        normalization=NORM,
        train_config={
            "task": "outlines",
            "data": {"kind": "stack", "sources": SOURCES, "bands": BANDS},
        },
    )


def test_the_spec_follows_the_checkpoint(glavitu_checkpoint):
    spec = InputSpec.from_model(load_model(glavitu_checkpoint, device="cpu"))
    assert [(s.name, s.variables, s.channels, s.optional) for s in spec.sources] == [
        ("optical", ("optical",), 6, False),
        ("dem", ("dem", "slope"), 2, False),
        ("sar", ("sigma0_db",), 1, True),
        ("coherence", ("coherence",), 1, True),
    ]
    assert spec.bands == tuple(BANDS) and spec.label_name == "mask" and not spec.temporal
    assert spec.normalization_for(["optical", "dem"]).mean == (0.4,) * 6 + (300.0, 10.0)
    assert spec.normalization_for(["dem", "coherence"]).std == (100.0, 5.0, 1.0)


def test_prediction_equals_the_model_on_its_training_inputs(glavitu_checkpoint):
    """One window over the whole scene: the probabilities are the model's on the inputs the
    training data module builds (bands selected, slope by add_slope, per-source norms)."""
    from workbench.training.datamodules import add_slope

    stack = _stack()
    res = predict(stack, glavitu_checkpoint, window=64, device="cpu")
    assert res.attrs["input_sources"] == ["optical", "dem", "sar"]  # coherence: optional, absent
    assert dict(res.probabilities.sizes) == {"time": 2, "class": 2, "y": 40, "x": 44}
    model = load_model(glavitu_checkpoint, device="cpu")
    ref = add_slope(stack.sel(band=BANDS))

    def norm(values, source):
        n = NORM[source]
        return (values - np.array(n["mean"], np.float32)[:, None, None]) / np.array(
            n["std"], np.float32
        )[:, None, None]

    for t in range(2):
        inputs = {
            "optical": norm(ref.optical.values, "optical"),
            "dem": norm(np.stack([ref.dem.values, ref.slope.values]), "dem"),
            "sar": norm(ref.sigma0_db.values[t][None], "sar"),
        }
        with torch.inference_mode():
            logits = model(
                {k: torch.from_numpy(v.astype(np.float32))[None] for k, v in inputs.items()}
            ).logits
        expected = torch.softmax(logits, dim=1)[0].numpy()
        np.testing.assert_allclose(res.probabilities.values[t], expected, atol=1e-5)


def test_slope_is_derived_identically_across_windows_and_tiles(glavitu_checkpoint, tmp_path):
    from workbench.training.datamodules import add_slope

    stack = _stack(seed=1)
    derived = predict_to_file(
        stack, glavitu_checkpoint, tmp_path / "p.zarr", window=16, tile=16, device="cpu"
    )
    given = predict(add_slope(stack), glavitu_checkpoint, window=16, device="cpu")
    np.testing.assert_array_equal(
        open_prediction(derived).probabilities.values, given.probabilities.values
    )


def test_an_optional_source_may_be_absent_a_required_one_may_not(glavitu_checkpoint, tmp_path):
    stack = _stack()
    no_sar = predict(
        stack.drop_vars("sigma0_db").assign(
            coherence=(("time", "y", "x"), np.full((2, 40, 44), 0.5, np.float32))
        ),
        glavitu_checkpoint,
        window=32,
        device="cpu",
    )
    assert no_sar.attrs["input_sources"] == ["optical", "dem", "coherence"]
    path = write_stack(stack.drop_vars("dem"), tmp_path / "no_dem.zarr")
    with pytest.raises(StackValidationError) as err:
        predict(path, glavitu_checkpoint, window=32, device="cpu")
    text = str(err.value)
    assert str(path) in text and "variable 'dem'" in text and "source 'dem'" in text
    assert "slope is derived from dem" in text
    with pytest.raises(StackValidationError, match=r"variable 'band' lacks the bands \['B3'"):
        predict(stack.sel(band=["B1", "B2"]), glavitu_checkpoint, window=32, device="cpu")
    per_band = stack.sigma0_db.expand_dims(band=stack.band.values).transpose(
        "time", "band", "y", "x"
    )
    with pytest.raises(
        StackValidationError,
        match=r"variable 'sigma0_db' give 6 channels after "
        r"selecting the checkpoint's bands .* source "
        r"'sar' takes 1",
    ):
        predict(stack.assign(sigma0_db=per_band), glavitu_checkpoint, window=32, device="cpu")


def test_a_checkpoint_whose_sources_do_not_match_the_model_is_refused(tmp_path):
    model = create_model("glavitu", preset="small")
    path = save_checkpoint(
        model, tmp_path / "g.pt", train_config={"data": {"sources": {"optical": ["optical"]}}}
    )
    with pytest.raises(CheckpointError, match="train_config.data.sources"):
        predict(_stack(), path, window=32, device="cpu")
