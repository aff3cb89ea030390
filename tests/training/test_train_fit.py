"""End-to-end tiny trainings: each task, the exported workbench checkpoint, logs, the CLI."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest
import torch
import yaml

from workbench.cli import main
from workbench.errors import ConfigError
from workbench.models import load_model, read_checkpoint_info
from workbench.training import fit
from workbench.training.callbacks import AtomicCheckpointIO

QUIET = {"enable_progress_bar": False, "num_sanity_val_steps": 0, "log_every_n_steps": 1}
WORLD = {
    "kind": "demo",
    "n_glaciers": 3,
    "years": 0.25,
    "size": 48,
    "pixel_size": 200.0,
    "world_seed": 3,
}


def test_zone_training_on_a_caffe_folder(caffe_folder, tmp_path):
    cfg = {
        "task": "zones",
        "output_dir": str(tmp_path),
        "name": "zones",
        "model": {"name": "caffe_unet", "preset": "small"},
        "data": {
            "kind": "caffe",
            "root": str(caffe_folder),
            "patch_size": 32,
            "batch_size": 4,
            "samples_per_image": 2,
            "val_fraction": 0.25,
        },
        "augment": {"hflip": 0.5, "rot90": 0.5, "zoom": 0.3, "speckle": 0.3, "ocean_mixup": 0.3},
        "optimizer": {"name": "adam", "lr": 3e-3},
        "scheduler": {"name": "cosine"},
        "validation": {"window": 32, "min_cluster_px": 0},
        "trainer": {"max_epochs": 2, **QUIET},
    }
    result = fit(cfg)
    assert result.epochs == 2 and not result.interrupted
    assert result.monitor == "val_mde_sel" and result.mode == "min"
    model = load_model(result.best_checkpoint, device="cpu")
    info = model.checkpoint_info
    assert info.model_name == "caffe_unet" and info.classes["values"] == [0, 64, 127, 254]
    assert set(info.normalization) == {"mean", "std"} and len(info.normalization["mean"]) == 1
    assert info.metrics["monitor"] == "val_mde_sel" and "val_miou" in info.metrics
    assert info.train_config["data"]["root"] == str(caffe_folder)
    assert tuple(model(torch.zeros(1, 1, 48, 48)).logits.shape) == (1, 4, 48, 48)
    # logs: CSV always, TensorBoard when installed; Lightning checkpoints for resume
    hist = result.history()
    val = hist.dropna(subset=["val_mde_px", "val_miou"], how="all")
    assert sorted(val["epoch"].unique().tolist()) == [0, 1]
    assert {
        "train_loss_epoch",
        "val_loss",
        "val_mde",
        "val_mde_sel",
        "val_miou",
        "val_no_front",
    } <= set(hist.columns)
    assert list(result.run_dir.glob("tensorboard/version_0/events.out.tfevents.*"))
    assert result.last_checkpoint.is_file() and result.lightning_best.is_file()
    assert yaml.safe_load((result.run_dir / "config.yaml").read_text())["name"] == "zones"
    # an existing run is never silently replaced
    with pytest.raises(ConfigError, match="--resume"):
        fit(cfg)


def test_outline_training_on_a_simulated_world(tmp_path):
    cfg = {
        "task": "outlines",
        "output_dir": str(tmp_path),
        "name": "outlines",
        "test": True,
        "model": {"name": "icemapper3d", "preset": "small"},
        "data": {
            **WORLD,
            "patch_size": 32,
            "batch_size": 2,
            "samples_per_image": 2,
            "time_steps": 3,
            "val_windows": 2,
        },
        "loss": {"kind": "focal", "gamma": 2.0, "label_smoothing": 0.1},
        "optimizer": {"name": "adam", "lr": 1e-3},
        "scheduler": {"name": "cosine_restarts", "restarts": [1, 2]},
        "augment": {
            "time_jitter": 0.5,
            "hflip": 0.5,
            "crop_rescale": 0.5,
            "gamma": 0.5,
            "gaussian_shift": 0.5,
            "occlusion": 0.3,
        },
        "validation": {"window": 32, "weighting": "gaussian"},
        "trainer": {"max_epochs": 2, **QUIET},
    }
    result = fit(cfg)
    assert result.monitor == "val_iou" and result.mode == "max"
    assert {"val_iou", "val_f1", "val_precision", "val_recall", "test_iou"} <= set(result.metrics)
    info = read_checkpoint_info(result.best_checkpoint)
    assert info.metrics["test_iou"] == result.metrics["test_iou"]
    assert info.model_kwargs["in_features"] == 2 and len(info.normalization["mean"]) == 2
    model = load_model(result.best_checkpoint, device="cpu")
    assert tuple(model(torch.zeros(1, 3, 2, 40, 40)).logits.shape) == (1, 2, 40, 40)
    lrs = result.history().dropna(subset=["lr-Adam"])["lr-Adam"].tolist()
    assert lrs[0] == pytest.approx(1e-3) and lrs[1] == pytest.approx(1e-3)  # restart at epoch 1


def test_multi_source_glavitu_training(tmp_path):
    cfg = {
        "task": "outlines",
        "output_dir": str(tmp_path),
        "name": "glavitu",
        "model": {"name": "glavitu", "preset": "small"},
        "data": {
            **WORLD,
            "patch_size": 32,
            "batch_size": 2,
            "samples_per_image": 2,
            "sources": {
                "optical": ["optical"],
                "dem": ["dem", "slope"],
                "sar": ["sigma0_db"],
                "coherence": ["coherence"],
            },
            "bands": ["B2", "B3", "B4", "B8", "B11", "B12"],
        },
        "augment": {"rot90": 0.5, "source_dropout": {"p": 0.5, "sources": ["sar"]}},
        "optimizer": {"name": "adam", "lr": 1e-3},
        "trainer": {"max_epochs": 1, **QUIET},
    }
    result = fit(cfg)
    info = read_checkpoint_info(result.best_checkpoint)
    assert info.model_kwargs["sources"] == {"optical": 6, "dem": 2, "sar": 1, "coherence": 1}
    assert set(info.normalization) == {"optical", "dem", "sar", "coherence"}
    model = load_model(result.best_checkpoint, device="cpu")
    x = {"optical": torch.zeros(1, 6, 32, 32), "dem": torch.zeros(1, 2, 32, 32)}
    assert tuple(model(x).logits.shape) == (1, 2, 32, 32)


def test_cli_trains_target_context_zones(tmp_path, capsys):
    path = tmp_path / "ctx.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "task": "zones",
                "output_dir": str(tmp_path / "runs"),
                "model": {
                    "name": "ssl4sar_hybrid",
                    "preset": "small",
                    "kwargs": {"front_head": True},
                },
                "data": {
                    **WORLD,
                    "patch_size": 32,
                    "context_size": 64,
                    "batch_size": 2,
                    "samples_per_image": 1,
                },
                "augment": {"zoom": 0.5, "ocean_mixup": 0.5},
            }
        )
    )
    rc = main(
        [
            "train",
            str(path),
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=2",
            "trainer.enable_progress_bar=false",
            "trainer.num_sanity_val_steps=0",
        ]
    )
    assert rc == 0
    assert "best val_mde_sel" in capsys.readouterr().out
    info = read_checkpoint_info(tmp_path / "runs" / "ctx" / "best.pt")
    assert info.model_kwargs["target_size"] == 32 and info.model_kwargs["front_head"]
    assert info.train_config["loss"]["target_weight"] == 1.0
    hist = pd.read_csv(next((tmp_path / "runs" / "ctx").glob("logs/version_0/metrics.csv")))
    assert {"train_loss_target", "train_loss_context", "train_loss_front"} <= set(hist.columns)
    # a second run of the same name needs --resume or --overwrite
    assert main(["train", str(path), "trainer.max_epochs=1"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_exported_checkpoint_is_written_atomically(tmp_path, monkeypatch):
    from workbench.training import ZoneSegmentationTask

    task = ZoneSegmentationTask(
        model="caffe_unet", preset="small", normalization={"mean": [0.5], "std": [0.2]}
    )
    path = tmp_path / "best.pt"
    task.export(path, metrics={"val_mde": 1.0})
    before = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        with open(f, "wb") as fh:
            fh.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        task.export(path, metrics={"val_mde": 0.5})
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["best.pt"]
    monkeypatch.undo()
    assert read_checkpoint_info(path).metrics == {"val_mde": 1.0}


def test_lightning_checkpoints_are_written_atomically(tmp_path):
    io = AtomicCheckpointIO()
    target = tmp_path / "last.ckpt"
    io.save_checkpoint({"epoch": 1}, target)
    with pytest.raises((AttributeError, TypeError, pickle.PicklingError)):
        io.save_checkpoint({"epoch": 2, "bad": lambda: None}, target)  # cannot be pickled
    assert torch.load(target, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
