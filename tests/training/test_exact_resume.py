"""Exact resume: a run killed with SIGKILL in the middle of an epoch, at two different points,
and resumed twice gives bit-identical weights, metrics and exported model to an uninterrupted
run (``workbench train`` and ``workbench pretrain``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from workbench.training import fit, pretrain

pytestmark = pytest.mark.slow

KILLER = textwrap.dedent("""
    import os, signal, sys
    import lightning as L
    from workbench.training import fit, pretrain

    run, config, epoch, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

    class KillMidEpoch(L.Callback):
        # SIGKILL (no clean-up, like a node failure) after batch `batch` of epoch `epoch`
        def on_train_batch_end(self, trainer, module, outputs, b, batch_idx):
            if trainer.current_epoch == epoch and batch_idx == batch:
                os.kill(os.getpid(), signal.SIGKILL)

    {"fit": fit, "pretrain": pretrain}[run](config, resume=True, callbacks=[KillMidEpoch()])
    print("NOT KILLED")
""")

FIT = {
    "task": "zones",
    "name": "run",
    "seed": 11,
    # dropout and shuffling draw from global RNGs; augmentation from its own generator
    "model": {"name": "caffe_unet", "preset": "small", "kwargs": {"dropout": 0.3}},
    "data": {
        "kind": "demo",
        "n_glaciers": 3,
        "years": 0.15,
        "size": 48,
        "pixel_size": 200.0,
        "patch_size": 32,
        "batch_size": 2,
        "samples_per_image": 2,
    },
    "augment": {"hflip": 0.5, "speckle": 0.5},
    "optimizer": {"name": "adam", "lr": 0.01},
    "trainer": {
        "max_epochs": 3,
        "enable_progress_bar": False,
        "num_sanity_val_steps": 0,
        "log_every_n_steps": 1,
        "num_threads": 1,
    },
}

PRETRAIN = {
    "name": "run",
    "method": "optsimmim",
    "seed": 5,
    "model": {"preset": "small", "kwargs": {"drop_path_rate": 0.2}},
    "data": {
        "kind": "demo",
        "n_glaciers": 2,
        "years": 0.1,
        "size": 48,
        "pixel_size": 200.0,
        "world_seed": 3,
        "crop_size": 32,
        "batch_size": 2,
        "val_batch_size": 4,
        "samples_per_image": 4,
        "val_samples": 4,
    },
    "optimizer": {"lr": 0.05},
    "trainer": {
        "max_epochs": 3,
        "enable_progress_bar": False,
        "num_sanity_val_steps": 0,
        "log_every_n_steps": 1,
        "num_threads": 1,
    },
}


def _kill(tmp: Path, run: str, config: Path, epoch: int, batch: int) -> None:
    script = tmp / "killer.py"
    script.write_text(KILLER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, str(script), run, str(config), str(epoch), str(batch)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr


def _state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def _val_metrics(result) -> pd.DataFrame:
    h = result.history()
    h = h.dropna(subset=["val_loss"]).sort_values("epoch")
    return h[[c for c in h.columns if c.startswith("val_")] + ["epoch"]].reset_index(drop=True)


@pytest.mark.parametrize(
    "run, base, product", [("fit", FIT, "best.pt"), ("pretrain", PRETRAIN, "encoder.pt")]
)
def test_killed_twice_mid_epoch_resumes_bit_identically(tmp_path, run, base, product):
    entry = {"fit": fit, "pretrain": pretrain}[run]
    straight = entry({**base, "output_dir": str(tmp_path / "straight")})

    config = tmp_path / "killed.yaml"
    config.write_text(yaml.safe_dump({**base, "output_dir": str(tmp_path / "killed")}))
    _kill(tmp_path, run, config, epoch=1, batch=1)  # in the 2nd epoch, after its 2nd batch
    _kill(tmp_path, run, config, epoch=2, batch=0)  # in the 3rd epoch, after its 1st batch
    resumed = entry(config, resume=True)
    assert resumed.epochs == straight.epochs == 3

    a, b = _state(straight.last_checkpoint), _state(resumed.last_checkpoint)
    assert set(a) == set(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    exported_a = torch.load(straight.run_dir / product, map_location="cpu", weights_only=True)
    exported_b = torch.load(resumed.run_dir / product, map_location="cpu", weights_only=True)
    sa, sb = exported_a["state_dict"], exported_b["state_dict"]
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
    pd.testing.assert_frame_equal(_val_metrics(straight), _val_metrics(resumed))
    np.testing.assert_equal(straight.best_score, resumed.best_score)  # NaN == NaN here


PAYLOAD = textwrap.dedent("""
    import os, sys, torch

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + sys.argv[2],))

    torch.save({"state_dict": {}, "epoch": 0, "loops": {}, "x": Payload()}, sys.argv[1])
""")


@pytest.mark.parametrize("command", ["train", "pretrain"])
def test_a_planted_last_ckpt_is_refused_without_running_it(tmp_path, command):
    """``--resume`` onto a malicious ``last.ckpt``: even with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1
    nothing in it runs, the error names the file, the exit status is 2 and the run folder is
    left exactly as it was (no new config, logs or checkpoints)."""
    base = FIT if command == "train" else PRETRAIN
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({**base, "output_dir": str(tmp_path / "runs")}))
    ckpt = tmp_path / "runs" / "run" / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    (tmp_path / "planter.py").write_text(PAYLOAD)
    marker = tmp_path / "PAYLOAD_RAN"
    subprocess.run(
        [sys.executable, str(tmp_path / "planter.py"), str(ckpt), str(marker)], check=True
    )
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", command, str(config), "--resume"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(ckpt) in proc.stderr and "weights_only" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not marker.exists(), "the payload ran"
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
