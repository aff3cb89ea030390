"""``init.model``: training starts from every weight (and the normalisation) of a checkpoint."""

from __future__ import annotations

import pytest
import torch

from workbench.errors import CheckpointError, ConfigError
from workbench.models import load_model
from workbench.training import fit

QUIET = {"enable_progress_bar": False, "num_sanity_val_steps": 0, "log_every_n_steps": 1}


def _cfg(caffe_folder, tmp_path, name, **init):
    return {
        "task": "zones",
        "output_dir": str(tmp_path),
        "name": name,
        "model": {"name": "caffe_unet", "preset": "small"},
        "data": {
            "kind": "caffe",
            "root": str(caffe_folder),
            "patch_size": 32,
            "batch_size": 4,
            "samples_per_image": 1,
            "val_fraction": 0.25,
        },
        "optimizer": {"name": "adam", "lr": 3e-3},
        "scheduler": {"name": "none"},
        "validation": {"window": 32, "min_cluster_px": 0},
        "trainer": {"max_epochs": 1, **QUIET},
        "init": init,
    }


def test_fine_tuning_starts_from_the_checkpoint(caffe_folder, tmp_path):
    first = fit(_cfg(caffe_folder, tmp_path, "first")).best_checkpoint
    source = load_model(first, device="cpu")
    # lr 1e-30: the parameters stay exactly the checkpoint's (batch-norm statistics still move)
    cfg = _cfg(caffe_folder, tmp_path, "tuned", model=str(first))
    cfg["optimizer"]["lr"] = 1e-30
    tuned = load_model(fit(cfg).best_checkpoint, device="cpu")
    for (name, a), (_, b) in zip(source.named_parameters(), tuned.named_parameters(), strict=False):
        assert torch.equal(a, b), name
    assert tuned.checkpoint_info.normalization == source.checkpoint_info.normalization
    # a fresh start differs (the test would pass vacuously otherwise)
    fresh = load_model(
        fit(
            {**_cfg(caffe_folder, tmp_path, "fresh"), "optimizer": {"name": "adam", "lr": 1e-30}}
        ).best_checkpoint,
        device="cpu",
    )
    assert not all(
        torch.equal(a, b) for a, b in zip(source.parameters(), fresh.parameters(), strict=False)
    )


def test_packaged_models_by_name_and_mismatches(caffe_folder, tmp_path):
    # demo_zones is a caffe_unet with other widths: refused, naming the file and the shapes
    cfg = _cfg(caffe_folder, tmp_path, "wrong", model="demo_zones")
    cfg["model"]["preset"] = "small"
    with pytest.raises(CheckpointError, match=r"demo_zones\.pt.*shape mismatches"):
        fit(cfg)
    cfg = _cfg(caffe_folder, tmp_path, "other", model="demo_zones")
    cfg["model"] = {
        "name": "ssl4sar_hybrid",
        "preset": "small",
        "kwargs": {"img_size": 32, "window_size": 4},
    }
    with pytest.raises(CheckpointError, match="holds a 'caffe_unet' model, not 'ssl4sar_hybrid'"):
        fit(cfg)
    with pytest.raises(CheckpointError, match="nowhere.pt"):
        fit(_cfg(caffe_folder, tmp_path, "missing", model="nowhere.pt"))
    with pytest.raises(ConfigError, match="init.model"):
        fit(_cfg(caffe_folder, tmp_path, "both", model="demo_zones", encoder="x.pt"))
