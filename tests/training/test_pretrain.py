"""SSL4SAR pretraining: token masks, the masked L1 loss, SAR/optical pairing, a tiny run,
exact resume, and the transfer of the pretrained encoder into ``ssl4sar_hybrid``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from workbench.cli import main
from workbench.errors import CheckpointError, ConfigError, DataError
from workbench.models import create_model, load_model, save_checkpoint
from workbench.training import (
    OptSimMIMTask,
    OptTranslatorTask,
    SarOpticalCrops,
    SarOpticalDataModule,
    build_datamodule,
    build_task,
    list_configs,
    list_pretrain_configs,
    load_config,
    load_encoder_weights,
    load_pretrain_config,
    masked_l1_loss,
    patchify,
    pretrain,
    random_token_mask,
)
from workbench.training.datamodules import sar_unit

TINY_WORLD = {
    "kind": "demo",
    "n_glaciers": 2,
    "years": 0.1,
    "size": 48,
    "pixel_size": 200.0,
    "world_seed": 3,
}


def tiny_pretrain_config(out, name: str, epochs: int, method: str = "optsimmim") -> dict:
    """A pretraining run of a few seconds: 1 training glacier × 4 dates × 4 crops of 32 px."""
    return {
        "name": name,
        "method": method,
        "output_dir": str(out),
        "model": {"preset": "small", "kwargs": {"drop_path_rate": 0.0}},
        "data": {
            **TINY_WORLD,
            "crop_size": 32,
            "batch_size": 4,
            "val_batch_size": 4,
            "samples_per_image": 4,
            "val_samples": 4,
        },
        "optimizer": {"lr": 0.05},
        "trainer": {
            "max_epochs": epochs,
            "enable_progress_bar": False,
            "num_sanity_val_steps": 0,
            "log_every_n_steps": 1,
            "num_threads": 1,
        },
    }


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A finished 4-epoch OptSimMIM run on the tiny world."""
    out = tmp_path_factory.mktemp("pretrain")
    return pretrain(tiny_pretrain_config(out, "straight", 4))


# --------------------------------------------------------------------------- masks and loss


def test_token_mask_masks_exactly_30_percent():
    gen = torch.Generator().manual_seed(0)
    m = random_token_mask(8, 20, 20, 0.3, generator=gen)
    assert m.dtype == torch.bool and m.shape == (8, 20, 20)
    assert m.sum(dim=(1, 2)).tolist() == [120] * 8  # 30 % of 400 tokens, exactly
    assert len({tuple(x.flatten().tolist()) for x in m}) == 8  # a different draw per sample
    assert random_token_mask(2, 16, 16, 0.3).sum(dim=(1, 2)).tolist() == [77, 77]  # round(76.8)
    again = random_token_mask(8, 20, 20, 0.3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(m, again)
    with pytest.raises(ConfigError, match="pretrain.mask_ratio"):
        random_token_mask(1, 4, 4, 1.0)


def test_optsimmim_training_masks_are_30_percent_of_the_patch_tokens():
    task = OptSimMIMTask(preset="small", optical_channels=3, seed=5)
    batch = {"image": torch.zeros(3, 1, 40, 40)}  # 10 × 10 tokens of 4 px
    mask = task.make_mask(batch, "train", 0)
    assert mask.shape == (3, 10, 10) and mask.sum(dim=(1, 2)).tolist() == [30, 30, 30]
    assert torch.equal(mask, task.make_mask(batch, "train", 0))  # seeded by (epoch, batch)
    assert not torch.equal(mask, task.make_mask(batch, "train", 1))
    with pytest.raises(ConfigError, match="data.crop_size"):
        task.make_mask({"image": torch.zeros(1, 1, 30, 30)}, "train", 0)


def test_masked_l1_counts_only_masked_tokens_hand_checked():
    target = torch.ones(1, 2, 8, 8)
    target[:, :, :4, :4] = 3.0  # token (0, 0): value 3 in both channels
    pred = torch.zeros(1, 2, 8, 8, requires_grad=True)
    mask = torch.tensor([[[True, False], [False, True]]])  # tokens (0, 0) and (1, 1)
    loss = masked_l1_loss(pred, target, mask)
    # (16 px × 2 ch × |0 − 3| + 16 px × 2 ch × |0 − 1|) / (2 tokens × 16 px × 2 ch) = 2
    assert loss.item() == pytest.approx(2.0)
    loss.backward()
    grad_on = pred.grad[0, 0].abs() > 0
    expected = mask[0].repeat_interleave(4, 0).repeat_interleave(4, 1)
    assert torch.equal(grad_on, expected)  # no gradient from the visible tokens
    # a perfect prediction of the masked tokens gives 0, whatever the visible ones are
    other = torch.full((1, 2, 8, 8), 50.0)
    other[:, :, :4, :4] = 3.0
    other[:, :, 4:, 4:] = 1.0
    assert masked_l1_loss(other, target, mask).item() == 0.0
    # invalid pixels never count: half of token (0, 0) invalid → (8·2·3 + 16·2·1) / (24·2)
    valid = torch.ones(1, 8, 8, dtype=torch.bool)
    valid[0, :2, :4] = False
    assert masked_l1_loss(torch.zeros(1, 2, 8, 8), target, mask, valid).item() == pytest.approx(
        (8 * 2 * 3 + 16 * 2 * 1) / (24 * 2)
    )
    # the pixel formulation equals the mean over the 4·4·C values of every masked token
    a, b = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    m = random_token_mask(2, 4, 4, 0.3)
    per_token = (patchify(a, 4) - patchify(b, 4)).abs()[m.flatten(1)].mean()
    assert masked_l1_loss(a, b, m).item() == pytest.approx(per_token.item(), rel=1e-6)


def test_optical_target_layout_is_4x4xC_per_token():
    x = torch.randn(2, 14, 16, 20)
    tokens = patchify(x, 4)
    assert tokens.shape == (2, 4 * 5, 4 * 4 * 14)
    for b, ty, tx in [(0, 0, 0), (1, 2, 3), (0, 3, 4), (1, 1, 0)]:
        window = x[b, :, 4 * ty : 4 * ty + 4, 4 * tx : 4 * tx + 4].permute(1, 2, 0)  # 4 × 4 × C
        assert torch.equal(tokens[b, ty * 5 + tx].view(4, 4, 14), window)
    with pytest.raises(DataError, match="multiple of the token size 4"):
        patchify(torch.zeros(1, 1, 10, 8), 4)


def test_mask_token_replaces_the_masked_tokens():
    torch.manual_seed(0)
    task = OptSimMIMTask(preset="small", optical_channels=3, model_kwargs={"drop_path_rate": 0.0})
    task.eval()
    x = torch.randn(2, 1, 32, 32)
    none = torch.zeros(2, 8, 8, dtype=torch.bool)
    mask = random_token_mask(2, 8, 8, 0.3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        plain = task(x)
        assert torch.equal(task(x, none), plain)
        masked = task(x, mask)
        assert not torch.allclose(masked, plain)
        # what hides under the mask no longer matters: change the masked pixels only
        pix = mask.repeat_interleave(4, 1).repeat_interleave(4, 2)[:, None]
        x2 = torch.where(pix, torch.randn_like(x) * 5, x)
        first_stage = task.model.encoder.patch_embed
        task._active_mask = mask
        try:
            assert torch.allclose(first_stage(x), first_stage(x2))
        finally:
            task._active_mask = None
    task.train()
    batch = {"image": x, "optical": torch.randn(2, 3, 32, 32)}
    task.compute_loss(batch, mask)["loss"].backward()
    assert task.mask_token.grad is not None and task.mask_token.grad.abs().sum() > 0


def test_opttranslator_loss_is_l1_over_every_valid_pixel():
    torch.manual_seed(0)
    task = OptTranslatorTask(preset="small", optical_channels=4)
    batch = {
        "image": torch.randn(2, 1, 32, 32),
        "optical": torch.randn(2, 4, 32, 32),
        "valid": torch.ones(2, 32, 32, dtype=torch.bool),
    }
    batch["valid"][1, :, :10] = False
    assert task.make_mask(batch, "train", 0) is None
    out = task.compute_loss(batch)
    keep = batch["valid"][:, None].expand(-1, 4, -1, -1)
    expected = (out["pred"] - batch["optical"]).abs()[keep].mean()
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-6)


# --------------------------------------------------------------------------- data


def test_crops_pair_the_same_window_of_the_optical_image(tiny_world):
    ds = SarOpticalCrops(tiny_world, crop_size=24, min_scale=1.0, samples_per_image=2, seed=4)
    assert len(ds) == 2 * sum(st.sizes["time"] for st in tiny_world)
    seen = set()
    for i in range(0, len(ds), 5):
        item = ds[i]
        k, t, y0, x0, side = item["window"].tolist()
        st = tiny_world[k]
        assert side == 24 and item["image"].shape == (1, 24, 24)
        sar = st["sigma0_db"].values[t, y0 : y0 + 24, x0 : x0 + 24]
        opt = st["optical"].values[:, y0 : y0 + 24, x0 : x0 + 24]
        np.testing.assert_array_equal(item["image"][0].numpy(), sar_unit(sar))
        np.testing.assert_array_equal(item["optical"].numpy(), opt)
        seen.add((k, y0, x0))
    assert len(seen) > 3  # windows move around
    # random-resized crops: the SAR and the optical window are the same, resized identically
    zoom = SarOpticalCrops(tiny_world, crop_size=24, min_scale=0.5, seed=4)
    sides = []
    for i in range(0, len(zoom), 3):
        item = zoom[i]
        k, t, y0, x0, side = item["window"].tolist()
        sides.append(side)
        assert round(24 * 0.5**0.5) <= side <= 24
        st = tiny_world[k]
        both = np.concatenate(
            [sar_unit(st["sigma0_db"].values[t])[None], st["optical"].values]
        ).astype(np.float32)
        window = torch.from_numpy(both[:, y0 : y0 + side, x0 : x0 + side])[None]
        expected = F.interpolate(window, size=(24, 24), mode="bilinear", align_corners=False)[0]
        torch.testing.assert_close(item["image"], expected[:1])
        torch.testing.assert_close(item["optical"], expected[1:])
    assert min(sides) < 24
    # an epoch is a function of (seed, epoch): same items again, other items next epoch
    first = [zoom[i]["window"].tolist() for i in range(4)]
    assert [zoom[i]["window"].tolist() for i in range(4)] == first
    zoom.set_epoch(1)
    assert [zoom[i]["window"].tolist() for i in range(4)] != first


def test_datamodule_splits_by_glacier_and_normalises_on_training_glaciers(tiny_world):
    dm = SarOpticalDataModule(
        tiny_world, val_glaciers=1, crop_size=32, batch_size=4, samples_per_image=1
    )
    dm.setup("fit")
    train_names = set(dm.train_dataset.names)
    assert train_names.isdisjoint(dm.val_dataset.names) and len(dm.val_dataset.names) == 1
    assert dm.optical_channels == 14 and dm.optical_bands[-1] == "NDSI"
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (4, 1, 32, 32) and batch["optical"].shape == (4, 14, 32, 32)
    train = [
        st
        for st, n in zip(tiny_world, [st.attrs["glacier"] for st in tiny_world], strict=False)
        if n in train_names
    ]
    opt = np.concatenate([st["optical"].values.reshape(14, -1) for st in train], axis=1)
    np.testing.assert_allclose(dm.optical_norm.mean, opt.mean(1), rtol=1e-5, atol=1e-6)
    restored = SarOpticalDataModule(tiny_world, crop_size=32)
    restored.load_state_dict(dm.state_dict())
    restored.setup("fit")
    assert restored.norm == dm.norm and restored.optical_norm == dm.optical_norm


def test_stacks_without_an_optical_image_are_refused(tiny_world, tmp_path):
    path = tmp_path / "no_optical.nc"
    tiny_world[0].drop_vars("optical").drop_vars("band").to_netcdf(path)
    dm = SarOpticalDataModule([str(path)], crop_size=32)
    with pytest.raises(DataError, match=r"no_optical\.nc: variable 'optical' is missing"):
        dm.setup("fit")


# --------------------------------------------------------------------------- configs and CLI


def test_pretrain_configs_are_separate_and_published():
    assert list_pretrain_configs() == [
        "demo_pretrain",
        "pretrain_optsimmim",
        "pretrain_opttranslator",
    ]
    assert not set(list_pretrain_configs()) & set(list_configs())
    for name, method, lr in (
        ("pretrain_optsimmim", "optsimmim", 1e-3),
        ("pretrain_opttranslator", "opttranslator", 5e-3),
    ):
        c = load_pretrain_config(name)
        assert c["method"] == method and c["optimizer"] == {
            **c["optimizer"],
            "name": "sgd",
            "lr": lr,
            "momentum": 0.9,
            "weight_decay": 1e-4,
        }
        assert c["data"]["crop_size"] == 512 and c["data"]["min_scale"] == 0.7
        assert c["scheduler"]["name"] == "plateau" and c["scheduler"]["factor"] == 0.5
        assert c["scheduler"]["patience"] == 5 and c["model"]["preset"] == "published"
    assert load_pretrain_config("pretrain_optsimmim")["pretrain"]["mask_ratio"] == 0.3
    assert load_pretrain_config({"method": "opttranslator"})["optimizer"]["lr"] == 5e-3
    assert load_pretrain_config("demo_pretrain")["model"]["preset"] == "small"
    with pytest.raises(ConfigError, match="pretraining config"):
        load_config("demo_pretrain")
    with pytest.raises(ConfigError, match="variable 'model.name'"):
        load_pretrain_config({"model": {"name": "caffe_unet"}})
    with pytest.raises(ConfigError, match="variable 'data.min_scale'"):
        load_pretrain_config("demo_pretrain", ["data.min_scale=0"])
    with pytest.raises(ConfigError, match="variable 'task'"):
        load_pretrain_config("demo_zones")


def test_cli_prints_the_resolved_pretrain_config(capsys):
    assert main(["pretrain", "demo_pretrain", "method=opttranslator", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "method: opttranslator" in out and "min_scale: 0.7" in out
    assert main(["pretrain", "--list"]) == 0
    assert capsys.readouterr().out.split() == list_pretrain_configs()
    assert main(["pretrain", "demo_pretrain", "pretrain.mask_ratio=2"]) == 2
    assert "pretrain.mask_ratio" in capsys.readouterr().err


# --------------------------------------------------------------------------- runs


def test_tiny_pretraining_decreases_the_loss(pretrained):
    per_epoch = pretrained.history().groupby("epoch").last(numeric_only=True)
    losses = per_epoch["train_loss_epoch"].tolist()
    assert len(losses) == 4 and pretrained.epochs == 4
    assert losses[-1] < 0.85 * losses[0], losses
    encoder = load_model(pretrained.best_checkpoint, device="cpu")
    info = encoder.checkpoint_info
    assert encoder.model_name == "swinv2" and info.metrics["monitor"] == "val_loss"
    assert info.train_config["method"] == "optsimmim" and len(info.normalization["mean"]) == 1
    assert (pretrained.run_dir / "config.yaml").is_file()


def test_resume_continues_exactly(pretrained, tmp_path):
    cfg = tiny_pretrain_config(tmp_path, "resumed", 2)
    first = pretrain(cfg)
    assert first.epochs == 2
    with pytest.raises(ConfigError, match="already holds a pretraining run"):
        pretrain(cfg)
    cfg["trainer"]["max_epochs"] = 4
    second = pretrain(cfg, resume=True)
    assert second.epochs == 4 and len(second.metrics_csv) == 2
    import pandas as pd

    resumed_epochs = pd.read_csv(second.metrics_csv[-1]).dropna(subset=["val_loss"])["epoch"]
    assert sorted(resumed_epochs.astype(int).tolist()) == [2, 3]  # continued, not restarted
    a = torch.load(pretrained.last_checkpoint, map_location="cpu", weights_only=False)
    b = torch.load(second.last_checkpoint, map_location="cpu", weights_only=False)
    assert a["epoch"] == b["epoch"]
    for key, value in a["state_dict"].items():  # the same weights as without a break
        torch.testing.assert_close(b["state_dict"][key], value, rtol=1e-5, atol=1e-6)
    assert b["SarOpticalDataModule"] == a["SarOpticalDataModule"]  # normalisations kept
    assert b["SarOpticalDataModule"]["optical"]["mean"]


def test_pretrained_encoder_initialises_ssl4sar_hybrid(pretrained, tmp_path):
    zone_cfg = {
        "task": "zones",
        "model": {"name": "ssl4sar_hybrid", "preset": "small"},
        "data": {
            **TINY_WORLD,
            "n_glaciers": 3,
            "patch_size": 32,
            "batch_size": 2,
            "samples_per_image": 1,
        },
        "init": {"encoder": str(pretrained.best_checkpoint)},
        "output_dir": str(tmp_path),
    }
    cfg = load_config(zone_cfg)
    dm = build_datamodule(cfg)
    dm.setup("fit")
    source = load_model(pretrained.best_checkpoint, device="cpu").state_dict()
    task = build_task(cfg, dm)
    target = task.model.encoder.state_dict()
    assert set(source) == set(target)
    for key, value in source.items():
        assert torch.equal(target[key], value), key
    scratch = build_task(load_config({**zone_cfg, "init": {"encoder": None}}), dm)
    assert not all(torch.equal(scratch.model.encoder.state_dict()[k], v) for k, v in source.items())
    # published-layout weights (a plain timm/Microsoft state dict) load through the fallback
    plain = tmp_path / "swinv2_plain.pth"
    torch.save(load_model(pretrained.best_checkpoint, device="cpu").state_dict(), plain)
    other = create_model("ssl4sar_hybrid", preset="small")
    load_encoder_weights(other, plain)
    assert all(torch.equal(other.encoder.state_dict()[k], v) for k, v in source.items())
    # an encoder of another architecture is refused, naming the file
    wide = save_checkpoint(
        create_model("ssl4sar_hybrid", preset="small", embed_dim=16).encoder, tmp_path / "wide.pt"
    )
    with pytest.raises(CheckpointError, match=r"wide\.pt: variable 'init.encoder'.*does not fit"):
        load_encoder_weights(create_model("ssl4sar_hybrid", preset="small"), wide)
    with pytest.raises(ConfigError, match="variable 'init.encoder'"):
        load_config({**zone_cfg, "model": {"name": "caffe_unet", "preset": "small"}})
