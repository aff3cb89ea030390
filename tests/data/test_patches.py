"""Patch datasets: grid coverage, seeded windows, context/target, padding, normalisation, stacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from workbench.data.patches import (
    CaffePatchDataset,
    Normalization,
    StackPatchDataset,
    crop_padded,
    grid_positions,
    grid_starts,
)
from workbench.errors import ConfigError, DataError, StackValidationError

# --------------------------------------------------------------------------- fixtures


def _sample(seed: int, h: int, w: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "image": torch.from_numpy(rng.random((1, h, w), dtype=np.float32)),
        "zones": torch.from_numpy(rng.integers(0, 4, (h, w))),
        "front": torch.from_numpy(rng.random((h, w)) > 0.9),
    }


@pytest.fixture
def base() -> list[dict]:
    """Three images: larger than, equal to and smaller than a 32-px patch."""
    return [_sample(0, 70, 90), _sample(1, 32, 32), _sample(2, 20, 30)]


def _stack(nt: int = 5, size: int = 40, label_time: bool = False) -> xr.Dataset:
    """sigma0_db encodes (t, y, x) as t·10000 + y·100 + x; coherence = 0.5 + t/100."""
    t, y, x = np.meshgrid(np.arange(nt), np.arange(size), np.arange(size), indexing="ij")
    sigma0 = (t * 10000 + y * 100 + x).astype(np.float32)
    coherence = (0.5 + t / 100.0 + 0 * y).astype(np.float32)
    if label_time:
        outline = (("time", "y", "x"), (x < 5 + 5 * t).astype(np.uint8))
    else:
        outline = (("y", "x"), (x[0] < 20).astype(np.uint8))
    return xr.Dataset(
        {
            "sigma0_db": (("time", "y", "x"), sigma0),
            "coherence": (("time", "y", "x"), coherence),
            "outline": outline,
        },
        coords={
            "time": np.datetime64("2020-01-01") + 24 * np.arange(nt).astype("timedelta64[D]"),
            "y": np.arange(size) * -10.0,
            "x": np.arange(size) * 10.0,
        },
    )


# --------------------------------------------------------------------------- geometry


@settings(max_examples=60, deadline=None)
@given(length=st.integers(1, 300), patch=st.integers(1, 64), overlap=st.floats(0.0, 0.9))
def test_grid_starts_cover_and_stay_inside(length, patch, overlap):
    starts = grid_starts(length, patch, overlap)
    covered = np.zeros(length, int)
    for s in starts:
        covered[s : s + patch] += 1
    assert (covered >= 1).all()
    assert starts == sorted(set(starts)) and starts[0] == 0
    assert starts[-1] == max(length - patch, 0)  # flush with the border


def test_grid_positions_and_crop_padded():
    assert grid_positions(32, 32, 32) == [(0, 0)]
    assert grid_starts(256, 128, 0.5) == [0, 64, 128]
    a = np.arange(12).reshape(1, 3, 4)
    c = crop_padded(a, 1, 2, 3, 3, fill=-1)
    assert c.shape == (1, 3, 3) and c[0].tolist() == [[6, 7, -1], [10, 11, -1], [-1, -1, -1]]
    assert (crop_padded(a, 10, 10, 2, 2, fill=5) == 5).all()  # fully outside
    with pytest.raises(ConfigError):
        grid_starts(10, 4, 1.0)


# --------------------------------------------------------------------------- CaFFe patches


def test_grid_covers_every_pixel_and_matches_image(base):
    ds = CaffePatchDataset(base, 32, mode="grid", overlap=0.5)
    coverage = [np.zeros(s["zones"].shape, int) for s in base]
    for i in range(len(ds)):
        item = ds[i]
        src, y0, x0 = ds.position(i)
        assert item["source"] == src and item["position"].tolist() == [y0, x0]
        h, w = coverage[src].shape
        vh, vw = min(32, h - y0), min(32, w - x0)
        assert item["valid"][:vh, :vw].all() and item["valid"].sum() == vh * vw
        assert torch.equal(
            item["image"][:, :vh, :vw], base[src]["image"][:, y0 : y0 + vh, x0 : x0 + vw]
        )
        assert torch.equal(item["zones"][:vh, :vw], base[src]["zones"][y0 : y0 + vh, x0 : x0 + vw])
        coverage[src][y0 : y0 + vh, x0 : x0 + vw] += 1
    assert all((c >= 1).all() for c in coverage)
    # 70 → starts 0, 16, 32, 38; 90 → 0, 16, 32, 48, 58; 32×32 → 1; 20×30 → 1 (padded)
    assert len(ds) == 4 * 5 + 1 + 1


def test_padding_small_image(base):
    ds = CaffePatchDataset([base[2]], 32, mode="grid")
    item = ds[0]
    assert item["image"].shape == (1, 32, 32) and item["zones"].shape == (32, 32)
    assert (
        item["valid"][:20, :30].all()
        and not item["valid"][20:].any()
        and not item["valid"][:, 30:].any()
    )
    assert (item["image"][:, 20:] == 0).all() and (item["zones"][:, 30:] == 0).all()  # NA
    assert not item["front"][20:].any()
    rnd = CaffePatchDataset([base[2]], 32, mode="random", samples_per_image=3)
    assert all(rnd.position(i)[1:] == (0, 0) for i in range(3))


def test_random_positions_seeded_by_seed_epoch_index(base):
    a = CaffePatchDataset(base, 16, samples_per_image=4, seed=7)
    b = CaffePatchDataset(base, 16, samples_per_image=4, seed=7)
    assert len(a) == 12
    pos = [a.position(i) for i in range(len(a))]
    assert pos == [b.position(i) for i in range(len(b))]
    assert [p[0] for p in pos] == [0] * 4 + [1] * 4 + [2] * 4
    for i, (src, y0, x0) in enumerate(pos):
        h, w = base[src]["zones"].shape
        rng = np.random.default_rng([7, 0, i])
        assert (y0, x0) == (int(rng.integers(0, h - 16 + 1)), int(rng.integers(0, w - 16 + 1)))
        assert a[i]["position"].tolist() == [y0, x0]
    a.set_epoch(1)
    assert [a.position(i) for i in range(4)] != pos[:4]
    a.set_epoch(0)
    assert [a.position(i) for i in range(len(a))] == pos
    c = CaffePatchDataset(base, 16, samples_per_image=4, seed=8)
    assert [c.position(i) for i in range(4)] != pos[:4]


def test_same_batches_with_0_and_2_workers(base):
    ds = CaffePatchDataset(base, 16, context_size=24, samples_per_image=4, seed=3)
    ds.set_epoch(2)

    def run(workers: int) -> list[dict]:
        return list(DataLoader(ds, batch_size=4, num_workers=workers, shuffle=False))

    b0, b2 = run(0), run(2)
    assert len(b0) == len(b2) == 3
    for x, y in zip(b0, b2, strict=True):
        assert x.keys() == y.keys()
        for key in x:
            assert torch.equal(x[key], y[key]), key


@pytest.mark.parametrize("mode", ["random", "grid"])
def test_context_target_alignment(base, mode):
    norm = Normalization((0.5,), (0.25,))
    ds = CaffePatchDataset(
        base, 16, context_size=40, mode=mode, samples_per_image=5, seed=1, normalization=norm
    )
    assert ds.offset == 12
    for i in range(len(ds)):
        item = ds[i]
        oy, ox = item["offset"].tolist()
        assert (oy, ox) == (12, 12)
        assert item["context_image"].shape == (1, 40, 40) and item["context_zones"].shape == (
            40,
            40,
        )
        for key in ("image", "zones", "front", "valid"):
            assert torch.equal(
                item["context_" + key][..., oy : oy + 16, ox : ox + 16], item[key]
            ), key
        src, y0, x0 = ds.position(i)
        h, w = base[src]["zones"].shape
        cy, cx = y0 - 12, x0 - 12
        expected_valid = np.zeros((40, 40), bool)
        expected_valid[max(-cy, 0) : min(h - cy, 40), max(-cx, 0) : min(w - cx, 40)] = True
        assert np.array_equal(item["context_valid"].numpy(), expected_valid)
        assert (item["context_image"][:, ~item["context_valid"]] == 0).all()
        assert (item["context_zones"][~item["context_valid"]] == 0).all()
        v = item["context_valid"]
        raw = crop_padded(base[src]["image"].numpy(), cy, cx, 40, 40)
        assert np.allclose(item["context_image"][:, v].numpy(), (raw[:, v.numpy()] - 0.5) / 0.25)


def test_caffe_patch_options_and_errors(base, tmp_path):
    from workbench.data.caffe import CaffeDataset, write_caffe_sample

    with pytest.raises(ConfigError):
        CaffePatchDataset(base, 16, context_size=8)
    with pytest.raises(ConfigError):
        CaffePatchDataset(base, 16, mode="tiles")
    with pytest.raises(DataError):
        CaffePatchDataset([], 16)
    ds = CaffePatchDataset(base, 16, transforms=lambda s: {**s, "flag": 1})
    assert ds[0]["flag"] == 1 and "context_image" not in ds[0]
    with pytest.raises(IndexError):
        ds[len(ds)]
    # a real CaffeDataset as base: sizes come from PNG headers, items collate by default
    rng = np.random.default_rng(0)
    for stem in ["SI_2010-06-01_TSX_7_1_125", "JAC_2011-02-03_TSX_6_1_005"]:
        write_caffe_sample(
            tmp_path,
            stem,
            rng.integers(0, 256, (30, 40), dtype=np.uint8),
            rng.integers(0, 4, (30, 40)),
            rng.random((30, 40)) > 0.9,
        )
    patches = CaffePatchDataset(CaffeDataset(tmp_path), 16, mode="grid", overlap=0.0)
    assert len(patches) == 2 * 2 * 3
    batch = next(iter(DataLoader(patches, batch_size=12)))
    assert batch["image"].shape == (12, 1, 16, 16) and batch["front"].dtype == torch.bool
    assert batch["stem"][0] == "JAC_2011-02-03_TSX_6_1_005"


# --------------------------------------------------------------------------- normalisation


def test_normalization_round_trip_and_storage(tmp_path, base):
    norm = Normalization(mean=[0.2, -3.0], std=[0.5, 2.0])
    x = torch.randn(4, 2, 5, 6)
    y = norm(x)
    assert torch.allclose(y[:, 1], (x[:, 1] + 3.0) / 2.0)
    assert torch.allclose(norm.inverse(y), x, atol=1e-6)
    xn = np.random.default_rng(0).normal(size=(2, 3, 3)).astype(np.float32)
    assert isinstance(norm(xn), np.ndarray) and np.allclose(norm.inverse(norm(xn)), xn, atol=1e-6)
    torch.save({"normalization": norm.to_dict()}, tmp_path / "ckpt.pt")
    loaded = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert Normalization.from_dict(loaded["normalization"]) == norm
    with pytest.raises(DataError, match="2 channel"):
        norm(torch.zeros(3, 4, 4))
    for bad in (
        {"mean": [0.0], "std": [0.0]},
        {"mean": [0.0, 1.0], "std": [1.0]},
        {"mean": [float("nan")], "std": [1.0]},
    ):
        with pytest.raises(ConfigError):
            Normalization(**bad)
    with pytest.raises(ConfigError):
        Normalization.from_dict({"mean": [0.0]})


def test_normalization_from_dataset(base):
    stats = Normalization.from_dataset(base)
    pixels = np.concatenate([s["image"].numpy().ravel() for s in base])
    assert np.isclose(stats.mean[0], pixels.mean(), atol=1e-6)
    assert np.isclose(stats.std[0], pixels.std(), atol=1e-6)
    # padding is ignored through the `valid` mask
    padded = CaffePatchDataset([base[2]], 32, mode="grid")
    st2 = Normalization.from_dataset(padded)
    assert np.isclose(st2.mean[0], base[2]["image"].numpy().mean(), atol=1e-6)
    assert Normalization.from_dataset([torch.ones(1, 3, 3)]).std == (1.0,)  # constant → 1
    sub = Normalization.from_dataset(base * 30, max_items=5, seed=0)
    assert sub.channels == 1


# --------------------------------------------------------------------------- stacks


def test_stack_shapes_channels_and_label():
    stack = _stack()
    ds = StackPatchDataset(stack, 16, time_steps=3, samples_per_scene=6, seed=0)
    assert len(ds) == 6 and ds.channels == 2
    for i in range(len(ds)):
        item = ds[i]
        src, t0, y0, x0 = ds.position(i)
        assert item["x"].shape == (3, 2, 16, 16) and item["x"].dtype == torch.float32
        assert item["y"].shape == (16, 16) and item["y"].dtype == torch.int64
        assert item["time_start"] == t0 and 0 <= t0 <= 2
        x = item["x"].numpy()
        t, yy, xx = np.meshgrid(
            np.arange(t0, t0 + 3), np.arange(y0, y0 + 16), np.arange(x0, x0 + 16), indexing="ij"
        )
        assert np.array_equal(x[:, 0], t * 10000 + yy * 100 + xx)  # sigma0 first, right window
        assert np.allclose(x[:, 1], 0.5 + t / 100.0)  # coherence second
        assert np.array_equal(item["y"].numpy(), (xx[0] < 20).astype(int))
        assert item["valid"].all()
    assert {ds.position(i)[1] for i in range(len(ds))} != {0}  # random starts


def test_stack_time_window_and_label_at_last_date():
    stack = _stack(nt=5, label_time=True)
    rnd = StackPatchDataset(stack, 40, time_steps=2, samples_per_scene=8, seed=5)
    starts = set()
    for i in range(len(rnd)):
        item = rnd[i]
        t0 = item["time_start"]
        starts.add(t0)
        assert item["x"][:, 0, 0, 0].tolist() == [t0 * 10000, (t0 + 1) * 10000]
        last = t0 + 1
        assert np.array_equal(
            item["y"].numpy(), stack["outline"].isel(time=last).values.astype(int)
        )
    assert len(starts) > 1 and starts <= {0, 1, 2, 3}
    grid = StackPatchDataset(stack, 40, time_steps=2, mode="grid")
    assert len(grid) == 1 and grid[0]["time_start"] == 3  # grid mode: the last dates
    full = StackPatchDataset(stack, 40, mode="grid")
    assert full[0]["x"].shape[0] == 5 and full[0]["time_start"] == 0
    with pytest.raises(StackValidationError, match="fewer than time_steps"):
        StackPatchDataset(stack, 16, time_steps=6)


def test_stack_missing_variable_and_bad_inputs():
    stack = _stack()
    with pytest.raises(StackValidationError) as info:
        StackPatchDataset(stack, 16, variables=("sigma0_db", "optical"))
    assert "'optical'" in str(info.value) and "coherence" in str(info.value)
    with pytest.raises(StackValidationError, match="'glacier_mask'"):
        StackPatchDataset(stack, 16, label="glacier_mask")
    with pytest.raises(StackValidationError):
        StackPatchDataset(stack.to_dataarray(), 16)
    with pytest.raises(ConfigError, match="3 channels"):
        StackPatchDataset(stack, 16, normalization=Normalization((0.0,) * 3, (1.0,) * 3))
    unlabelled = StackPatchDataset(stack, 16, label=None)
    assert "y" not in unlabelled[0]


def test_stack_nodata_padding_and_grid_coverage():
    stack = _stack(nt=3, size=40)
    s0 = stack["sigma0_db"].values.copy()
    s0[1, 5, 5] = np.nan  # one date missing: still valid (other inputs are finite)
    s0[:, 6, 6] = np.nan
    coh = stack["coherence"].values.copy()
    coh[:, 6, 6] = np.nan  # every input missing: invalid
    lab = stack["outline"].values.astype(float)
    lab[7, 7] = np.nan  # unlabelled pixel: invalid
    stack = stack.assign(
        sigma0_db=(("time", "y", "x"), s0),
        coherence=(("time", "y", "x"), coh),
        outline=(("y", "x"), lab),
    )
    ds = StackPatchDataset(stack, 24, mode="grid", overlap=0.5)
    coverage = np.zeros((40, 40), int)
    for i in range(len(ds)):
        item = ds[i]
        y0, x0 = item["position"].tolist()
        coverage[y0 : y0 + 24, x0 : x0 + 24] += item["valid"].numpy()[: 40 - y0, : 40 - x0]
        assert torch.isfinite(item["x"]).all()
    assert (
        coverage[~np.isin(np.arange(40 * 40).reshape(40, 40), [6 * 40 + 6, 7 * 40 + 7])] >= 1
    ).all()
    item = ds[0]
    assert item["position"].tolist() == [0, 0]
    assert item["x"][1, 0, 5, 5] == 0 and item["valid"][5, 5]
    assert not item["valid"][6, 6] and (item["x"][:, :, 6, 6] == 0).all()
    assert not item["valid"][7, 7] and item["y"][7, 7] == 0
    big = StackPatchDataset(_stack(nt=2, size=20), 32, mode="grid")
    item = big[0]
    assert len(big) == 1 and item["x"].shape == (2, 2, 32, 32)
    assert item["valid"][:20, :20].all() and not item["valid"][20:].any()
    assert (item["x"][:, :, 20:] == 0).all() and (item["y"][:, 20:] == 0).all()


def test_stack_normalization_static_band_variables_and_many_stacks():
    stack = _stack(nt=4, size=24)
    stack["dem"] = (("y", "x"), np.full((24, 24), 100.0))
    stack["optical"] = (
        ("band", "y", "x"),
        np.stack([np.full((24, 24), v) for v in (1.0, 2.0, 3.0)]),
    )
    variables = ("sigma0_db", "dem", "optical")
    norm = Normalization.from_stack([stack, stack], variables, max_times=4)
    assert norm.channels == 5
    assert np.isclose(norm.mean[0], stack["sigma0_db"].values.mean())
    assert norm.mean[1:] == (100.0, 1.0, 2.0, 3.0) and norm.std[1:] == (1.0,) * 4
    ds = StackPatchDataset(
        [stack, stack.isel(x=slice(0, 20))],
        16,
        variables=variables,
        time_steps=2,
        normalization=norm,
        samples_per_scene=2,
        seed=2,
    )
    assert len(ds) == 4 and [ds.position(i)[0] for i in range(4)] == [0, 0, 1, 1]
    x = ds[0]["x"]
    assert x.shape == (2, 5, 16, 16)
    assert torch.allclose(x[:, 1:], torch.zeros(()))  # static channels repeated, at their mean
    assert torch.allclose(norm.inverse(x)[:, 4], torch.full((), 3.0))


def test_stack_lazy_window_with_dask():
    pytest.importorskip("dask")
    stack = _stack(nt=5, size=40).chunk({"time": 1, "y": 20, "x": 20})
    ds = StackPatchDataset(stack, 16, time_steps=3, samples_per_scene=2, seed=4)
    eager = StackPatchDataset(_stack(nt=5, size=40), 16, time_steps=3, samples_per_scene=2, seed=4)
    for i in range(2):
        a, b = ds[i], eager[i]
        assert all(torch.equal(a[k], b[k]) for k in ("x", "y", "valid", "position"))


# --------------------------------------------------------------------------- real data


@pytest.mark.shared_data
def test_real_caffe_patches(caffe256):
    from workbench.data.caffe import CaffeDataset

    ds = CaffeDataset(caffe256, glaciers=["SI"])
    grid = CaffePatchDataset(ds, 128, mode="grid", overlap=0.5)
    assert len(grid) == len(ds) * 9
    ctx = CaffePatchDataset(ds, 128, context_size=256, samples_per_image=1, seed=0)
    item = ctx[0]
    assert item["context_image"].shape == (1, 256, 256) and item["image"].shape == (1, 128, 128)
    assert torch.equal(item["context_zones"][64:192, 64:192], item["zones"])
    assert not item["context_valid"].all()  # a 256 context around a 128 target leaves the image


def test_per_window_normalization_ignores_brightness_and_no_data():
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 0.1, size=(3, 2, 16, 16)).astype(np.float32)  # (B, C, H, W) amplitudes
    x[0, :, :4] = 0.0  # no data (CaFFe's 0)
    x[1, 0, 5, 5] = np.nan  # no data (NaN)
    norm = Normalization(mean=(0.3, 0.3), std=(0.1, 0.1), per_window=True)
    out = norm(x)
    valid = np.isfinite(x) & (x != 0)
    assert (out[~valid] == 0).all()
    for b in range(3):
        for c in range(2):
            v = out[b, c][valid[b, c]]
            assert abs(v.mean()) < 1e-5 and abs(v.std() - 1) < 1e-4
    # the same image from a brighter or higher-contrast sensor gives the same input
    brighter = np.where(valid, 3.0 * x + 0.2, x)
    np.testing.assert_allclose(norm(brighter), out, atol=2e-5)
    # NumPy and torch agree; the dataset statistics still undo for augmentations
    np.testing.assert_allclose(norm(torch.from_numpy(x)).numpy(), out, atol=1e-6)
    assert norm.inverse(torch.zeros(1, 2, 1, 1)).flatten().tolist() == pytest.approx([0.3, 0.3])
    # stored with checkpoints; older dicts mean dataset statistics
    assert Normalization.from_dict(norm.to_dict()) == norm and norm.to_dict()["per_window"] is True
    assert not Normalization.from_dict({"mean": [0.3], "std": [0.1]}).per_window
    # a window without valid pixels, or a constant one, is all zeros (no division by 0)
    flat = np.zeros((1, 1, 4, 4), np.float32)
    flat2 = np.full((1, 1, 4, 4), 0.7, np.float32)
    assert (Normalization((0.0,), (1.0,), per_window=True)(flat) == 0).all()
    assert (Normalization((0.0,), (1.0,), per_window=True)(flat2) == 0).all()
