"""Robustness: a training killed with SIGKILL mid-run resumes from last.ckpt and finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
import yaml

from workbench.models import load_model
from workbench.training import fit

KILLER = textwrap.dedent("""
    import os, signal, sys
    import lightning as L
    from workbench.training import fit

    class KillInSecondEpoch(L.Callback):
        # SIGKILL (no clean-up, like a node failure) in the middle of the 2nd of 3 epochs
        def on_train_batch_end(self, trainer, *args):
            if trainer.current_epoch == 1:
                os.kill(os.getpid(), signal.SIGKILL)

    fit(sys.argv[1], callbacks=[KillInSecondEpoch()])
    print("NOT KILLED")
""")


def test_kill_and_resume_reaches_all_epochs(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "task": "zones",
                "output_dir": str(tmp_path / "runs"),
                "name": "killed",
                "model": {"name": "caffe_unet", "preset": "small"},
                "data": {
                    "kind": "demo",
                    "n_glaciers": 3,
                    "years": 0.15,
                    "size": 48,
                    "pixel_size": 200.0,
                    "patch_size": 32,
                    "batch_size": 2,
                    "samples_per_image": 1,
                },
                "augment": {"hflip": 0.5},
                "scheduler": {"name": "cosine_restarts", "restarts": [2, 4]},
                "trainer": {
                    "max_epochs": 3,
                    "enable_progress_bar": False,
                    "num_sanity_val_steps": 0,
                    "log_every_n_steps": 1,
                    "num_threads": 1,
                },
            }
        )
    )
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, str(script), str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    assert "NOT KILLED" not in proc.stdout
    run = tmp_path / "runs" / "killed"
    last = run / "checkpoints" / "last.ckpt"
    assert last.is_file() and (run / "best.pt").is_file()
    assert torch.load(last, map_location="cpu", weights_only=False)["epoch"] == 0
    assert not [p for p in run.rglob("*") if p.name.startswith(".")]  # no half-written files
    assert load_model(run / "best.pt", device="cpu").checkpoint_info.metrics["epoch"] == 0

    result = fit(config, resume=True)
    assert result.epochs == 3 and not result.interrupted
    assert torch.load(result.last_checkpoint, map_location="cpu", weights_only=False)["epoch"] >= 2
    # the resumed process started at epoch 1: it continued, it did not start over
    resumed = result.history()
    versions = result.metrics_csv
    assert len(versions) >= 1
    import pandas as pd

    second = pd.read_csv(versions[-1])
    assert sorted(second.dropna(subset=["val_loss"])["epoch"].astype(int).tolist()) == [1, 2]
    # the schedule continued too: cosine from 0.01 at epoch 0 to 0.005 at epoch 1, restart at 2
    lrs = second.dropna(subset=["lr-SGD"])["lr-SGD"].tolist()
    assert lrs == pytest.approx([0.005, 0.01])
    assert {1, 2} <= set(resumed.dropna(subset=["val_loss"])["epoch"].astype(int))
    model = load_model(result.best_checkpoint, device="cpu")
    assert model.checkpoint_info.metrics["monitor"] == "val_mde_sel"
    assert tuple(model(torch.zeros(1, 1, 32, 32)).logits.shape) == (1, 4, 32, 32)
    # resuming a finished run does nothing more
    again = fit(config, resume=True)
    assert again.epochs == 3


def test_resuming_a_moved_finished_run_tests_and_keeps_the_best_weights(tmp_path):
    """A finished run copied to another folder and resumed (as `build --resume` does with a
    run trained elsewhere): Lightning's ModelCheckpoint loses its best score when its folder
    changes and saves the last weights as a new "best"; the test and best.pt must still be
    the exported best model, weights and numbers unchanged."""
    import shutil

    base = {
        "task": "zones",
        "output_dir": str(tmp_path / "runs"),
        "name": "first",
        "test": True,
        "model": {"name": "caffe_unet", "preset": "small"},
        "data": {
            "kind": "demo",
            "n_glaciers": 3,
            "years": 0.12,
            "size": 48,
            "pixel_size": 200.0,
            "patch_size": 32,
            "batch_size": 2,
            "samples_per_image": 1,
        },
        "optimizer": {"name": "adam", "lr": 0.05},  # large steps: epochs differ clearly
        "trainer": {
            "max_epochs": 4,
            "enable_progress_bar": False,
            "num_sanity_val_steps": 0,
            "log_every_n_steps": 1,
            "num_threads": 1,
        },
    }
    first = fit(base)
    best_epoch = load_model(first.best_checkpoint, device="cpu").checkpoint_info.metrics["epoch"]
    before = load_model(first.best_checkpoint, device="cpu").state_dict()
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(first.run_dir, moved)
    again = fit(base, resume=True, run_dir=moved)
    after = load_model(moved / "best.pt", device="cpu")
    assert after.checkpoint_info.metrics["epoch"] == best_epoch
    assert all(torch.equal(before[k], after.state_dict()[k]) for k in before)
    for key in ("test_loss", "test_miou", "test_mde_px"):
        assert again.metrics[key] == pytest.approx(first.metrics[key], nan_ok=True)
    assert first.metrics["test_loss"] == first.metrics["test_loss"]  # a number, not NaN
    # last.ckpt is the last epoch, whatever the best was
    assert (
        torch.load(moved / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)[
            "epoch"
        ]
        == 3
    )
