"""Tasks: sliding-window prediction, the validation metrics on perfect predictions, the losses."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from _training_helpers import OutlineOracle, ZoneOracle, caffe_zones
from torch.utils.data import DataLoader

from workbench.evaluation import zones_to_front
from workbench.models import SegmentationOutput, create_model
from workbench.training.datamodules import collate_eval
from workbench.training.tasks import (
    OutlineSegmentationTask,
    ZoneSegmentationTask,
    center_crop,
    predict_tiled,
)


class _Pointwise(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 1)

    def forward(self, x):
        return SegmentationOutput(self.conv(x))


@pytest.mark.parametrize("weighting", ["uniform", "gaussian"])
@pytest.mark.parametrize(("window", "keep"), [(16, None), (32, 16), (24, 13)])
def test_tiled_prediction_equals_the_full_image(window, keep, weighting):
    model = _Pointwise().eval()
    x = torch.randn(2, 2, 37, 50)
    out = predict_tiled(
        model, x, window=window, keep=keep, overlap=0.5, batch_size=3, weighting=weighting
    )
    assert torch.allclose(out["logits"], model(x).logits, atol=1e-5)


def test_tiled_prediction_of_dicts_and_time_series():
    class Sum(torch.nn.Module):
        def forward(self, x):
            if isinstance(x, dict):
                return SegmentationOutput(x["a"] + x["b"])
            return SegmentationOutput(x.sum(1))

    d = {"a": torch.randn(1, 2, 20, 20), "b": torch.randn(1, 2, 20, 20)}
    assert torch.allclose(predict_tiled(Sum(), d, window=8)["logits"], d["a"] + d["b"], atol=1e-6)
    ts = torch.randn(1, 3, 2, 20, 20)
    assert torch.allclose(predict_tiled(Sum(), ts, window=8)["logits"], ts.sum(1), atol=1e-6)


def _validate(task, items):
    loader = DataLoader(items, batch_size=2, collate_fn=collate_eval)
    trainer = L.Trainer(
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
    )
    return trainer.validate(task, dataloaders=loader, verbose=False)[0]


def test_zone_validation_metrics_of_a_perfect_model():
    items = []
    for i, col in enumerate((20, 26, 31)):
        z, front = caffe_zones(48, 48, col)
        assert np.array_equal(zones_to_front(z, 7.0, min_cluster_px=0), front)
        items.append(
            {
                "image": torch.from_numpy(z / 3.0).float()[None],
                "mask": torch.from_numpy(z),
                "front": torch.from_numpy(front),
                "valid": torch.ones(48, 48, dtype=torch.bool),
                "meta": {"stem": f"SI_2010-01-0{i + 1}_TSX_7_1_125", "resolution_m": 7.0},
            }
        )
    task = ZoneSegmentationTask(
        model="caffe_unet", preset="small", validation={"window": 32, "min_cluster_px": 0}
    )
    task.model = ZoneOracle()
    m = _validate(task, items)
    assert m["val_mde"] == 0.0 and m["val_mde_px"] == 0.0 and m["val_no_front"] == 0
    assert m["val_miou"] == pytest.approx(1.0) and m["val_images"] == 3
    # a front one column off costs exactly one pixel = 7 m
    shifted = [dict(it, front=torch.roll(it["front"], 1, dims=1)) for it in items]
    m = _validate(task, shifted)
    assert m["val_mde_px"] == pytest.approx(1.0) and m["val_mde"] == pytest.approx(7.0)
    assert m["val_mde_sel"] == pytest.approx(7.0) and m["val_coverage"] == 1.0
    # unknown pixel size: the MDE is reported in pixels
    task.hparams.validation["resolution_m"] = None
    assert _validate(task, shifted)["val_mde"] == pytest.approx(1.0)
    task.hparams.validation["resolution_m"] = "meta"
    # an image without a predicted front is left out of the MDE but charged in val_mde_sel
    no_ocean = dict(shifted[2], image=torch.full((1, 48, 48), 2 / 3.0))
    m = _validate(task, [*shifted[:2], no_ocean])
    assert m["val_no_front"] == 1 and m["val_mde"] == pytest.approx(7.0)
    assert m["val_coverage"] == pytest.approx(2 / 3) and m["val_mde_sel"] == pytest.approx(10.5)
    # without reference fronts, they come from the reference zones
    no_front = [{k: v for k, v in it.items() if k != "front"} for it in items]
    assert _validate(task, no_front)["val_mde"] == 0.0


def test_outline_validation_metrics_pool_counts():
    g = torch.Generator().manual_seed(0)
    items = []
    for _ in range(3):
        mask = (torch.rand(20, 20, generator=g) > 0.5).long()
        x = torch.zeros(3, 2, 20, 20)
        x[-1, 0] = mask.float()
        items.append({"image": x, "mask": mask, "valid": torch.ones(20, 20, dtype=torch.bool)})
    task = OutlineSegmentationTask(model="icemapper3d", preset="small", validation={"window": 16})
    task.model = OutlineOracle()
    m = _validate(task, items)
    assert m["val_iou"] == 1.0 and m["val_f1"] == 1.0
    # wrong on one scene: pooled IoU = TP / (TP + FP + FN) over all scenes
    items[0]["mask"] = 1 - items[0]["mask"]
    tp = sum(int(it["mask"].sum()) for it in items[1:])
    wrong = 400
    m = _validate(task, items)
    assert m["val_iou"] == pytest.approx(tp / (tp + wrong))


def test_target_context_loss():
    task = ZoneSegmentationTask(
        model="ssl4sar_hybrid",
        preset="small",
        model_kwargs={"target_size": 32, "front_head": True},
        loss={
            "target_size": 32,
            "target_weight": 1.0,
            "context_weight": 0.5,
            "label_smoothing": 0.0,
        },
    )
    g = torch.Generator().manual_seed(0)
    batch = {
        "image": torch.randn(2, 1, 64, 64, generator=g),
        "mask": torch.randint(0, 4, (2, 64, 64), generator=g),
        "front": torch.rand(2, 64, 64, generator=g) > 0.9,
        "valid": torch.ones(2, 64, 64, dtype=torch.bool),
    }
    out = task(batch["image"])
    parts = task.compute_loss(out, batch)
    crit = task.criterion
    assert parts["loss_target"].item() == pytest.approx(
        crit(out.target, center_crop(batch["mask"], 32)).item(), rel=1e-5
    )
    assert parts["loss_context"].item() == pytest.approx(
        crit(out.logits, batch["mask"]).item(), rel=1e-5
    )
    assert parts["loss"].item() == pytest.approx(
        (parts["loss_target"] + 0.5 * parts["loss_context"] + parts["loss_front"]).item(), rel=1e-5
    )
    # a model without a target output: the task crops the logits itself
    plain = ZoneSegmentationTask(model="caffe_unet", preset="small", loss={"target_size": 16})
    p = plain.compute_loss(
        plain(batch["image"][..., :32, :32]), {k: v[..., :32, :32] for k, v in batch.items()}
    )
    assert {"loss", "loss_target", "loss_context"} <= set(p)


def test_glavitu_deep_supervision_loss():
    task = OutlineSegmentationTask(
        model="glavitu",
        preset="small",
        model_kwargs={"sources": {"optical": 6, "dem": 2}, "optional_sources": []},
    )
    assert task.model.aux_loss_weight == 0.5
    batch = {
        "image": {"optical": torch.randn(2, 6, 32, 32), "dem": torch.randn(2, 2, 32, 32)},
        "mask": torch.randint(0, 2, (2, 32, 32)),
    }
    task.train()
    out = task(batch["image"])
    parts = task.compute_loss(out, batch)
    assert parts["loss"].item() == pytest.approx(
        (parts["loss_main"] + 0.5 * parts["loss_aux"]).item(), rel=1e-5
    )
    task.eval()
    assert "loss_aux" not in task.compute_loss(task(batch["image"]), batch)
    model = create_model("glavitu", preset="small")
    assert model.config["num_classes"] == 2
