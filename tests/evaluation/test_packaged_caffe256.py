"""The packaged real-SAR model ``caffe256_zones``: found by name, standardises each image by
itself, and finds fronts on real caffe256 images."""

from __future__ import annotations

import pytest

from workbench.checkpoints import resolve_checkpoint
from workbench.cli import main
from workbench.data.patches import Normalization
from workbench.models import load_model

pytestmark = pytest.mark.shared_data


def test_packaged_model_card_facts():
    info = load_model(resolve_checkpoint("caffe256_zones"), device="cpu").checkpoint_info
    assert info.model_name == "caffe_unet" and info.train_config["name"] == "caffe256_zones_unet"
    assert Normalization.from_dict(info.normalization).per_window
    assert info.baselines["fixed_front"]["n_images"] == 413  # every caffe256 label
    assert resolve_checkpoint("caffe256_zones").stat().st_size < 10 * 2**20


def test_evaluate_by_name_on_real_images(caffe256, tmp_path, capsys):
    # images it was trained on: this checks the path (by name, per-window input), not accuracy
    assert (
        main(
            [
                "evaluate",
                "caffe256_zones",
                str(caffe256),
                "--out",
                str(tmp_path / "ev"),
                "--split",
                "all",
                "--max-images",
                "6",
                "--no-figures",
            ]
        )
        == 0
    )
    import json

    s = json.loads((tmp_path / "ev" / "metrics.json").read_text())["extra"]["summary"]
    assert s["n_images"] == 6 and s["n_no_front"] == 0 and s["mde"] < 15
