"""Entropy confidence, ECE, reliability curves, calibration map, temperature scaling."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import torch

from workbench.errors import ConfigError, DataError
from workbench.metrics import (
    CalibrationMap,
    ReliabilityCurve,
    TemperatureScaling,
    entropy_confidence,
    expected_calibration_error,
    reliability_curve,
)


def _h2(p):
    p = np.asarray(p, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.nan_to_num(p * np.log2(p)) - np.nan_to_num((1 - p) * np.log2(1 - p))


def test_entropy_confidence_two_classes_is_one_minus_h2():
    p = np.linspace(0, 1, 101)
    probs = np.stack([p, 1 - p], axis=1)  # (N, 2)
    conf = entropy_confidence(probs, axis=1)
    assert np.allclose(conf, 1 - _h2(p), atol=1e-12)
    assert conf[0] == 1.0 and conf[50] == pytest.approx(0.0, abs=1e-12)
    # (N, K, H, W) layout, torch input
    t = torch.tensor([[0.9, 0.1]]).reshape(1, 2, 1, 1)
    assert entropy_confidence(t, axis=1).shape == (1, 1, 1)


def test_entropy_confidence_more_classes_normalised():
    uniform = np.full((4, 3, 3), 0.25)  # (K, H, W)
    assert np.allclose(entropy_confidence(uniform, axis=0), 0.0)
    onehot = np.zeros((4, 2))
    onehot[2] = 1
    assert np.allclose(entropy_confidence(onehot, axis=0), 1.0)
    p = np.array([0.5, 0.5, 0.0, 0.0])  # 1 bit of 2 possible
    assert float(entropy_confidence(p, axis=0)) == pytest.approx(0.5)
    with pytest.raises(DataError):
        entropy_confidence(np.ones((1, 3)), axis=0)


def test_ece_hand_computed():
    conf = np.array([0.05, 0.25, 0.25, 0.95, 0.95, 0.95, 0.95, 1.0])
    correct = np.array([0, 1, 0, 1, 1, 1, 0, 1])
    # 4 bins of 0.25: [0,.25) {0.05}: conf .05 acc 0 → .05·1
    # [.25,.5) {.25,.25}: conf .25 acc .5 → .25·2
    # [.75,1] {.95×4, 1.0}: conf .96 acc .8 → .16·5
    expected = (0.05 * 1 + 0.25 * 2 + 0.16 * 5) / 8
    assert expected_calibration_error(conf, correct, n_bins=4) == pytest.approx(expected)
    rc = reliability_curve(conf, correct, n_bins=4)
    assert rc.count.tolist() == [1, 2, 0, 5]
    assert np.allclose(rc.mean_confidence, [0.05, 0.25, np.nan, 0.96], equal_nan=True)
    assert np.allclose(rc.accuracy, [0, 0.5, np.nan, 0.8], equal_nan=True)
    assert rc.ece == pytest.approx(expected) and rc.n == 8
    # pooled over a list of images == concatenated; valid mask drops pixels
    parts = expected_calibration_error([conf[:3], conf[3:]], [correct[:3], correct[3:]], n_bins=4)
    assert parts == pytest.approx(expected)
    valid = np.ones(8, bool)
    valid[0] = False
    assert expected_calibration_error(conf, correct, n_bins=4, valid=valid) == pytest.approx(
        (0.25 * 2 + 0.16 * 5) / 7
    )
    # accumulating image by image
    acc = ReliabilityCurve(4).update(conf[:5], correct[:5]).update(conf[5:], correct[5:])
    assert acc.ece == pytest.approx(expected)
    assert ReliabilityCurve.from_dict(json.loads(json.dumps(acc.to_dict()))).ece == acc.ece
    assert math.isnan(ReliabilityCurve(10).ece)
    with pytest.raises(DataError):
        expected_calibration_error(np.array([1.2]), np.array([1]))
    with pytest.raises(DataError):
        expected_calibration_error(np.array([0.2, 0.3]), np.array([1]))
    with pytest.raises(ConfigError):
        ReliabilityCurve(0)


def _synthetic(n, seed, acc_of_conf):
    rng = np.random.default_rng(seed)
    conf = rng.uniform(size=n)
    correct = rng.uniform(size=n) < acc_of_conf(conf)
    return conf, correct


def test_perfectly_calibrated_gives_small_ece_and_identity_map():
    conf, correct = _synthetic(400_000, 1, lambda c: c)
    assert expected_calibration_error(conf, correct, n_bins=20) < 0.005
    assert expected_calibration_error(conf, correct) < 0.01  # 100 bins: more noise
    cmap = CalibrationMap.fit(conf, correct)
    xs = np.linspace(0, 1, 201)
    assert np.max(np.abs(cmap(xs) - xs)) < 0.03
    assert cmap(0.0) == 0.0 and cmap(1.0) == 1.0
    assert np.all(np.diff(cmap(xs)) >= 0)


def test_map_fixes_over_confidence_on_held_out_data():
    val_c, val_k = _synthetic(200_000, 2, lambda c: c**2)
    test_c, test_k = _synthetic(200_000, 3, lambda c: c**2)
    raw = expected_calibration_error(test_c, test_k)
    assert raw == pytest.approx(1 / 6, abs=0.01)  # E|c − c²| = 1/6
    cmap = CalibrationMap.fit(val_c, val_k)
    fixed = expected_calibration_error(cmap(test_c), test_k)
    assert fixed < raw / 5
    xs = np.linspace(0, 1, 101)
    assert np.max(np.abs(cmap(xs) - xs**2)) < 0.05
    assert np.all(np.diff(cmap(xs)) >= 0)


def test_map_is_monotone_for_non_monotone_data_and_serialises():
    # accuracy dips in the middle: isotonic pooling must keep the map nondecreasing
    conf, correct = _synthetic(100_000, 4, lambda c: np.where((c > 0.4) & (c < 0.6), 0.2, c))
    cmap = CalibrationMap.fit(conf, correct)
    xs = np.linspace(0, 1, 1001)
    ys = cmap(xs)
    assert np.all(np.diff(ys) >= -1e-12) and ys.min() >= 0 and ys.max() <= 1
    d = json.loads(json.dumps(cmap.to_dict()))
    again = CalibrationMap.from_dict(d)
    assert np.array_equal(again(xs), ys)
    # from an accumulated curve gives the same map
    curve = (
        ReliabilityCurve(100)
        .update(conf[:50_000], correct[:50_000])
        .update(conf[50_000:], correct[50_000:])
    )
    assert np.allclose(CalibrationMap.fit(curve, None)(xs), ys)
    # checkpoint-safe: plain types load with torch weights_only=True
    buf = io.BytesIO()
    torch.save({"calibration": cmap.to_dict()}, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    assert np.array_equal(CalibrationMap.from_dict(loaded["calibration"])(xs), ys)
    assert np.isnan(cmap(np.array([np.nan]))[0])
    assert np.array_equal(CalibrationMap.identity()(xs), xs)
    for bad in (
        {"kind": "x"},
        {"kind": "CalibrationMap", "x": [0, 1], "y": [1, 0]},
        {"kind": "CalibrationMap", "x": [0, 0.5], "y": [0, 1]},
        {"kind": "CalibrationMap", "version": 99, "x": [0, 1], "y": [0, 1]},
    ):
        with pytest.raises(ConfigError):
            CalibrationMap.from_dict(bad)
    with pytest.raises(DataError):
        CalibrationMap.fit(np.array([]), np.array([]))


def _tempered_labels(n, k, t, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=4.0, size=(n, k))
    p = np.exp(logits / t)
    p /= p.sum(1, keepdims=True)
    labels = (rng.uniform(size=(n, 1)) > p.cumsum(1)).sum(1)
    return logits, np.minimum(labels, k - 1)


def test_temperature_scaling_recovers_known_temperature():
    logits, labels = _tempered_labels(30_000, 4, 2.0, seed=5)
    ts = TemperatureScaling.fit(logits, labels, axis=1)
    assert ts.temperature == pytest.approx(2.0, abs=0.1)
    cold_logits, cold_labels = _tempered_labels(30_000, 4, 1.0, seed=6)
    assert TemperatureScaling.fit(cold_logits, cold_labels).temperature == pytest.approx(
        1.0, abs=0.07
    )
    # image layout (N, K, H, W) with a valid mask and subsampling
    img = logits.reshape(30, 1000, 4).transpose(0, 2, 1).reshape(30, 4, 25, 40)
    lab = labels.reshape(30, 25, 40)
    valid = np.ones_like(lab, bool)
    valid[:, :2] = False
    ts2 = TemperatureScaling.fit(
        torch.from_numpy(img), lab, axis=1, valid=valid, max_samples=20_000
    )
    assert ts2.temperature == pytest.approx(2.0, abs=0.12)
    probs = ts(img, axis=1)
    assert probs.shape == img.shape and np.allclose(probs.sum(1), 1)
    # fitted T lowers the NLL on held-out data
    test_logits, test_labels = _tempered_labels(20_000, 4, 2.0, seed=7)

    def nll(p):
        return -np.log(p[np.arange(len(test_labels)), test_labels]).mean()

    assert nll(ts(test_logits)) < nll(TemperatureScaling(1.0)(test_logits))
    again = TemperatureScaling.from_dict(json.loads(json.dumps(ts.to_dict())))
    assert again.temperature == ts.temperature
    with pytest.raises(ConfigError):
        TemperatureScaling(0.0)
    with pytest.raises(ConfigError):
        TemperatureScaling.from_dict({"kind": "CalibrationMap"})
    with pytest.raises(DataError):
        TemperatureScaling.fit(logits, labels[:10])
    with pytest.raises(DataError):
        TemperatureScaling.fit(logits, labels + 10)
