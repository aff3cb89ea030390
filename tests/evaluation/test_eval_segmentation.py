"""Zone metrics (per image, aggregated) and pooled outline counts; hand-computed."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from workbench.errors import ConfigError, DataError, LabelEncodingError
from workbench.evaluation import (
    OutlineCounts,
    aggregate_zone_metrics,
    f1_iou_from_precision_recall,
    zone_metrics,
)

NAN = float("nan")


def _eq(a, b):
    return np.allclose(np.asarray(a, float), np.asarray(b, float), equal_nan=True, atol=1e-12)


def test_zone_metrics_hand_computed():
    ref = np.array([[0, 0, 1], [2, 2, 2], [3, 3, 3]])
    pred = np.array([[0, 1, 1], [2, 2, 3], [3, 3, 2]])
    m = zone_metrics(pred, ref)
    # NA: TP1 FN1 FP0; rock: TP1 FP1; glacier: TP2 FP1 FN1; ocean: TP2 FP1 FN1
    assert m.confusion.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 2, 1], [0, 0, 1, 2]]
    assert _eq(m.iou, [1 / 2, 1 / 2, 2 / 4, 2 / 4])
    assert _eq(m.precision, [1, 1 / 2, 2 / 3, 2 / 3])
    assert _eq(m.recall, [1 / 2, 1, 2 / 3, 2 / 3])
    assert _eq(m.f1, [2 / 3, 2 / 3, 2 / 3, 2 / 3])
    assert m.mean_iou == pytest.approx(0.5) and m.mean_f1 == pytest.approx(2 / 3)
    assert m.class_names == ("na", "rock", "glacier", "ocean")
    d = m.to_dict()
    assert d["iou"]["mean"] == pytest.approx(0.5) and d["precision"]["rock"] == 0.5


def test_absent_and_one_sided_classes():
    ref = np.array([[2, 2, 3, 3]])
    pred = np.array([[2, 1, 3, 3]])  # rock predicted but absent from ref; NA absent
    m = zone_metrics(pred, ref)
    assert m.present.tolist() == [False, True, True, True]
    assert math.isnan(m.iou[0]) and math.isnan(m.precision[0]) and math.isnan(m.f1[0])
    assert (m.iou[1], m.precision[1], m.recall[1], m.f1[1]) == (0, 0, 0, 0)
    assert _eq(m.iou[2:], [1 / 2, 1])
    assert m.mean_iou == pytest.approx((0 + 0.5 + 1) / 3)  # NA ignored
    missed = zone_metrics(np.array([[3, 3]]), np.array([[2, 3]]))  # glacier never predicted
    assert (missed.precision[2], missed.recall[2], missed.iou[2]) == (0, 0, 0)
    json.dumps(m.to_dict(), allow_nan=False)


def test_zone_metrics_valid_mask_torch_and_errors():
    ref = torch.tensor([[2, 2], [3, 3]])
    pred = torch.tensor([[2, 3], [3, 3]])
    valid = np.array([[True, False], [True, True]])
    m = zone_metrics(pred, ref, valid=valid)
    assert _eq(m.iou, [NAN, NAN, 1, 1])
    m2 = zone_metrics(
        np.array([0, 1, 1]), np.array([1, 1, 0]), n_classes=2, class_names=["bg", "glacier"]
    )
    assert _eq(m2.iou, [0, 1 / 3])  # glacier: TP 1, FP 1, FN 1
    with pytest.raises(LabelEncodingError):
        zone_metrics(np.array([[4]]), np.array([[3]]))
    with pytest.raises(LabelEncodingError):
        zone_metrics(np.array([[0.5]]), np.array([[0.0]]))
    with pytest.raises(DataError):
        zone_metrics(np.zeros((2, 2), int), np.zeros((2, 3), int))
    with pytest.raises(ConfigError):
        zone_metrics(np.zeros(2, int), np.zeros(2, int), n_classes=2, class_names=["a"])


def test_aggregate_ignores_absent_classes():
    a = zone_metrics(np.array([[2, 2, 3, 3]]), np.array([[2, 2, 3, 3]]))  # glacier 1, ocean 1
    b = zone_metrics(np.array([[1, 3, 3, 3]]), np.array([[1, 1, 3, 3]]))  # rock .5, ocean 2/3
    c = zone_metrics(np.array([[0, 0]]), np.array([[0, 3]]))  # NA .5, ocean 0
    s = aggregate_zone_metrics([a, b, c])
    assert s.n_images == 3 and s.n_present.tolist() == [1, 1, 1, 3]
    assert _eq(s.per_class["iou"], [0.5, 0.5, 1.0, (1 + 2 / 3 + 0) / 3])
    # per-image means: a 1, b (0.5 + 2/3)/2, c (0.5 + 0)/2 → averaged over images
    assert s.mean["iou"] == pytest.approx((1 + (0.5 + 2 / 3) / 2 + 0.25) / 3)
    assert s.class_mean["iou"] == pytest.approx((0.5 + 0.5 + 1 + 5 / 9) / 4)
    # precision for ocean in c: predicted none → 0 (zero-division convention)
    assert s.per_class["precision"][3] == pytest.approx((1 + 2 / 3 + 0) / 3)
    frame = s.to_frame()
    assert list(frame.index) == ["iou", "precision", "recall", "f1"]
    assert list(frame.columns) == ["na", "rock", "glacier", "ocean", "mean", "class_mean"]
    json.dumps(s.to_dict(), allow_nan=False)
    with pytest.raises(ConfigError):
        aggregate_zone_metrics([])


def test_outline_counts_pooled_hand_computed():
    c = OutlineCounts()
    # tile 1: TP 2, FP 1, FN 1, TN 0
    c.update(np.array([[1, 1], [1, 0]]), np.array([[1, 1], [0, 1]]), group="svalbard")
    # tile 2 with a valid mask: only the first row counts → TP 0, FP 0, FN 1, TN 1
    c.update(
        np.array([[0, 0], [1, 1]]),
        np.array([[1, 0], [1, 1]]),
        valid=np.array([[True, True], [False, False]]),
        group="alps",
    )
    # tile 3: all correct, 3 TP, 1 TN (bool, torch)
    c.update(
        torch.tensor([True, True, True, False]),
        torch.tensor([True, True, True, False]),
        group="svalbard",
    )
    assert (c.tp, c.fp, c.fn, c.tn) == (5, 1, 2, 2)
    assert c.precision == pytest.approx(5 / 6)
    assert c.recall == pytest.approx(5 / 7)
    assert c.f1 == pytest.approx(10 / 13)
    assert c.iou == pytest.approx(5 / 8)
    sv = c.groups["svalbard"]
    assert (sv.tp, sv.fp, sv.fn, sv.tn) == (5, 1, 1, 1) and sv.iou == pytest.approx(5 / 7)
    assert c.groups["alps"].iou == 0.0
    assert c.mean_group_iou() == pytest.approx((5 / 7 + 0) / 2)
    # pooling is not averaging per-tile IoUs
    assert c.iou != pytest.approx(np.mean([2 / 4, 0, 1]))
    frame = c.to_frame()
    assert list(frame["group"]) == ["all", "alps", "svalbard"]
    d = c.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["groups"]["svalbard"]["tp"] == 5 and d["mean_group_iou"] == pytest.approx(5 / 14)
    both = c + OutlineCounts(1, 0, 0, 0)
    assert both.tp == 6 and both.groups["alps"].tn == 1


def test_outline_counts_edge_cases_and_errors():
    empty = OutlineCounts()
    assert all(math.isnan(v) for v in empty.metrics().values())
    assert empty.to_dict()["iou"] is None
    with pytest.raises(LabelEncodingError):
        OutlineCounts().update(np.array([0.3, 0.9]), np.array([0, 1]))  # probabilities
    with pytest.raises(DataError):
        OutlineCounts().update(np.zeros(3), np.zeros(4))
    with pytest.raises(DataError):
        OutlineCounts().update(np.zeros(3), np.zeros(3), valid=np.ones(2, bool))


@pytest.mark.parametrize(
    ("precision", "recall", "f1", "iou"),
    [  # docs/science.md §2.6 table (published, rounded to 3 decimals)
        (0.822, 0.941, 0.877, 0.781),
        (0.973, 0.949, 0.961, 0.924),
        (0.981, 0.955, 0.968, 0.937),
        (0.984, 0.979, 0.982, 0.964),
        (0.986, 0.976, 0.982, 0.964),
    ],
)
def test_f1_and_iou_from_published_precision_recall(precision, recall, f1, iou):
    f1_, iou_ = f1_iou_from_precision_recall(precision, recall)
    # P and R are rounded to 3 decimals, so the derived values carry ≈ ±0.001
    assert f1_ == pytest.approx(f1, abs=1.5e-3)
    assert iou_ == pytest.approx(iou, abs=1.5e-3)


def test_3d_conv_15_acquisitions_row():
    f1, iou = f1_iou_from_precision_recall(0.984, 0.979)
    assert round(f1, 4) == 0.9815 and round(iou, 3) == 0.964
    assert f1_iou_from_precision_recall(0, 0) == (0.0, 0.0)


def test_f1_iou_identity_matches_pooled_counts():
    rng = np.random.default_rng(0)
    for _ in range(20):
        c = OutlineCounts(*map(int, rng.integers(1, 10_000, size=4)))
        f1, iou = f1_iou_from_precision_recall(c.precision, c.recall)
        assert f1 == pytest.approx(c.f1, rel=1e-12) and iou == pytest.approx(c.iou, rel=1e-12)
