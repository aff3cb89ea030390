"""Data modules: splits, normalisation from the training split, batch layout, device augmentation."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from workbench.data.caffe import CaffeDataset
from workbench.data.patches import Normalization
from workbench.errors import ConfigError
from workbench.training.datamodules import (
    CaffeDataModule,
    DemoWorldDataModule,
    StackDataModule,
    StackZoneFrames,
)


def test_caffe_image_split_and_normalisation(caffe_folder):
    dm = CaffeDataModule(caffe_folder, patch_size=32, batch_size=3, val_fraction=0.25, seed=0)
    dm.setup("fit")
    assert len(dm.val_dataset) == 2 and dm.test_dataset is None
    # statistics come from the training images only
    train_idx = dm.train_dataset.patches.base.indices
    ref = Normalization.from_dataset([CaffeDataset(caffe_folder)[i] for i in train_idx])
    got = dm.normalization_dict()
    assert got["mean"] == pytest.approx(ref.mean) and got["std"] == pytest.approx(ref.std)
    everything = Normalization.from_dataset(CaffeDataset(caffe_folder))
    assert got["mean"] != pytest.approx(everything.mean)
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"image", "mask", "front", "valid"}
    assert tuple(batch["image"].shape) == (3, 1, 32, 32) and batch["mask"].dtype == torch.long
    val = next(iter(dm.val_dataloader()))
    assert tuple(val["image"].shape) == (1, 1, 48, 48) and val["meta"][0]["resolution_m"] == 7.0
    assert val["meta"][0]["stem"].startswith(("SI_", "JAC_"))
    assert dm.input_kwargs() == {"in_chans": 1}


def test_caffe_glacier_split_and_context(caffe_folder):
    dm = CaffeDataModule(
        caffe_folder,
        split="glacier",
        val_glaciers=["jac"],
        patch_size=16,
        context_size=32,
        batch_size=2,
    )
    dm.setup("fit")
    assert all(m["glacier"] == "JAC" for m in (dm.val_dataset[i]["meta"] for i in range(4)))
    batch = next(iter(dm.train_dataloader()))
    assert tuple(batch["image"].shape) == (2, 1, 32, 32)  # the context window
    with pytest.raises(ConfigError, match="data.split"):
        CaffeDataModule(caffe_folder, split="random", patch_size=16)


def test_augmentation_runs_after_transfer_in_training_only(caffe_folder):
    dm = CaffeDataModule(caffe_folder, patch_size=32, batch_size=2, augment={"hflip": 1.0})
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    dm.trainer = types.SimpleNamespace(training=False)
    assert torch.equal(dm.on_after_batch_transfer(dict(batch), 0)["image"], batch["image"])
    dm.trainer = types.SimpleNamespace(training=True)
    out = dm.on_after_batch_transfer(dict(batch), 0)
    assert torch.equal(out["image"], batch["image"].flip(-1))
    assert torch.equal(out["mask"], batch["mask"].flip(-1))


def test_state_dict_restores_the_normalisation(caffe_folder):
    dm = CaffeDataModule(caffe_folder, patch_size=32, batch_size=2, augment={"hflip": 0.5})
    dm.setup("fit")
    state = dm.state_dict()
    other = CaffeDataModule(
        caffe_folder, patch_size=32, batch_size=2, val_fraction=0.5, augment={"hflip": 0.5}
    )
    other.load_state_dict(state)
    other.setup("fit")
    assert other.normalization_dict() == dm.normalization_dict()


def test_demo_world_zones_in_memory_by_glacier(tiny_world):
    dm = DemoWorldDataModule("zones", patch_size=32, batch_size=2, val_glaciers=1, test_glaciers=1)
    dm._stacks = tiny_world
    dm.setup("fit")
    names = [s.attrs["glacier"] for s in tiny_world]
    assert {
        m["glacier"] for m in (dm.val_dataset[i]["meta"] for i in range(len(dm.val_dataset)))
    } == {names[1]}
    assert {dm.test_dataset[i]["meta"]["glacier"] for i in range(len(dm.test_dataset))} == {
        names[2]
    }
    assert len(dm.val_dataset) == tiny_world[1].sizes["time"]
    item = dm.val_dataset[0]
    assert item["meta"]["resolution_m"] == 200.0 and item["front"].any()
    with pytest.raises(ConfigError, match="data.val_glaciers"):
        bad = DemoWorldDataModule("zones", patch_size=32, val_glaciers=["Nowhere"])
        bad._stacks = tiny_world
        bad.setup("fit")


def test_demo_frames_match_the_caffe_export(tmp_path):
    from workbench.data.demo import make_demo_world

    root = tmp_path / "world"
    make_demo_world(root, n_glaciers=3, years=0.06, size=48, pixel_size=200.0, seed=1)
    dm = DemoWorldDataModule("zones", root=root, patch_size=32, batch_size=2)
    frames = StackZoneFrames(dm.stacks())
    exported = CaffeDataset(root / "caffe")
    by_stem = {m.stem: i for i, m in enumerate(exported.metadata)}
    sample = frames[0]
    disk = exported[by_stem[sample["meta"]["stem"]]]
    np.testing.assert_allclose(sample["image"], disk["image"].numpy(), atol=1e-6)
    np.testing.assert_array_equal(sample["zones"], disk["zones"].numpy())
    dm.setup("fit")
    assert len(dm.train_dataset) > 0


def test_stack_module_time_series_and_named_split(tiny_world):
    dm = StackDataModule(
        tiny_world,
        split="named",
        val_tiles=[tiny_world[0].attrs["glacier"]],
        patch_size=32,
        batch_size=2,
        time_steps=3,
        val_windows=2,
    )
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert tuple(batch["image"].shape) == (2, 3, 2, 32, 32)
    assert batch["mask"].dtype == torch.long and set(batch["mask"].unique().tolist()) <= {0, 1}
    val = next(iter(dm.val_dataloader()))
    assert tuple(val["image"].shape) == (1, 3, 2, 48, 48)  # a whole scene
    assert len(dm.val_dataset) == 2 and dm.test_dataset is None
    assert dm.input_kwargs() == {"in_features": 2}
    rnd = StackDataModule(tiny_world, patch_size=32, fractions=[0.34, 0.33, 0.33], time_steps=2)
    rnd.setup("fit")
    assert len(rnd.train_dataset.patches.stacks) == 1 and rnd.test_dataset is not None


def test_stack_module_multi_source(tiny_world):
    sources = {"optical": ["optical"], "dem": ["dem", "slope"], "sar": ["sigma0_db"]}
    dm = StackDataModule(
        tiny_world,
        split="named",
        val_tiles=[tiny_world[0].attrs["glacier"]],
        test_tiles=[tiny_world[1].attrs["glacier"]],
        patch_size=32,
        batch_size=2,
        sources=sources,
        bands=["B2", "B3", "B4", "B8", "B11", "B12"],
    )
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert {k: tuple(v.shape) for k, v in batch["image"].items()} == {
        "optical": (2, 6, 32, 32),
        "dem": (2, 2, 32, 32),
        "sar": (2, 1, 32, 32),
    }
    assert dm.input_kwargs() == {"sources": {"optical": 6, "dem": 2, "sar": 1}}
    norm = dm.normalization_dict()
    assert set(norm) == {"optical", "dem", "sar"} and len(norm["dem"]["mean"]) == 2


def test_caffe_split_by_image_holds_out_test_glaciers(caffe_folder):
    """split='image' with test_glaciers: validation drawn from the other glaciers, test held out."""
    dm = CaffeDataModule(
        caffe_folder, split="image", test_glaciers=["SI"], val_fraction=0.25, patch_size=16, seed=0
    )
    dm.setup("fit")
    assert len(dm.test_dataset) == 4
    train, val, test = dm._zone_splits()
    assert {test.dataset.metadata[i].glacier for i in test.indices} == {"SI"}
    seen = {train.dataset.metadata[i].glacier for i in list(train.indices) + list(val.indices)}
    assert seen == {"JAC"} and len(val) >= 1
    assert not set(train.indices) & set(val.indices)
    with pytest.raises(ConfigError, match="data.test_glaciers"):
        CaffeDataModule(
            caffe_folder, split="image", test_glaciers=["Mapple"], patch_size=16
        )._zone_splits()
