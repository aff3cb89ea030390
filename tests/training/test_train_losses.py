"""Losses: hand-computed values, equivalences and masking."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from workbench.errors import ConfigError
from workbench.training.losses import (
    SegmentationLoss,
    binary_front_loss,
    cross_entropy,
    dice_loss,
    focal_loss,
)


def _onehot_logits(target: torch.Tensor, k: int, scale: float = 60.0) -> torch.Tensor:
    return scale * F.one_hot(target, k).permute(0, 3, 1, 2).float()


def test_perfect_prediction_gives_zero_dice_and_ce():
    target = torch.randint(0, 4, (2, 8, 8), generator=torch.Generator().manual_seed(0))
    logits = _onehot_logits(target, 4)
    assert dice_loss(logits, target).item() == pytest.approx(0.0, abs=1e-6)
    assert cross_entropy(logits, target).item() == pytest.approx(0.0, abs=1e-6)
    combined = SegmentationLoss("ce_dice", num_classes=4, label_smoothing=0.0)
    assert combined(logits, target).item() == pytest.approx(0.0, abs=1e-6)


def test_dice_by_hand():
    # 2 classes, 4 pixels; probabilities 0.5 everywhere (zero logits), target [0, 0, 0, 1]
    target = torch.tensor([[[0, 0], [0, 1]]])
    logits = torch.zeros(1, 2, 2, 2)
    # class 0: inter 1.5, sum p 2, sum t 3 → D = (3 + 1) / (5 + 1); class 1: inter 0.5 → (1 + 1) / (3 + 1)
    expected = 1 - 0.5 * (4 / 6 + 2 / 4)
    assert dice_loss(logits, target, smooth=1.0).item() == pytest.approx(expected, rel=1e-6)
    w = dice_loss(logits, target, smooth=1.0, class_weights=[3.0, 1.0]).item()
    assert w == pytest.approx(1 - (3 * 4 / 6 + 2 / 4) / 4, rel=1e-6)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weights", [None, [1.0, 2.0, 0.5]])
def test_focal_with_gamma_zero_is_cross_entropy(smoothing, weights):
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 3, 5, 5, generator=g)
    target = torch.randint(0, 3, (3, 5, 5), generator=g)
    target[0, 0, :3] = -100  # ignored pixels
    w = None if weights is None else torch.tensor(weights)
    ref = F.cross_entropy(logits, target, weight=w, label_smoothing=smoothing, ignore_index=-100)
    got = focal_loss(logits, target, gamma=0.0, label_smoothing=smoothing, class_weights=weights)
    assert got.item() == pytest.approx(ref.item(), rel=1e-5)
    assert cross_entropy(
        logits, target, label_smoothing=smoothing, class_weights=weights
    ).item() == pytest.approx(ref.item(), rel=1e-5)


def test_focal_by_hand():
    # uniform logits over 2 classes: p = 0.5; γ = 2 → (1 - 0.5)² · log 2, whatever the smoothing
    logits = torch.zeros(1, 2, 3, 3)
    target = torch.ones(1, 3, 3, dtype=torch.long)
    for eps in (0.0, 0.1):
        assert focal_loss(logits, target, gamma=2.0, label_smoothing=eps).item() == pytest.approx(
            0.25 * math.log(2), rel=1e-6
        )
    # a confident correct pixel is down-weighted much more than a wrong one
    good = torch.tensor([[[[-3.0]], [[3.0]]]])
    t = torch.ones(1, 1, 1, dtype=torch.long)
    p = torch.sigmoid(torch.tensor(6.0)).item()
    assert focal_loss(good, t, gamma=2.0).item() == pytest.approx(
        -((1 - p) ** 2) * math.log(p), rel=1e-5
    )


def test_valid_mask_ignores_pixels():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 4, 6, 6, generator=g)
    target = torch.randint(0, 4, (2, 6, 6), generator=g)
    valid = torch.ones(2, 6, 6, dtype=torch.bool)
    valid[:, :, 3:] = False
    loss = SegmentationLoss("ce_dice", num_classes=4, label_smoothing=0.1)
    base = loss(logits, target, valid)
    changed = logits.clone()
    changed[:, :, :, 3:] = torch.randn(2, 4, 6, 3, generator=g) * 10
    assert loss(changed, target, valid).item() == pytest.approx(base.item(), rel=1e-6)
    # equal to the loss on the valid half alone
    half = loss(logits[..., :3], target[..., :3])
    assert base.item() == pytest.approx(half.item(), rel=1e-5)


def test_combined_weights_and_kinds():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 4, 5, 5, generator=g)
    target = torch.randint(0, 4, (2, 5, 5), generator=g)
    ce = cross_entropy(logits, target, label_smoothing=0.1)
    dice = dice_loss(logits, target)
    mixed = SegmentationLoss("ce_dice", ce_weight=0.3, dice_weight=0.7, label_smoothing=0.1)
    assert mixed(logits, target).item() == pytest.approx(
        0.3 * ce.item() + 0.7 * dice.item(), rel=1e-6
    )
    assert SegmentationLoss("dice")(logits, target).item() == pytest.approx(dice.item(), rel=1e-6)
    fd = SegmentationLoss("focal_dice", gamma=2.0)(logits, target)
    assert fd.item() == pytest.approx(
        0.5 * focal_loss(logits, target).item() + 0.5 * dice.item(), rel=1e-6
    )


def test_loss_errors_name_the_key():
    with pytest.raises(ConfigError, match="loss.kind"):
        SegmentationLoss("tversky")
    with pytest.raises(ConfigError, match="loss.class_weights"):
        SegmentationLoss(num_classes=4, class_weights=[1.0, 2.0])
    with pytest.raises(ConfigError, match="num_classes"):
        SegmentationLoss(num_classes=4)(
            torch.zeros(1, 2, 3, 3), torch.zeros(1, 3, 3, dtype=torch.long)
        )


def test_front_loss_pos_weight():
    logits = torch.zeros(1, 1, 2, 2)
    target = torch.tensor([[[True, False], [False, False]]])
    # BCE at p = 0.5 is log 2 per pixel; the positive pixel counts pos_weight times
    assert binary_front_loss(logits, target, pos_weight=5.0).item() == pytest.approx(
        (5 + 3) / 4 * math.log(2), rel=1e-6
    )
    valid = torch.tensor([[[True, True], [False, False]]])
    assert binary_front_loss(logits, target, pos_weight=5.0, valid=valid).item() == pytest.approx(
        (5 + 1) / 2 * math.log(2), rel=1e-6
    )
