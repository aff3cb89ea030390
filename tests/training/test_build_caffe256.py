"""The packaged real-SAR model is rebuilt by one command; packaged models are found by name."""

from __future__ import annotations

from workbench.checkpoints import packaged_checkpoints, resolve_checkpoint
from workbench.checkpoints.build_caffe256 import CONFIG, main
from workbench.models import load_model


def test_build_command_trains_the_packaged_recipe_on_every_image(caffe_folder, tmp_path):
    dest = tmp_path / "caffe256_zones.pt"
    assert (
        main(
            [
                "--data",
                str(caffe_folder),
                "--out",
                str(tmp_path / "run"),
                "--dest",
                str(dest),
                "--set",
                "data.patch_size=32",
                "--set",
                "validation.window=48",
                "--set",
                "trainer.max_epochs=1",
                "--set",
                "validation.min_cluster_px=0",
            ]
        )
        == 0
    )
    info = load_model(dest, device="cpu").checkpoint_info
    assert info.train_config["name"] == CONFIG and info.normalization["per_window"] is True
    assert info.train_config["data"]["val_fraction"] == 0.0
    assert info.metrics["monitor"] == "last"
    # the fixed-front baseline of ALL training images travels with the model
    assert info.baselines["fixed_front"]["n_images"] == 8


def test_packaged_models_by_name():
    names = packaged_checkpoints()
    assert {"demo_zones", "demo_outlines"} <= set(names)
    for name, path in names.items():
        assert resolve_checkpoint(name) == path == resolve_checkpoint(f"{name}.pt")
