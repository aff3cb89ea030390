"""Device-side batch augmentation: alignment of labels, probabilities, determinism."""

from __future__ import annotations

import pytest
import torch

from workbench.data.patches import Normalization
from workbench.errors import ConfigError
from workbench.training.augment import OPS, Augmenter, validate_augment_config

GEOMETRIC = ["hflip", "vflip", "rot90", "crop_rescale", "zoom"]


def _ramp_batch(b: int = 6, size: int = 40, cell: int = 8) -> dict:
    """image = (x, y) coordinate ramps; mask = the 8×8 cell id of each pixel: mask = f(image)."""
    yy, xx = torch.meshgrid(
        torch.arange(size, dtype=torch.float32),
        torch.arange(size, dtype=torch.float32),
        indexing="ij",
    )
    image = torch.stack([xx, yy])[None].repeat(b, 1, 1, 1)
    mask = ((yy // cell) * 10 + xx // cell).long()[None].repeat(b, 1, 1)
    front = (xx.long() % cell == 0)[None].repeat(b, 1, 1)
    return {
        "image": image,
        "mask": mask,
        "front": front,
        "valid": torch.ones(b, size, size, dtype=torch.bool),
    }


def _relation_holds(batch: dict, cell: int = 8) -> torch.Tensor:
    """Per valid pixel: does the mask still equal the cell of the (moved) coordinates?"""
    x = batch["image"][:, 0].round().long()
    y = batch["image"][:, 1].round().long()
    return ((y // cell) * 10 + x // cell == batch["mask"])[batch["valid"]]


@pytest.mark.parametrize("op", GEOMETRIC)
def test_geometric_ops_keep_labels_aligned(op):
    batch = _ramp_batch()
    out = Augmenter({op: 1.0}, seed=1)(batch)
    assert not torch.equal(out["image"], batch["image"])  # something moved
    ok = _relation_holds(out)
    if op in ("hflip", "vflip", "rot90"):
        assert bool(ok.all())  # exact: pixels are permuted
        front_x = out["image"][:, 0].round().long() % 8 == 0
        assert torch.equal(front_x, out["front"])
        assert bool(out["valid"].all())
    else:
        # bilinear image vs nearest labels: only ties at cell borders may differ
        assert ok.float().mean() > 0.97
    assert out["mask"].dtype == torch.long and out["front"].dtype == torch.bool


def test_zoom_out_marks_padding_invalid_and_zero():
    batch = _ramp_batch(b=8)
    batch["image"] = batch["image"] + 1.0  # no zeros in the input
    out = Augmenter({"zoom": {"p": 1.0, "range": [0.4, 0.5]}}, seed=0)(batch)
    invalid = ~out["valid"]
    assert invalid.any()
    assert bool((out["image"].permute(1, 0, 2, 3)[:, invalid] == 0).all())
    assert bool((out["image"][:, 0][out["valid"]] > 0).all())


def test_probability_zero_is_identity():
    cfg = {name: {"p": 0.0} for name in OPS}
    aug = Augmenter(cfg)
    assert not aug.enabled
    batch = _ramp_batch()
    out = aug(dict(batch))
    for k in batch:
        assert torch.equal(out[k], batch[k])


def test_probability_is_per_sample():
    b = 400
    batch = {
        "image": torch.arange(4.0).view(1, 1, 1, 4).repeat(b, 1, 1, 1),
        "mask": torch.arange(4).view(1, 1, 4).repeat(b, 1, 1),
    }
    out = Augmenter({"hflip": 0.3}, seed=5)(batch)
    flipped = (out["image"][:, 0, 0, 0] == 3).float().mean().item()
    assert 0.22 < flipped < 0.38
    assert torch.equal(out["image"][:, 0].long(), out["mask"])


def test_seeded_and_deterministic():
    cfg = {
        "hflip": 0.5,
        "rot90": 0.5,
        "zoom": 0.5,
        "crop_rescale": 0.5,
        "gamma": 0.5,
        "gaussian_noise": 0.5,
        "occlusion": 0.5,
        "brightness": 0.5,
    }
    batch = _ramp_batch()
    a = Augmenter(cfg, seed=7)(batch)
    b = Augmenter(cfg, seed=7)(batch)
    c = Augmenter(cfg, seed=8)(batch)
    for k in batch:
        assert torch.equal(a[k], b[k])
    assert not torch.equal(a["image"], c["image"])
    # the generator state survives a round trip (resume continues the same stream)
    aug = Augmenter(cfg, seed=7)
    aug(batch)
    state = aug.state_dict()
    first = aug(batch)
    again = Augmenter(cfg, seed=0)
    again.load_state_dict(state)
    assert torch.equal(again(batch)["image"], first["image"])


@pytest.mark.parametrize(
    "op",
    ["gamma", "contrast", "brightness", "gaussian_shift", "gaussian_noise", "occlusion", "speckle"],
)
def test_intensity_ops_leave_labels_alone(op):
    batch = _ramp_batch()
    batch["image"] = batch["image"] / 40.0
    batch["valid"][:, :2] = False
    batch["image"][:, :, :2] = 0.0
    norm = Normalization(mean=(0.5, 0.5), std=(0.2, 0.2))
    out = Augmenter({op: 1.0}, seed=2, normalization=norm)(batch)
    for k in ("mask", "front", "valid"):
        assert torch.equal(out[k], batch[k])
    assert not torch.equal(out["image"], batch["image"])
    assert bool((out["image"][:, :, :2] == 0).all())  # invalid pixels stay 0


def test_gamma_keeps_the_valid_range():
    batch = _ramp_batch()
    out = Augmenter({"gamma": {"p": 1.0, "range": [0.5, 2.0]}}, seed=0)(batch)
    img, ref = out["image"], batch["image"]
    assert torch.allclose(img.amin(dim=(2, 3)), ref.amin(dim=(2, 3)))
    assert torch.allclose(img.amax(dim=(2, 3)), ref.amax(dim=(2, 3)))


def test_time_jitter_moves_dates_by_at_most_one():
    b, t = 16, 6
    image = torch.arange(t, dtype=torch.float32).view(1, t, 1, 1, 1).expand(b, t, 2, 8, 8).clone()
    mask = torch.randint(0, 2, (b, 8, 8))
    out = Augmenter({"time_jitter": 1.0}, seed=0)({"image": image, "mask": mask})
    diff = out["image"][:, :, 0, 0, 0] - image[:, :, 0, 0, 0]
    assert diff.abs().max() <= 1 and (diff != 0).any()
    assert bool((out["image"] == out["image"][..., :1, :1, :1]).all())  # whole dates move
    assert torch.equal(out["mask"], mask)


def test_time_series_geometric_alignment():
    base = _ramp_batch(b=4)
    image = base["image"][:, None].repeat(1, 3, 1, 1, 1)  # B × T × C × H × W
    out = Augmenter({"rot90": 1.0, "crop_rescale": 1.0}, seed=3)({**base, "image": image})
    assert out["image"].shape == image.shape
    for t in range(3):
        ok = _relation_holds({**out, "image": out["image"][:, t]})
        assert ok.float().mean() > 0.97


def test_ocean_mixup_changes_only_ocean_pixels():
    b, h = 6, 16
    g = torch.Generator().manual_seed(0)
    mask = torch.full((b, h, h), 2)
    mask[:, :, 8:] = 3
    image = torch.rand(b, 1, h, h, generator=g)
    out = Augmenter({"ocean_mixup": 1.0}, seed=4)({"image": image, "mask": mask})
    changed = (out["image"] != image)[:, 0]
    assert changed.any()
    assert not changed[mask != 3].any()
    assert torch.equal(out["mask"], mask)
    # mixed values lie between the sample's own and some other sample's values
    lo = image.min(dim=0).values
    hi = image.max(dim=0).values
    assert bool(((out["image"] >= lo - 1e-6) & (out["image"] <= hi + 1e-6)).all())


def test_multi_source_dict_images():
    base = _ramp_batch(b=4)
    image = {"optical": base["image"], "sar": base["image"][:, :1].clone(), "dem": None}
    out = Augmenter({"rot90": 1.0, "hflip": 0.5}, seed=1)({**base, "image": image})
    assert out["image"]["dem"] is None
    assert torch.equal(out["image"]["sar"], out["image"]["optical"][:, :1])
    assert bool(_relation_holds({**out, "image": out["image"]["optical"]}).all())
    dropped = Augmenter({"source_dropout": {"p": 1.0, "sources": ["sar"]}})(
        {**base, "image": image}
    )
    assert dropped["image"]["sar"] is None and dropped["image"]["optical"] is not None


def test_config_validation_names_the_key():
    assert validate_augment_config({"hflip": 0.5})["hflip"] == {"p": 0.5}
    assert "zoom" not in validate_augment_config({"zoom": 0})
    with pytest.raises(ConfigError, match="augment.blur"):
        validate_augment_config({"blur": 0.1})
    with pytest.raises(ConfigError, match="augment.zoom"):
        validate_augment_config({"zoom": {"p": 0.5, "factor": 2}})
    with pytest.raises(ConfigError, match="probability"):
        validate_augment_config({"hflip": 1.5})
    with pytest.raises(ConfigError, match="augment.crop_rescale.scale"):
        validate_augment_config({"crop_rescale": {"p": 0.5, "scale": [0.8, 1.2]}})


def test_contrast_scales_each_sample_within_its_range():
    batch = _ramp_batch(b=64)
    out = Augmenter({"contrast": {"p": 1.0, "range": [0.6, 1.6]}}, seed=1)(batch)
    factor = out["image"][:, :, 10, 10] / batch["image"][:, :, 10, 10]
    assert torch.allclose(factor[:, 0], factor[:, 1])  # one factor per sample
    assert bool(((factor > 0.6) & (factor < 1.6)).all()) and factor.std() > 0.2
    with pytest.raises(ConfigError, match="augment.contrast"):
        validate_augment_config({"contrast": {"p": 1.0, "range": [0.0, 1.0]}})
