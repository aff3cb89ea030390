"""Window grid and blending: no seams, exact reconstruction, through the whole engine too."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _inference_helpers import ConstantModel, PointwiseModel, make_stack

from workbench.errors import ConfigError
from workbench.inference import (
    blend_windows,
    open_prediction,
    predict,
    predict_to_file,
    window_starts,
    window_weights,
)


@pytest.mark.parametrize(
    "length,window,overlap",
    [(10, 4, 0.5), (11, 4, 0.5), (384, 384, 0.5), (1000, 384, 0.5), (5, 8, 0.5), (50, 16, 0.75)],
)
def test_window_starts_cover_every_pixel(length, window, overlap):
    starts = window_starts(length, window, overlap)
    covered = np.zeros(max(length, window), int)
    for s in starts:
        covered[s : s + window] += 1
    assert covered[:length].min() >= 1
    assert starts[0] == 0 and starts[-1] == max(0, length - window)
    if length > window:
        assert max(np.diff(starts)) == max(1, round(window * (1 - overlap)))


@pytest.mark.parametrize("kind", ["gaussian", "cosine", "uniform"])
def test_weights_are_positive_peaked_and_symmetric(kind):
    w = window_weights((12, 17), kind)
    assert w.shape == (12, 17) and w.dtype == np.float32
    assert w.min() >= 1e-3 and w.max() == pytest.approx(1.0, abs=0.02)
    np.testing.assert_allclose(w, w[::-1, ::-1], rtol=1e-6)
    if kind != "uniform":
        assert w[6, 8] > w[0, 0]


def test_weights_reject_bad_arguments():
    with pytest.raises(ConfigError, match="weighting"):
        window_weights(8, "triangle")
    with pytest.raises(ConfigError):
        window_weights((0, 8))


@pytest.mark.parametrize("kind", ["gaussian", "cosine", "uniform"])
@pytest.mark.parametrize("shape,window", [((37, 53), 16), ((20, 20), 32), ((9, 70), (8, 24))])
def test_blend_windows_reconstructs_coordinates(kind, shape, window):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    coords = np.stack([yy, xx])
    out = blend_windows(lambda b: b, coords, window=window, overlap=0.5, weighting=kind)
    np.testing.assert_allclose(out, coords, atol=1e-4)
    const = blend_windows(
        lambda b: np.ones_like(b[:, :1]) * 0.25, coords, window=window, weighting=kind, batch_size=3
    )
    np.testing.assert_allclose(const, 0.25, rtol=1e-6)


def test_blend_windows_torch_in_numpy_out():
    x = torch.rand(2, 30, 31)
    out = blend_windows(lambda b: b * 2, x, window=12)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, x.numpy() * 2, atol=1e-5)


def _coordinate_stack(h: int, w: int):
    yy, xx = np.mgrid[0:h, 0:w]
    v = ((yy * w + xx + 0.5) / (h * w)).astype(np.float32)
    return make_stack(
        h, w, dates=("2020-01-01", "2020-02-01"), values=np.stack([v, v])
    ), yy * w + xx


@pytest.mark.parametrize("weighting", ["gaussian", "cosine"])
@pytest.mark.parametrize("tile", [None, 20])
def test_engine_reconstructs_pixel_coordinates(weighting, tile):
    """A model returning each pixel's own (encoded) coordinates gives back the coordinate
    image exactly after blending, tiled or not: windows are placed and weighted right."""
    h, w = 45, 58
    stack, index = _coordinate_stack(h, w)
    out = predict(
        stack,
        PointwiseModel(),
        window=16,
        overlap=0.5,
        weighting=weighting,
        tile=tile,
        batch_size=5,
    )
    back = out.probabilities.values[:, 0] * (h * w) - 0.5
    np.testing.assert_allclose(back, np.broadcast_to(index, back.shape), atol=5e-3)


def test_constant_model_gives_a_constant_mosaic(tmp_path):
    stack = make_stack(70, 45)
    model = ConstantModel()
    expected = torch.softmax(model.logits, 0).numpy()
    for kwargs in (
        {"window": 16},
        {"window": 16, "overlap": 0.75, "tile": 24},
        {"window": 100},
        {"window": 16, "weighting": "uniform", "tta": True},
    ):
        out = predict(stack, model, **kwargs)
        p = out.probabilities.values
        np.testing.assert_allclose(
            p, np.broadcast_to(expected[None, :, None, None], p.shape), rtol=1e-5, atol=1e-6
        )
        assert float(out.confidence.std()) < 1e-6
    streamed = open_prediction(
        predict_to_file(stack, model, tmp_path / "c.zarr", window=16, tile=32)
    )
    np.testing.assert_allclose(
        streamed.probabilities.values,
        np.broadcast_to(expected[None, :, None, None], p.shape),
        rtol=1e-5,
    )
