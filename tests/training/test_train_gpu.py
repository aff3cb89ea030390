"""GPU checks (skipped without CUDA): bf16 autocast, augmentation on the device, a tiny fit."""

from __future__ import annotations

import pytest
import torch

from workbench.models import load_model
from workbench.training import Augmenter, fit, resolve_precision
from workbench.training.augment import OPS

pytestmark = pytest.mark.gpu


def test_precision_auto_is_bf16_on_gpu():
    expected = "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    assert resolve_precision("auto") == expected
    assert resolve_precision("auto", "cpu") == "32-true"


def test_every_augmentation_runs_on_the_gpu_and_is_seeded():
    b = 4
    batch = {
        "image": torch.rand(b, 3, 2, 32, 32, device="cuda"),
        "mask": torch.randint(0, 4, (b, 32, 32), device="cuda"),
        "valid": torch.ones(b, 32, 32, dtype=torch.bool, device="cuda"),
    }
    cfg = {name: 1.0 for name in OPS if name != "source_dropout"}
    out1 = Augmenter(cfg, seed=3)(batch)
    out2 = Augmenter(cfg, seed=3)(batch)
    assert out1["image"].device.type == "cuda"
    assert torch.equal(out1["image"], out2["image"]) and torch.equal(out1["mask"], out2["mask"])


def test_tiny_fit_on_the_gpu(tmp_path):
    result = fit(
        {
            "task": "zones",
            "output_dir": str(tmp_path),
            "data": {
                "kind": "demo",
                "n_glaciers": 3,
                "years": 0.15,
                "size": 64,
                "pixel_size": 160.0,
                "patch_size": 32,
                "batch_size": 4,
            },
            "augment": {"hflip": 0.5, "zoom": 0.5, "speckle": 0.5, "ocean_mixup": 0.5},
            "trainer": {
                "max_epochs": 2,
                "accelerator": "gpu",
                "devices": 1,
                "enable_progress_bar": False,
            },
        }
    )
    assert result.epochs == 2
    assert result.config["trainer"]["precision"] == "auto"
    model = load_model(result.best_checkpoint, device="cuda")
    assert next(model.parameters()).device.type == "cuda"
