"""The demo data module's resolution mix (``data.resample_factors``).

A zone or outline model trained at 80 m meets finer scenes (the 20 m world of ``workbench
demo``) through ``predict``, which resamples them to 80 m and so averages their speckle. The
data module makes such glaciers for training: simulated at ``pixel_size / f`` over the same
extent and resampled with predict's own function. These tests use a tiny world (32 px at
200 m, glaciers also simulated at 50 m = 128 px) and a few dates.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.errors import ConfigError
from workbench.training import DemoWorldDataModule
from workbench.training.datamodules import CAFFE8_VARIABLE, StackZoneFrames, resample_stack

SIZE, PX, YEARS = 32, 200.0, 0.05  # 2 dates


def _module(task: str = "zones", factors=(1, 4), **kw) -> DemoWorldDataModule:
    opts = dict(
        n_glaciers=3,
        years=YEARS,
        size=SIZE,
        pixel_size=PX,
        world_seed=3,
        patch_size=16,
        batch_size=2,
        samples_per_image=1,
        resample_factors=factors,
    )
    if task == "outlines":
        opts.update(time_steps=2)
    opts.update(kw)
    return DemoWorldDataModule(task, **opts)


@pytest.fixture(scope="module")
def zones_dm() -> DemoWorldDataModule:
    dm = _module("zones")
    dm.setup("fit")
    return dm


def _speckle(image: np.ndarray, zones: np.ndarray) -> float:
    """Mean squared difference of horizontal neighbours inside one zone (texture, not edges)."""
    same = zones[:, 1:] == zones[:, :-1]
    d = np.diff(image.astype(np.float64), axis=1)
    return float((d[same] ** 2).mean())


def _enl(stack, b: int = 4) -> float:
    lin = 10 ** (stack["sigma0_db"].values.astype(np.float64) / 10)
    zones = stack["zones"].values
    out = []
    for t in range(lin.shape[0]):
        for i in range(0, SIZE - b + 1, b):
            for j in range(0, SIZE - b + 1, b):
                z = zones[t, i : i + b, j : j + b]
                if (z == z[0, 0]).all() and z[0, 0] > 0:
                    v = lin[t, i : i + b, j : j + b]
                    out.append(v.mean() ** 2 / v.var())
    assert len(out) > 20
    return float(np.median(out))


def test_train_and_val_glaciers_come_native_and_resampled(zones_dm):
    tr, va, te = zones_dm._split_stacks()
    assert len(tr) == 2 and len(va) == 2 and len(te) == 1  # 1 train, 1 val glacier × 2 factors
    names = [st.attrs["glacier"] for st in zones_dm.stacks()]  # native world: 3 glaciers
    native, fine = tr
    assert native.attrs["glacier"] == fine.attrs["glacier"] == names[0]
    assert "simulated_pixel_size" not in native.attrs and CAFFE8_VARIABLE not in native
    assert fine.attrs["simulated_pixel_size"] == PX / 4 and fine.attrs["pixel_size"] == PX
    # on the model's grid: same shape and spacing, same extent as the native glacier
    assert fine.sizes["y"] == fine.sizes["x"] == SIZE
    assert np.allclose(np.diff(fine["x"].values), PX) and np.allclose(
        np.diff(fine["y"].values), -PX
    )
    assert abs(float(fine["x"][0] - native["x"][0])) < PX / 2
    assert fine.rio.resolution() == (PX, -PX) and fine.rio.crs == native.rio.crs
    # the held-out test glacier stays native: the test protocol does not change
    assert "simulated_pixel_size" not in te[0].attrs and te[0].attrs["glacier"] == names[2]
    # frames: one per date and version, labels on the model grid, a front on every one
    frames = StackZoneFrames(tr)
    assert len(frames) == 2 * int(native.sizes["time"])
    for i in range(len(frames)):
        s = frames[i]
        assert s["image"].shape == (1, SIZE, SIZE) and s["zones"].shape == (SIZE, SIZE)
        assert s["meta"]["resolution_m"] == PX and s["front"].sum() >= 2
        assert set(np.unique(s["zones"])) <= {0, 1, 2, 3} and 2 in s["zones"] and 3 in s["zones"]


def test_resampled_frames_are_predicts_resampling_of_the_fine_world(zones_dm):
    """The zone input is σ0 → 8-bit grey / 255 on the 50 m grid, then predict's resampling."""
    from workbench.data.demo import db_to_uint8
    from workbench.data.resample import resize_bilinear as _resize
    from workbench.data.synthetic import simulate_world

    fine_world = simulate_world(1, seed=3, years=YEARS, size=(SIZE * 4,) * 2, pixel_size=PX / 4)
    sigma = fine_world[0].stack["sigma0_db"].values
    grey = torch.from_numpy(db_to_uint8(sigma).astype(np.float32) / 255.0)
    expected = _resize(grey, (SIZE, SIZE)).numpy()
    version = zones_dm._split_stacks()[0][1]
    np.testing.assert_allclose(version[CAFFE8_VARIABLE].values, expected, atol=1e-6)
    np.testing.assert_allclose(StackZoneFrames([version])[0]["image"][0], expected[0], atol=1e-6)


def test_resampled_glaciers_have_averaged_speckle(zones_dm):
    """Native frames keep single-look-like speckle; resampled ones are much smoother (higher
    ENL), which is the distribution shift the mix is there to cover."""
    native, fine = zones_dm._split_stacks()[0]
    frames_n, frames_f = StackZoneFrames([native]), StackZoneFrames([fine])
    for t in range(len(frames_n)):
        a, b = frames_n[t], frames_f[t]
        assert _speckle(b["image"][0], b["zones"]) < 0.5 * _speckle(a["image"][0], a["zones"])
    # the same as equivalent numbers of looks (mean² / variance of the linear intensity),
    # median over 4 × 4 blocks inside one zone: about 3 native, several times more resampled
    assert _enl(fine) > 2 * _enl(native)
    # the normalisation of the run is computed over both kinds of frames
    assert zones_dm.norm is not None and zones_dm.norm.channels == 1
    batch = next(iter(zones_dm.train_dataloader()))
    assert tuple(batch["image"].shape) == (2, 1, 16, 16)


def test_outline_versions_and_normalisation():
    dm = _module("outlines", factors=[1, 2])
    dm.setup("fit")
    tr, va, _ = dm._split_stacks()
    assert [s.attrs.get("simulated_pixel_size") for s in tr] == [None, PX / 2]
    fine = tr[1]
    assert CAFFE8_VARIABLE not in fine  # outline models take σ0 in dB
    assert np.array_equal(fine["outline"].values, (fine["zones"].values == 2).astype(np.uint8))
    coh = fine["coherence"].values
    assert np.isfinite(coh).all() and coh.min() >= 0 and coh.max() <= 1
    batch = next(iter(dm.train_dataloader()))
    assert tuple(batch["image"].shape) == (2, 2, 2, 16, 16)
    assert len(dm.val_dataset) == 2  # one window per val version


def test_native_only_by_default_and_with_a_root(tmp_path):
    dm = _module("zones", factors=None)
    tr, va, te = dm._split_stacks()
    assert [s.attrs.get("simulated_pixel_size") for s in tr + va + te] == [None] * 3
    assert dm.resample_factors == [1.0]


@pytest.mark.parametrize("bad", [[0], [1, -2], [1, 1.0], [], [True], [0.1]])
def test_bad_factors_are_config_errors(bad):
    with pytest.raises(ConfigError, match="resample_factors"):
        _module("zones", factors=bad)


def test_config_key_is_validated_and_the_zone_demo_config_uses_it():
    from workbench.training import load_config

    d = load_config("demo_zones")["data"]
    assert d["resample_factors"] == [1, 4] and d["resample_mode"] == "cycle"
    assert d["pixel_size"] == 80.0 and d["test_glaciers"] == ["Morkfjordbreen"]
    # the outline model transfers to 20 m worlds as it is (docs/demo_models.md): native only
    assert load_config("demo_outlines")["data"]["resample_factors"] is None
    assert (
        load_config("demo_zones", ["data.resample_factors=null"])["data"]["resample_factors"]
        is None
    )
    with pytest.raises(ConfigError, match="data.resample_factors"):
        load_config("demo_zones", ["data.resample_factors=fine"])
    with pytest.raises(ConfigError, match="data.resample_mode"):
        load_config("demo_zones", ["data.resample_mode=sometimes"])


def test_cycle_mode_gives_each_training_glacier_one_pixel_size():
    """``cycle``: training glaciers take the factors in turn (one version each, so an epoch
    costs what a native world of as many glaciers costs); validation keeps every factor."""
    dm = _module("zones", factors=[1, 4], n_glaciers=5, resample_mode="cycle")
    tr, va, te = dm._split_stacks()
    names = [st.attrs["glacier"] for st in dm.stacks()]
    assert [st.attrs["glacier"] for st in tr] == names[:3]
    assert [st.attrs.get("simulated_pixel_size") for st in tr] == [None, PX / 4, None]
    assert [st.attrs.get("simulated_pixel_size") for st in va] == [None, PX / 4]
    assert [st.attrs["glacier"] for st in va] == [names[3]] * 2
    assert len(te) == 1 and "simulated_pixel_size" not in te[0].attrs


def test_resample_stack_keeps_labels_consistent():
    from workbench.data.synthetic import simulate_glacier

    fine = simulate_glacier(seed=2, years=0.05, size=(96, 96), pixel_size=100.0).stack
    out = resample_stack(fine, 48, 200.0)
    z = out["zones"].values
    front = out["front"].values.astype(bool)
    glacier = z == 2
    near = np.zeros_like(glacier)
    near[:, 1:] |= glacier[:, :-1]
    near[:, :-1] |= glacier[:, 1:]
    near[:, :, 1:] |= glacier[:, :, :-1]
    near[:, :, :-1] |= glacier[:, :, 1:]
    assert np.array_equal(front, (z == 3) & near) and front.any(axis=(1, 2)).all()
    # every class keeps about its area (majority vote of 2 × 2 blocks)
    for c in range(4):
        assert abs((z == c).mean() - (fine["zones"].values == c).mean()) < 0.03
    assert list(out["sensor"].values) == list(fine["sensor"].values)
    assert out["optical"].dims == ("band", "y", "x") and out["optical"].shape[1:] == (48, 48)
