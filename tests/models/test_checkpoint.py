"""One checkpoint format: round trips, metadata, and refusal of foreign or unsafe files."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.errors import CheckpointError
from workbench.models import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    create_model,
    load_model,
    read_checkpoint_info,
    save_checkpoint,
)


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    model = create_model("caffe_unet", preset="small", front_head=True).eval()
    path = save_checkpoint(
        model,
        tmp_path / "model.pt",
        normalization={"mean": [-12.5], "std": [4.0]},
        train_config={"lr": 0.01, "epochs": np.int64(150), "loss": "ce+dice"},
        metrics={"mde_m": np.float32(293.0), "iou": torch.tensor(0.81)},
    )
    return model, path


def test_metadata_round_trip(saved) -> None:
    model, path = saved
    info = read_checkpoint_info(path)
    assert info.model_name == "caffe_unet"
    assert info.model_kwargs == model.config
    assert info.normalization == {"mean": [-12.5], "std": [4.0]}
    assert info.classes == {
        "names": ["na", "rock", "glacier", "ocean"],
        "values": [0, 64, 127, 254],
    }
    assert info.train_config == {"lr": 0.01, "epochs": 150, "loss": "ce+dice"}
    assert info.metrics == pytest.approx({"mde_m": 293.0, "iou": 0.81})
    assert info.format_version == CHECKPOINT_VERSION
    assert info.versions["torch"] == str(torch.__version__)
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == CHECKPOINT_FORMAT
    assert all(t.device.type == "cpu" for t in raw["state_dict"].values())


def test_load_model_rebuilds_with_nothing_else(saved) -> None:
    model, path = saved
    loaded = load_model(path)  # device="auto": the CPU here
    assert loaded.checkpoint_info.path == str(path)
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x).logits, model(x).logits)
        assert torch.equal(loaded(x).front, model(x).front)


def test_glacier_models_default_to_binary_classes(tmp_path) -> None:
    path = save_checkpoint(create_model("icemapper3d", preset="small"), tmp_path / "m.pt")
    assert read_checkpoint_info(path).classes == {
        "names": ["not_glacier", "glacier"],
        "values": [0, 1],
    }
    path = save_checkpoint(
        create_model("caffe_unet", preset="small", num_classes=3),
        tmp_path / "m3.pt",
        classes=["a", "b", "c"],
    )
    assert read_checkpoint_info(path).classes == {"names": ["a", "b", "c"], "values": None}


def test_invalid_metadata_is_refused(tmp_path) -> None:
    model = create_model("caffe_unet", preset="small")
    with pytest.raises(CheckpointError, match="4 class names"):
        save_checkpoint(model, tmp_path / "m.pt", classes=["glacier", "other"])
    with pytest.raises(CheckpointError, match="std"):
        save_checkpoint(model, tmp_path / "m.pt", normalization={"mean": [0.0], "std": [0.0]})
    with pytest.raises(CheckpointError, match="object"):
        save_checkpoint(model, tmp_path / "m.pt", train_config={"optimizer": object()})
    with pytest.raises(CheckpointError, match="registered WorkbenchModel"):
        save_checkpoint(torch.nn.Linear(2, 2), tmp_path / "m.pt")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_atomic_write_keeps_the_old_file(saved, monkeypatch) -> None:
    model, path = saved
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_compiled_and_wrapped_models_are_unwrapped(tmp_path) -> None:
    model = create_model("caffe_unet", preset="small")
    for wrapped in (torch.compile(model, backend="eager"), torch.nn.DataParallel(model)):
        path = save_checkpoint(wrapped, tmp_path / "w.pt")
        assert set(torch.load(path, weights_only=True)["state_dict"]) == set(model.state_dict())


def test_truncated_file(saved, tmp_path) -> None:
    _, path = saved
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or not a torch file") as err:
        load_model(cut)
    assert str(cut) in str(err.value)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match=str(empty)):
        load_model(empty)


def test_plain_state_dict_is_refused(tmp_path) -> None:
    path = tmp_path / "sd.pt"
    torch.save(create_model("caffe_unet", preset="small").state_dict(), path)
    with pytest.raises(CheckpointError, match="plain state dict") as err:
        load_model(path)
    assert "save_checkpoint" in str(err.value)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_foreign_pickles_are_refused(tmp_path) -> None:
    path = tmp_path / "obj.pkl"
    with open(path, "wb") as f:
        pickle.dump({"format": CHECKPOINT_FORMAT, "x": {1, 2, 3}}, f)  # a set: not plain data
    with pytest.raises(CheckpointError, match="refused by safe loading"):
        load_model(path)
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="holds a list"):
        load_model(path)
    torch.save({"weights": [1.0]}, path)
    with pytest.raises(CheckpointError, match=r"lacks key\(s\)"):
        load_model(path)


class _Exploit:
    """Unpickling this runs ``Path.touch(marker)`` — a stand-in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_malicious_pickle_is_never_executed(tmp_path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "format_version": 1,
            "model_name": "caffe_unet",
            "model_kwargs": {},
            "state_dict": {},
            "payload": _Exploit(marker),
        },
        path,
    )
    with pytest.raises(CheckpointError, match="refused by safe loading"):
        load_model(path)
    with pytest.raises(CheckpointError, match="refused by safe loading"):
        read_checkpoint_info(path)
    assert not marker.exists()
    # the payload is real: unsafe loading would have run it
    torch.load(path, weights_only=False)
    assert marker.exists()


def _rewrite(path: Path, **changes) -> Path:
    obj = torch.load(path, weights_only=True)
    for key, value in changes.items():
        if value is None:
            del obj[key]
        else:
            obj[key] = value
    torch.save(obj, path)
    return path


def test_missing_checkpoint_key(saved) -> None:
    _, path = saved
    with pytest.raises(CheckpointError, match=r"lacks key\(s\) \['model_kwargs'\]"):
        load_model(_rewrite(path, model_kwargs=None))


def test_unknown_model_and_future_version(saved) -> None:
    _, path = saved
    original = path.read_bytes()
    with pytest.raises(CheckpointError, match="unknown model 'unet9000'"):
        load_model(_rewrite(path, model_name="unet9000"))
    path.write_bytes(original)
    with pytest.raises(CheckpointError, match="format version 99"):
        load_model(_rewrite(path, format_version=99))
    path.write_bytes(original)
    with pytest.raises(CheckpointError, match="format 'other'"):
        load_model(_rewrite(path, format="other"))
    path.write_bytes(original)
    with pytest.raises(CheckpointError, match="do not build"):
        load_model(_rewrite(path, model_kwargs={"channelz": [1]}))


def test_weights_that_do_not_fit(saved) -> None:
    _, path = saved
    obj = torch.load(path, weights_only=True)
    sd = dict(obj["state_dict"])
    del sd["zones_head.bias"]
    sd["front_head.weight"] = torch.zeros(2, 4, 1, 1)
    pattern = r"missing keys \['zones_head.bias'\].*shape mismatches"
    with pytest.raises(CheckpointError, match=pattern) as err:
        load_model(_rewrite(path, state_dict=sd))
    assert "front_head.weight" in str(err.value)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "absent.pt")
