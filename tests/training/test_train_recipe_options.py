"""Recipe options of the trainer: per-window normalisation, no checkpoint selection (the last
epoch), the one-cycle schedule and the contrast augmentation, in a real (tiny) fit."""

from __future__ import annotations

import pytest
import torch

from workbench.data.patches import Normalization
from workbench.errors import ConfigError
from workbench.evaluation.evaluate import evaluate
from workbench.models import load_model
from workbench.training import fit

QUIET = {"enable_progress_bar": False, "num_sanity_val_steps": 0, "log_every_n_steps": 1}


def _cfg(caffe_folder, tmp_path, **data):
    return {
        "task": "zones",
        "output_dir": str(tmp_path),
        "name": "recipe",
        "model": {"name": "caffe_unet", "preset": "small"},
        "data": {
            "kind": "caffe",
            "root": str(caffe_folder),
            "patch_size": 32,
            "batch_size": 4,
            "samples_per_image": 1,
            "val_fraction": 0.25,
            **data,
        },
        "optimizer": {"name": "adamw", "lr": 2e-3},
        "scheduler": {"name": "onecycle", "pct_start": 0.2},
        "augment": {"rot90": 0.75, "hflip": 0.5, "contrast": {"p": 0.8, "range": [0.6, 1.6]}},
        "validation": {"window": 48, "min_cluster_px": 0},
        "checkpoint": {"monitor": "last"},
        "trainer": {"max_epochs": 3, **QUIET},
    }


def test_last_epoch_per_window_one_cycle(caffe_folder, tmp_path):
    result = fit(_cfg(caffe_folder, tmp_path, normalization="per_window"))
    assert result.monitor == "last" and result.metrics["epoch"] == 2 == result.best_score
    model = load_model(result.best_checkpoint, device="cpu")
    norm = Normalization.from_dict(model.checkpoint_info.normalization)
    assert norm.per_window
    # the exported model IS the last epoch's (last.ckpt holds the same weights)
    last = torch.load(result.last_checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    for name, value in model.state_dict().items():
        assert torch.equal(last[f"model.{name}"], value), name
    # one cycle: the learning rate rose, then fell to almost nothing
    lrs = result.history().dropna(subset=["lr-AdamW"])["lr-AdamW"].tolist()
    assert lrs[0] < 2e-3 and lrs[-1] < lrs[0]
    # evaluate normalises each image by itself, as the training did
    s = evaluate(
        result.best_checkpoint,
        caffe_folder,
        out=tmp_path / "eval",
        figures=False,
        progress=False,
        min_cluster_px=0,
    )
    assert s["n_images"] == 8


def test_per_window_refused_for_multi_source(tmp_path):
    cfg = {
        "task": "outlines",
        "model": {"name": "glavitu", "preset": "small"},
        "data": {
            "kind": "demo",
            "normalization": "per_window",
            "sources": {"optical": ["optical"]},
        },
    }
    with pytest.raises(ConfigError, match="data.normalization"):
        fit(cfg)


def test_fine_tuning_without_held_out_images(caffe_folder, tmp_path):
    # a few labels: nothing is held out, the curves are drawn on the training images
    cfg = _cfg(caffe_folder, tmp_path, val_fraction=0.0)
    cfg["trainer"]["max_epochs"] = 1
    result = fit(cfg)
    hist = result.history().dropna(subset=["val_images"])
    assert hist["val_images"].tolist() == [8] and result.metrics["epoch"] == 0
    from workbench.training import build_datamodule, load_config

    dm = build_datamodule(load_config(cfg))
    dm.setup("fit")
    assert len(dm.val_dataset) == len(dm._train_base) == 8
    # selecting a model on its own training images is refused
    cfg["checkpoint"] = {"monitor": "val_mde_sel"}
    with pytest.raises(ConfigError, match="data.val_fraction.*checkpoint.monitor: last"):
        fit(cfg)
