"""Configs: packaged configs, dotted overrides, validation errors that name the key, the CLI."""

from __future__ import annotations

import pytest

from workbench.cli import build_parser, main
from workbench.errors import ConfigError
from workbench.training.config import (
    DEFAULTS,
    apply_overrides,
    dump_config,
    list_configs,
    load_config,
)

PACKAGED = [
    "caffe256_caffe_unet",
    "caffe256_ssl4sar_hybrid",
    "caffe256_zones_hybrid",
    "caffe256_zones_unet",
    "caffe_unet_caffe",
    "convlstm_unet_s1",
    "demo_outlines",
    "demo_zones",
    "glavitu",
    "icemapper3d_s1",
    "ssl4sar_hybrid_caffe",
]


def test_every_packaged_config_validates():
    assert list_configs() == PACKAGED
    for name in PACKAGED:
        cfg = load_config(name)
        assert cfg["name"] == name and set(cfg) == set(DEFAULTS)


def test_ssl4sar_config_has_the_published_recipe():
    c = load_config("ssl4sar_hybrid_caffe")
    assert c["model"] == {"name": "ssl4sar_hybrid", "preset": "published", "kwargs": {}}
    assert c["optimizer"]["name"] == "sgd" and c["optimizer"]["lr"] == 0.01
    assert c["optimizer"]["momentum"] == 0.9 and c["optimizer"]["weight_decay"] == 1e-4
    assert c["trainer"]["max_epochs"] == 150
    assert c["loss"]["kind"] == "ce_dice" and c["loss"]["label_smoothing"] == 0.1
    assert c["loss"]["ce_weight"] == c["loss"]["dice_weight"] == 0.5
    assert c["data"]["patch_size"] == 256 and c["data"]["context_size"] == 512
    aug = c["augment"]
    assert aug["brightness"]["p"] == aug["gamma"]["p"] == aug["speckle"]["p"] == 0.2
    assert aug["hflip"] == aug["rot90"] == 0.5 and aug["ocean_mixup"]["p"] == 0.3
    assert aug["zoom"] == {"p": 0.5, "range": [0.33, 2.83]}
    assert c["checkpoint"]["monitor"] == "val_mde_sel" and c["checkpoint"]["mode"] == "min"


@pytest.mark.parametrize("name", ["icemapper3d_s1", "convlstm_unet_s1"])
def test_time_series_configs_have_the_published_recipe(name):
    c = load_config(name)
    assert c["optimizer"]["name"] == "adam" and c["optimizer"]["lr"] == 5e-4
    assert c["data"]["batch_size"] == 8 and c["data"]["patch_size"] == 384
    assert c["loss"]["kind"] == "focal" and c["loss"]["gamma"] == 2.0
    assert c["loss"]["label_smoothing"] == 0.1
    assert c["scheduler"] == {
        **c["scheduler"],
        "name": "cosine_restarts",
        "restarts": [10, 30, 70, 150],
    }
    assert c["data"]["fractions"] == [0.6, 0.2, 0.2] and c["data"]["time_steps"] == 15
    assert c["checkpoint"]["monitor"] == "val_iou" and c["checkpoint"]["mode"] == "max"
    assert c["augment"]["time_jitter"]["max_shift"] == 1
    assert c["augment"]["crop_rescale"]["scale"] == [0.8, 1.0]


def test_overrides_are_dotted_and_typed(tmp_path):
    cfg = load_config(
        "demo_zones",
        [
            "trainer.max_epochs=3",
            "optimizer.lr=1e-3",
            "model.kwargs.front_head=true",
            "data.context_size=null",
            "augment.zoom={p: 0.5}",
            "name=quick",
        ],
    )
    assert cfg["trainer"]["max_epochs"] == 3 and cfg["optimizer"]["lr"] == 1e-3
    assert cfg["model"]["kwargs"] == {"channels": [8, 16, 32, 64, 128], "front_head": True}
    assert cfg["augment"]["zoom"] == {"p": 0.5} and cfg["name"] == "quick"
    assert apply_overrides({}, ["a.b.c=[1, 2]"]) == {"a": {"b": {"c": [1, 2]}}}
    path = tmp_path / "mine.yaml"
    path.write_text(dump_config(cfg))
    again = load_config(path)
    assert again == cfg  # a dumped config loads back to itself
    path.write_text("task: outlines\nmodel: {name: icemapper3d}\n")
    assert load_config(path)["name"] == "mine"


@pytest.mark.parametrize(
    ("override", "key", "expected"),
    [
        ("trainer.max_epoch=3", "trainer.max_epoch", "max_epochs"),
        ("trainer.max_epochs=0", "trainer.max_epochs", "integer ≥ 1"),
        ("optimizer.name=lamb", "optimizer.name", "'sgd'"),
        ("optimizer.lr=-1", "optimizer.lr", "number > 0"),
        ("loss.label_smoothing=1.5", "loss.label_smoothing", "≤ 0.99"),
        ("data.kind=csv", "data.kind", "'caffe'"),
        ("model.name=unet", "model.name", "caffe_unet"),
        ("model.preset=tiny", "model.preset", "small"),
        ("augment.blur=0.3", "augment.blur", "hflip"),
        ("scheduler.restarts=[10, 5]", "scheduler.restarts", "increasing"),
        ("task=outlines", "task", "zone model"),
        ("validation.resolution_m=null", "validation.resolution_m", "min_cluster_px"),
        ("trainer.precision=8-bit", "trainer.precision", "bf16-mixed"),
        ("colour=blue", "colour", "one of"),
        ("trainer", "overrides", "KEY=VALUE"),
    ],
)
def test_validation_errors_name_key_and_expectation(override, key, expected):
    with pytest.raises(ConfigError) as err:
        load_config("demo_zones", [override])
    assert f"'{key}'" in str(err.value) and expected in str(err.value)


def test_combinations_and_shorthands(caffe_folder):
    with pytest.raises(ConfigError, match="data.sources"):
        load_config({"task": "outlines", "model": {"name": "glavitu"}})
    with pytest.raises(ConfigError, match="data.root"):
        load_config({"task": "zones", "data": {"kind": "caffe"}})
    assert load_config({"data": "demo"})["data"]["kind"] == "demo"
    cfg = load_config({"data": str(caffe_folder)})
    assert cfg["data"]["kind"] == "caffe" and cfg["data"]["root"] == str(caffe_folder)
    with pytest.raises(ConfigError, match="neither a config file"):
        load_config("no_such_config")


def test_train_subcommand_help_and_errors(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "workbench train demo_zones --resume" in out
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    for action in train._actions:
        assert action.help, f"option {action.dest} of `workbench train` has no help"
        for opt in action.option_strings:
            if opt.startswith("--") and opt != "--help":
                assert opt in out.split("examples:")[1], f"{opt} has no example"
    assert main(["train", "demo_zones", "trainer.max_epochs=2", "--print-config"]) == 0
    assert "max_epochs: 2" in capsys.readouterr().out
    # options may come before, between or after the overrides
    assert main(["train", "demo_zones", "name=a", "--print-config", "trainer.max_epochs=4"]) == 0
    out = capsys.readouterr().out
    assert "max_epochs: 4" in out and "name: a" in out
    with pytest.raises(SystemExit) as exit_:
        main(["train", "demo_zones", "name=a", "--bogus"])
    assert exit_.value.code == 2 and "--bogus" in capsys.readouterr().err
    assert main(["train", "demo_zones", "trainer.epochs=2"]) == 2
    assert "trainer.epochs" in capsys.readouterr().err
    assert main(["train", "--list"]) == 0
    assert "ssl4sar_hybrid_caffe" in capsys.readouterr().out


def test_errors_name_the_file_unless_an_override_set_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("task: zones\ntrainer:\n  max_epochs: 0\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: variable 'trainer.max_epochs' is 0 (expected an")
    assert load_config(path, ["trainer.max_epochs=2"])["trainer"]["max_epochs"] == 2
    with pytest.raises(ConfigError) as err:
        load_config(path, ["trainer.max_epochs=-1"])
    assert str(err.value).startswith("variable 'trainer.max_epochs' is -1")
    path.write_text("task: zones\noptimizer: {betas: [0.9, a]}\n")
    with pytest.raises(ConfigError, match=r"'optimizer.betas\[1\]' is 'a' \(expected a list of 2"):
        load_config(path)


def test_an_override_sets_a_key_and_a_mapping_replaces_it():
    cfg = load_config("demo_zones", ["optimizer={lr: 0.5}", "model.kwargs={}", "data=demo"])
    assert cfg["optimizer"] == {**DEFAULTS["optimizer"], "lr": 0.5}
    assert cfg["model"]["kwargs"] == {} and cfg["data"] == DEFAULTS["data"]
    with pytest.raises(ConfigError, match="variable 'trainer' is 3 \\(expected a mapping"):
        load_config("demo_zones", ["trainer=3"])


def test_print_config_of_train_and_pretrain_with_options_anywhere(capsys):
    assert (
        main(["train", "--print-config", "demo_zones", "seed=3", "--run-dir", "x", "name=b"]) == 0
    )
    out = capsys.readouterr().out
    assert "seed: 3" in out and "name: b" in out and load_config("demo_zones")["task"] in out
    assert (
        main(["pretrain", "demo_pretrain", "seed=4", "--print-config", "pretrain.mask_ratio=0.5"])
        == 0
    )
    out = capsys.readouterr().out
    assert "seed: 4" in out and "mask_ratio: 0.5" in out
    with pytest.raises(SystemExit):
        main(["info", "demo_data", "extra"])
