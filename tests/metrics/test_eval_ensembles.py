"""Test-time augmentation (inversion of each transform) and ensemble mean / std."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.errors import ConfigError, DataError
from workbench.metrics import (
    TTA_TRANSFORMS,
    apply_transform,
    ensemble_mean_std,
    ensemble_predict,
    invert_transform,
    tta_predict,
)

ROT4 = ("rot0", "rot90", "rot180", "rot270")
ALL8 = tuple(TTA_TRANSFORMS)


def test_transforms_are_the_8_distinct_dihedral_maps_and_invert():
    a = np.arange(12).reshape(3, 4)
    images = {t: apply_transform(a, t) for t in ALL8}
    assert len({v.tobytes() + bytes(v.shape) for v in images.values()}) == 8
    assert np.array_equal(images["transpose"], a.T)
    assert np.array_equal(images["rot90"], np.rot90(a))
    assert np.array_equal(images["hflip"], a[:, ::-1])
    assert np.array_equal(images["vflip"], a[::-1])
    for t in ALL8:
        assert np.array_equal(invert_transform(images[t], t), a)
        ta = torch.from_numpy(a)
        assert torch.equal(invert_transform(apply_transform(ta, t), t), ta)
        assert np.array_equal(apply_transform(ta, t).numpy(), images[t])
    with pytest.raises(ConfigError):
        apply_transform(a, "rot45")


def test_identity_model_outputs_align_after_inversion():
    # a wrong inversion (e.g. rotating the same way twice) would leave them misaligned
    x = np.random.default_rng(0).uniform(size=(2, 3, 5, 7))  # non-square
    outs = tta_predict(lambda im: im * 1.0, x, ALL8)
    assert len(outs) == 8
    for o in outs:
        assert np.array_equal(o, x)


def test_model_with_fixed_pattern_in_its_own_frame():
    # not rotation-equivariant: adds a fixed asymmetric pattern in ITS input frame
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(1, 2, 4, 4))
    pattern = np.arange(16.0).reshape(4, 4)
    outs = tta_predict(lambda im: im + pattern, x, ROT4)
    for k, o in enumerate(outs):
        # the image part is back in the input frame for every transform …
        # … and the pattern appears rotated back by −k quarter turns
        assert np.allclose(o - np.rot90(pattern, -k), x)
    # so the per-transform outputs differ only by the inverted pattern, and the image
    # content (the part an equivariant model keeps) lines up exactly
    mean, std = ensemble_mean_std(outs)
    expected_pattern = np.mean([np.rot90(pattern, -k) for k in range(4)], axis=0)
    assert np.allclose(mean - expected_pattern, x)


def test_non_equivariant_torch_model_matches_manual_tta():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 3, kernel_size=3, padding=1)  # random weights: not equivariant

    def model(t):
        return conv(t).softmax(dim=1)

    x = torch.rand(2, 1, 6, 8)
    outs = tta_predict(model, x, ("rot0", "rot90", "hflip"))
    with torch.no_grad():
        manual = [
            model(x),
            torch.rot90(model(torch.rot90(x, 1, (-2, -1))), -1, (-2, -1)),
            torch.flip(model(torch.flip(x, (-1,))), (-1,)),
        ]
    for o, m in zip(outs, manual, strict=True):
        assert o.shape == (2, 3, 6, 8)
        assert torch.allclose(o, m)
    assert not torch.allclose(outs[0], outs[1])  # the model is not equivariant
    mean, std = ensemble_mean_std(outs)
    assert torch.allclose(mean.sum(1), torch.ones(2, 6, 8))
    assert std.shape == (2, 6, 8) and bool((std > 0).any())
    assert not outs[0].requires_grad  # ran under inference_mode


def test_model_output_on_a_different_grid_is_an_error():
    with pytest.raises(DataError):
        tta_predict(lambda im: im[..., :-1], np.zeros((1, 1, 4, 4)))
    with pytest.raises(ConfigError):
        tta_predict(lambda im: im, np.zeros((1, 1, 4, 4)), [])


def test_ensemble_mean_std_hand_computed():
    # 3 members, (K=2, H=1, W=2), class axis 0
    m1 = np.array([[[0.9, 0.2]], [[0.1, 0.8]]])
    m2 = np.array([[[0.7, 0.4]], [[0.3, 0.6]]])
    m3 = np.array([[[0.8, 0.0]], [[0.2, 1.0]]])
    mean, std = ensemble_mean_std([m1, m2, m3], class_axis=0)
    assert np.allclose(mean, [[[0.8, 0.2]], [[0.2, 0.8]]])
    sd = np.sqrt(2 / 3 * 0.01)  # values ±0.1 around the mean
    sd2 = np.sqrt((0.0 + 0.04 + 0.04) / 3)
    assert np.allclose(std, [[sd, sd2]])  # predicted class: 0, then 1
    _, per_class = ensemble_mean_std([m1, m2, m3], class_axis=0, uncertainty="none")
    assert per_class.shape == (2, 1, 2)
    _, avg = ensemble_mean_std([m1, m2, m3], class_axis=0, uncertainty="mean")
    assert np.allclose(avg, [[sd, sd2]])  # 2 classes: stds are equal
    # torch gives the same numbers
    tm, ts = ensemble_mean_std([torch.tensor(m) for m in (m1, m2, m3)], class_axis=0)
    assert np.allclose(tm.numpy(), mean) and np.allclose(ts.numpy(), std, atol=1e-6)
    with pytest.raises(DataError):
        ensemble_mean_std([m1, m1[:, :, :1]])
    with pytest.raises(ConfigError):
        ensemble_mean_std([])
    with pytest.raises(ConfigError):
        ensemble_mean_std([m1], uncertainty="max")


def test_ensemble_predict_models_times_rotations():
    x = np.random.default_rng(2).uniform(size=(1, 1, 4, 4))

    def m1(im):
        return np.concatenate([im, 1 - im], axis=1)

    def m2(im):
        return np.concatenate([0.5 * im, 1 - 0.5 * im], axis=1)

    mean, std = ensemble_predict([m1, m2], x, ROT4)
    assert np.allclose(mean[:, 0], 0.75 * x[:, 0])
    # members: x (4 times) and x/2 (4 times) for class 0 → population std x/4 (both classes)
    assert np.allclose(std, 0.25 * x[:, 0])
