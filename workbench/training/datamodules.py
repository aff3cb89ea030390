"""Lightning data modules: CaFFe folders, scene stacks and the synthetic demo world.

Every data module yields batches with the same keys, whatever the source (see
:mod:`workbench.training.augment`): ``image`` (``B × C × H × W``, ``B × T × C × H × W`` or a
dict of sources), ``mask`` (zones 0..3 or glacier 0/1), ``valid`` and, for zones, ``front``;
evaluation batches add ``meta`` (a list of dicts: ``stem``, ``glacier``, ``resolution_m``, …).

* Training batches are random patches (:class:`~workbench.data.patches.CaffePatchDataset`,
  :class:`~workbench.data.patches.StackPatchDataset`) cropped by the CPU workers and normalised
  there; augmentation runs on the device in :meth:`on_after_batch_transfer` (training only).
  With ``context_size`` the zone patches are the *context* windows (the target is their
  centre ``patch_size`` crop, taken by the task).
* Validation / test batches are whole images (zones) or whole scenes over the last
  ``time_steps`` dates of a few windows (outlines); the task predicts them with a sliding
  window, so metrics are computed on complete images as the papers do.
* The normalisation statistics are computed from the training split only, stored in the
  Lightning checkpoint (``state_dict``) and exported with the workbench checkpoint.

Modules
-------
:class:`CaffeDataModule`
    A CaFFe-layout folder; validation = a seeded 10 % of the training images (CaFFe), or
    whole glaciers; test = the ``test`` split if the folder has one, or test glaciers.
:class:`StackDataModule`
    Scene stacks (Zarr, NetCDF, GeoTIFF or in-memory datasets), one per tile or glacier,
    split by tile: seeded fractions (60/20/20 as in the Svalbard study) or named tiles.
    Time series (``B × T × C × H × W``) or, with ``sources``, multi-source dict inputs.
:class:`DemoWorldDataModule`
    The synthetic demo world (a folder written by ``workbench demo`` or simulated in memory),
    split by glacier, for the zone task (CaFFe-like frames, identical to the demo's CaFFe
    export) or the outline task (stacks).
:class:`SarOpticalDataModule`
    Unlabelled SAR crops paired with the same window of their glacier's single optical
    image, for SSL4SAR pretraining (:mod:`workbench.training.pretrain`): the demo world or
    stacks carrying an ``optical`` variable, split by glacier. Its batches hold ``image``,
    ``optical``, ``valid`` and ``window`` (no labels).

Examples
--------
>>> dm = DemoWorldDataModule(task="outlines", n_glaciers=3, years=0.2, size=48,
...                          pixel_size=200.0, patch_size=32, time_steps=4, batch_size=2)
>>> dm.setup("fit")
>>> batch = next(iter(dm.train_dataloader()))
>>> tuple(batch["image"].shape), dm.input_kwargs()
((2, 4, 2, 32, 32), {'in_features': 2})
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset, default_collate

from workbench.data.caffe import (
    CaffeDataset,
    season_of,
    split_by_glacier,
    train_val_split,
)
from workbench.data.patches import CaffePatchDataset, Normalization, StackPatchDataset
from workbench.data.sampler import EpochShuffleSampler
from workbench.errors import ConfigError, DataError
from workbench.training.augment import Augmenter

__all__ = [
    "CaffeDataModule",
    "StackDataModule",
    "DemoWorldDataModule",
    "ZoneImageDataset",
    "StackZoneFrames",
    "collate_eval",
    "add_slope",
    "SarOpticalDataModule",
    "SarOpticalCrops",
    "check_sar_optical_stack",
    "sar_unit",
    "resample_stack",
    "CAFFE8_VARIABLE",
]

CAFFE8_VARIABLE = "sigma0_caffe8"
"""Stack variable holding σ0 already in the zone models' input representation (8-bit grey
/ 255, :func:`workbench.data.demo.db_to_uint8`), written by :func:`resample_stack`."""


# --------------------------------------------------------------------------- datasets


def _meta_dict(meta: Any) -> dict[str, Any]:
    """Plain metadata (strings and numbers) that batches can carry and MDE can group by."""
    if meta is None:
        return {}
    if isinstance(meta, Mapping):
        return {
            k: (v if isinstance(v, (str, int, float, type(None))) else str(v))
            for k, v in meta.items()
        }
    out = {}
    for key in ("stem", "glacier", "sensor", "season", "resolution_m", "date"):
        value = getattr(meta, key, None)
        if value is not None:
            out[key] = value if isinstance(value, (str, int, float)) else str(value)
    return out


class ZoneImageDataset(Dataset):
    """Whole CaFFe-like images for evaluation: normalised ``image``, ``mask``, ``front``,
    ``valid`` and plain ``meta``.

    Parameters
    ----------
    base
        A sequence of sample dicts (``image`` (C,)H,W, ``zones``, optional ``front``,
        ``valid``, ``meta``), e.g. a :class:`~workbench.data.caffe.CaffeDataset`.
    normalization
        Applied to the image; non-finite pixels become invalid and 0.
    """

    def __init__(self, base: Sequence[Mapping[str, Any]], normalization: Normalization | None):
        self.base = base
        self.normalization = normalization

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, Any]:
        s = self.base[index]
        image = torch.as_tensor(np.asarray(s["image"], dtype=np.float32))
        if image.ndim == 2:
            image = image[None]
        valid = torch.isfinite(image).all(dim=0)
        if s.get("valid") is not None:
            valid &= torch.as_tensor(np.asarray(s["valid"])).bool()
        if self.normalization is not None:
            image = self.normalization(image)
        image = torch.where(valid[None], image, torch.zeros_like(image))
        out = {
            "image": image,
            "mask": torch.as_tensor(np.asarray(s["zones"])).long(),
            "valid": valid,
            "meta": _meta_dict(s.get("meta")),
        }
        if s.get("front") is not None:
            out["front"] = torch.as_tensor(np.asarray(s["front"])).bool()
        return out


class StackZoneFrames(Dataset):
    """Every date of every stack as a CaFFe-like zone sample.

    ``image`` is σ0 mapped to 8 bits exactly as the demo world's CaFFe export does
    (:func:`workbench.data.demo.db_to_uint8`) and divided by 255, so a model trained on these
    frames works on the exported PNGs and vice versa. Needs ``sigma0_db``, ``zones`` and
    ``front`` (time, y, x); ``meta`` carries the CaFFe stem, glacier, pixel size and season.
    A stack that already holds the image in that representation as :data:`CAFFE8_VARIABLE`
    (frames resampled from a finer grid, see :func:`resample_stack`) is used as it is.
    """

    def __init__(self, stacks: Sequence[Any]) -> None:
        self.stacks = list(stacks)
        for st in self.stacks:
            missing = [v for v in ("sigma0_db", "zones") if v not in st.data_vars]
            if missing:
                raise DataError(
                    f"lacks {missing}",
                    variable="stack",
                    expected="a stack with sigma0_db and zones (time, y, x)",
                )
        self.index = [(k, t) for k, st in enumerate(self.stacks) for t in range(st.sizes["time"])]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> dict[str, Any]:
        from workbench.data.demo import caffe_stem, db_to_uint8

        k, t = self.index[index]
        st = self.stacks[k]
        frame = st.isel(time=t)
        if CAFFE8_VARIABLE in st.data_vars:  # already 8-bit grey / 255 (resampled frames)
            image = np.asarray(frame[CAFFE8_VARIABLE].values, dtype=np.float32)[None]
        else:
            sigma = np.asarray(frame["sigma0_db"].values, dtype=np.float32)
            image = db_to_uint8(sigma).astype(np.float32)[None] / 255.0
        zones = np.asarray(frame["zones"].values).astype(np.int64)
        name = str(st.attrs.get("glacier", f"stack{k}"))
        px = float(st.attrs.get("pixel_size", 0.0)) or None
        date = np.datetime64(frame["time"].values, "D").astype(object)
        sensor = str(frame["sensor"].values) if "sensor" in frame.coords else "S1"
        orbit = int(frame["orbit"].values) if "orbit" in frame.coords else 0
        meta = {
            "stem": caffe_stem(name, date, sensor, px or 1.0, orbit),
            "glacier": name,
            "sensor": "S1" if sensor.upper().startswith("S1") else sensor,
            "resolution_m": px,
            "date": date.isoformat(),
            "season": season_of(date, "north"),
        }
        sample: dict[str, Any] = {"image": image, "zones": zones, "meta": meta}
        if "front" in st.data_vars:
            sample["front"] = np.asarray(frame["front"].values).astype(bool)
        return sample


class _ZonePatches(Dataset):
    """Random training patches of zone samples under the common batch keys."""

    def __init__(self, patches: CaffePatchDataset) -> None:
        self.patches = patches
        self.prefix = "context_" if patches.context_size is not None else ""

    def __len__(self) -> int:
        return len(self.patches)

    def set_epoch(self, epoch: int) -> None:
        self.patches.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        s = self.patches[index]
        p = self.prefix
        out = {"image": s[p + "image"], "mask": s[p + "zones"], "valid": s[p + "valid"]}
        if p + "front" in s:
            out["front"] = s[p + "front"]
        return out


def _channel_slices(stack: Any, variables: Sequence[str]) -> list[tuple[str, int]]:
    out = []
    for name in variables:
        if name not in stack.data_vars:
            raise DataError(
                "is missing from the stack",
                variable=name,
                expected=f"one of {sorted(map(str, stack.data_vars))}",
            )
        da = stack[name]
        out.append((name, int(da.sizes["band"]) if "band" in da.dims else 1))
    return out


class _StackItems(Dataset):
    """StackPatchDataset items under the common keys; splits channels into sources if asked."""

    def __init__(
        self,
        patches: StackPatchDataset,
        sources: Mapping[str, Sequence[str]] | None,
        layout: Sequence[tuple[str, int]],
        meta: Sequence[dict[str, Any]] | None = None,
    ):
        self.patches = patches
        self.meta = meta
        self.sources = None
        if sources:
            offsets, c = {}, 0
            for name, n in layout:
                offsets[name] = (c, c + n)
                c += n
            self.sources = {src: [offsets[v] for v in names] for src, names in sources.items()}

    def __len__(self) -> int:
        return len(self.patches)

    def set_epoch(self, epoch: int) -> None:
        self.patches.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        s = self.patches[index]
        x = s["x"]
        if self.sources is not None:
            x0 = x[-1]  # the (single) date of the window
            image: Any = {
                src: torch.cat([x0[a:b] for a, b in parts], dim=0)
                for src, parts in self.sources.items()
            }
        else:
            image = x
        out = {"image": image, "mask": s["y"], "valid": s["valid"]}
        if self.meta is not None:
            out["meta"] = dict(self.meta[s["source"]])
        return out


def collate_eval(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Collate evaluation items: ``meta`` stays a list of dicts, the rest as torch does."""
    metas = [dict(it.get("meta", {})) for it in items]
    rest = [{k: v for k, v in it.items() if k != "meta"} for it in items]
    out = default_collate(rest)
    out["meta"] = metas
    return out


def add_slope(stack: Any, dem: str = "dem", name: str = "slope") -> Any:
    """Add a terrain ``slope`` variable (degrees) computed from the DEM to a stack.

    The pixel size comes from ``stack.attrs["pixel_size"]`` or the spacing of ``x``.

    Examples
    --------
    >>> import xarray as xr
    >>> st = xr.Dataset({"dem": (("y", "x"), np.tile(np.arange(4.0) * 10, (3, 1)))},
    ...                 attrs={"pixel_size": 10.0})
    >>> float(add_slope(st)["slope"][1, 1])
    45.0
    """
    if dem not in stack.data_vars:
        raise DataError(
            "is needed to compute the slope", variable=dem, expected="a (y, x) DEM in the stack"
        )
    px = stack.attrs.get("pixel_size")
    if px is None and "x" in stack.coords and stack.sizes.get("x", 0) > 1:
        px = abs(float(stack["x"].values[1] - stack["x"].values[0]))
    px = float(px or 1.0)
    z = np.asarray(stack[dem].values, dtype=np.float64)
    gy, gx = np.gradient(z, px)
    slope = np.degrees(np.arctan(np.hypot(gx, gy))).astype(np.float32)
    return stack.assign({name: (stack[dem].dims, slope, {"units": "degree"})})


# --------------------------------------------------------------------------- base


class _WorkbenchDataModule(L.LightningDataModule):
    """Loaders, device-side augmentation, normalisation state; subclasses provide splits."""

    task: str = "zones"

    def __init__(
        self,
        *,
        task: str,
        patch_size: int,
        batch_size: int = 8,
        val_batch_size: int = 1,
        num_workers: int = 0,
        samples_per_image: int = 4,
        augment: Mapping[str, Any] | None = None,
        seed: int = 0,
        context_size: int | None = None,
        time_steps: int | None = None,
        variables: Sequence[str] = ("sigma0_db", "coherence"),
        label: str = "outline",
        sources: Mapping[str, Sequence[str]] | None = None,
        bands: Sequence[str] | None = None,
        val_windows: int = 1,
        normalization_items: int = 64,
        pin_memory: bool | None = None,
        normalization: str = "dataset",
    ) -> None:
        super().__init__()
        if normalization not in ("dataset", "per_window"):
            raise ConfigError(
                f"is {normalization!r}",
                variable="data.normalization",
                expected="'dataset' or 'per_window'",
            )
        if task not in ("zones", "outlines"):
            raise ConfigError(f"is {task!r}", variable="task", expected="'zones' or 'outlines'")
        for key, value in (
            ("data.patch_size", patch_size),
            ("data.batch_size", batch_size),
            ("data.val_batch_size", val_batch_size),
            ("data.samples_per_image", samples_per_image),
            ("data.val_windows", val_windows),
        ):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"is {value!r}", variable=key, expected="an integer ≥ 1")
        if context_size is not None and context_size < patch_size:
            raise ConfigError(
                f"is {context_size} < patch_size {patch_size}",
                variable="data.context_size",
                expected="≥ data.patch_size, or null",
            )
        self.task = task
        self.patch_size = int(patch_size)
        self.context_size = None if context_size is None else int(context_size)
        self.batch_size = int(batch_size)
        self.val_batch_size = int(val_batch_size)
        self.num_workers = int(num_workers)
        self.samples_per_image = int(samples_per_image)
        self.seed = int(seed)
        self.time_steps = None if time_steps is None else int(time_steps)
        self.variables = tuple(variables)
        self.label = label
        self.sources = {k: list(v) for k, v in sources.items()} if sources else None
        if self.sources:
            self.variables = tuple(dict.fromkeys(v for vs in self.sources.values() for v in vs))
            self.time_steps = 1
        self.bands = list(bands) if bands else None
        self.val_windows = int(val_windows)
        self.normalization_items = int(normalization_items)
        self.normalization_mode = normalization
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.augmenter = Augmenter(augment, seed=seed)
        self.norm: Normalization | None = None
        self.train_dataset: Dataset | None = None
        self.val_dataset: Dataset | None = None
        self.test_dataset: Dataset | None = None
        self._layout: list[tuple[str, int]] = []
        self._channels: int | None = None
        self._restored_norm: dict[str, Any] | None = None
        self._aug_state: dict[str, Any] | None = None

    # -- subclasses ------------------------------------------------------------------------
    def _zone_splits(self) -> tuple[Sequence[Any], Sequence[Any], Sequence[Any] | None]:
        raise NotImplementedError

    def _stack_splits(self) -> tuple[list[Any], list[Any], list[Any] | None]:
        raise NotImplementedError

    # -- setup -----------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        """Load the splits, compute the normalisation on the training split, build datasets."""
        if self.train_dataset is not None or self.val_dataset is not None:
            return
        if self.task == "zones":
            self._setup_zones()
        else:
            self._setup_stacks()
        self.augmenter.normalization = self._norm_for_augmenter()
        if self._aug_state:
            self.augmenter.load_state_dict(self._aug_state)

    def _normalization(self, compute: Any) -> Normalization:
        if self._restored_norm is not None:
            flat = self._restored_norm.get("_flat", self._restored_norm)
            return Normalization.from_dict(flat)
        norm = compute()
        if self.normalization_mode == "per_window":  # training-set statistics kept for inverse()
            norm = dataclasses.replace(norm, per_window=True)
        return norm

    def training_fronts(self) -> Iterator[np.ndarray]:
        """The reference front of every training image (zones task, after ``setup``): its
        ``front`` label, else the front of its zones (CaFFe rules). For the model-free
        baselines (:mod:`workbench.evaluation.baselines`)."""
        from workbench.evaluation.baselines import reference_front

        base = getattr(self, "_train_base", None)
        if base is None:
            raise DataError(
                "has no training images of zones (call setup('fit') first)",
                variable="data",
                expected="a zones data module after setup",
            )
        for i in range(len(base)):
            s = base[i]
            yield reference_front({**s, "meta": _meta_dict(s.get("meta"))})

    def _check_patch_fits(self, largest: int) -> None:
        """Refuse training patches larger than every training image (they would be mostly
        padding, and the run would export a model of NaN metrics). A context larger than the
        image is allowed: it is padding around a target that lies in the image."""
        if self.patch_size > largest:
            raise ConfigError(
                f"is {self.patch_size} px, but the largest training image is {largest} px",
                variable="data.patch_size",
                expected=f"an integer from 1 to {largest}",
            )

    def _setup_zones(self) -> None:
        train, val, test = self._zone_splits()
        if len(train) == 0 or len(val) == 0:
            raise DataError(
                f"the split has {len(train)} training and {len(val)} validation images",
                variable="data",
                expected="at least one image in each",
            )
        self.norm = self._normalization(
            lambda: Normalization.from_dataset(
                train, key="image", max_items=self.normalization_items, seed=self.seed
            )
        )
        self._channels = self.norm.channels
        patches = CaffePatchDataset(
            train,
            self.patch_size,
            context_size=self.context_size,
            mode="random",
            samples_per_image=self.samples_per_image,
            seed=self.seed,
            normalization=self.norm,
        )
        n = len(train) if hasattr(train, "image_size") else min(len(train), 8)
        self._check_patch_fits(max(max(patches._size(i)) for i in range(n)))
        self.train_dataset = _ZonePatches(patches)
        self._train_base = train
        self.val_dataset = ZoneImageDataset(val, self.norm)
        self.test_dataset = ZoneImageDataset(test, self.norm) if test else None

    def _prepare_stack(self, st: Any) -> Any:
        if self.bands is not None and "band" in st.dims:
            st = st.sel(band=self.bands)
        if "slope" in self.variables and "slope" not in st.data_vars:
            st = add_slope(st)
        return st

    def _eval_views(self, stacks: Sequence[Any]) -> tuple[list[Any], list[dict[str, Any]]]:
        views, metas = [], []
        for k, st in enumerate(stacks):
            name = str(st.attrs.get("glacier", st.attrs.get("name", f"tile{k}")))
            nt = int(st.sizes["time"]) if "time" in st.dims else 1
            steps = self.time_steps or nt
            if nt < steps:
                raise DataError(
                    f"stack {name!r} has {nt} dates, fewer than time_steps={steps}",
                    variable="time",
                    expected=f"≥ {steps} dates",
                )
            ends = np.unique(
                np.linspace(steps - 1, nt - 1, min(self.val_windows, nt - steps + 1))
                .round()
                .astype(int)
            )
            for e in ends:
                view = (
                    st.isel(time=slice(int(e) - steps + 1, int(e) + 1)) if "time" in st.dims else st
                )
                views.append(view)
                date = (
                    str(np.datetime64(st["time"].values[int(e)], "D"))
                    if "time" in st.coords
                    else ""
                )
                metas.append(
                    {
                        "stem": f"{name}_{date}" if date else name,
                        "glacier": name,
                        "date": date,
                        "resolution_m": float(st.attrs.get("pixel_size", 0.0)) or None,
                    }
                )
        return views, metas

    def _setup_stacks(self) -> None:
        train, val, test = self._stack_splits()
        if not train or not val:
            raise DataError(
                f"the split has {len(train)} training and {len(val)} validation stacks",
                variable="data",
                expected="at least one stack in each",
            )
        train = [self._prepare_stack(s) for s in train]
        val = [self._prepare_stack(s) for s in val]
        test = [self._prepare_stack(s) for s in test] if test else None
        self._check_patch_fits(max(max(int(st.sizes["y"]), int(st.sizes["x"])) for st in train))
        self._layout = _channel_slices(train[0], self.variables)
        self.norm = self._normalization(
            lambda: Normalization.from_stack(train, list(self.variables))
        )
        self._channels = self.norm.channels
        label = self.label
        patches = StackPatchDataset(
            train,
            self.patch_size,
            variables=self.variables,
            label=label,
            time_steps=self.time_steps,
            mode="random",
            samples_per_scene=self.samples_per_image,
            seed=self.seed,
            normalization=self.norm,
        )
        self.train_dataset = _StackItems(patches, self.sources, self._layout)

        def eval_set(stacks: list[Any]) -> Dataset:
            views, metas = self._eval_views(stacks)
            size = max(max(int(v.sizes["y"]), int(v.sizes["x"])) for v in views)
            ds = StackPatchDataset(
                views,
                size,
                variables=self.variables,
                label=label,
                time_steps=self.time_steps,
                mode="grid",
                overlap=0.0,
                normalization=self.norm,
            )
            return _StackItems(ds, self.sources, self._layout, metas)

        self.val_dataset = eval_set(val)
        self.test_dataset = eval_set(test) if test else None

    # -- what the task and the checkpoint need ---------------------------------------------
    def input_kwargs(self) -> dict[str, Any]:
        """Model keyword arguments that follow from the data (channel counts).

        ``{"in_chans": C}`` for zones, ``{"in_features": C}`` for time series,
        ``{"sources": {name: C}}`` for multi-source inputs. Call after :meth:`setup`.
        """
        if self._channels is None:
            raise DataError(
                "is not set up yet", variable="datamodule", expected="setup() before input_kwargs()"
            )
        if self.task == "zones":
            return {"in_chans": self._channels}
        if self.sources:
            counts = dict(self._layout)
            return {"sources": {s: sum(counts[v] for v in vs) for s, vs in self.sources.items()}}
        return {"in_features": self._channels}

    def normalization_dict(self) -> dict[str, Any] | None:
        """The normalisation to store in checkpoints (one dict per source for dict inputs)."""
        if self.norm is None:
            return None
        if not self.sources:
            return self.norm.to_dict()
        out, c = {}, 0
        offsets = {}
        for name, n in self._layout:
            offsets[name] = (c, c + n)
            c += n
        for src, names in self.sources.items():
            idx = [i for v in names for i in range(*offsets[v])]
            out[src] = {
                "mean": [self.norm.mean[i] for i in idx],
                "std": [self.norm.std[i] for i in idx],
            }
        return out

    def _norm_for_augmenter(self) -> Any:
        if self.norm is None:
            return None
        if not self.sources:
            return self.norm
        return {k: Normalization.from_dict(v) for k, v in self.normalization_dict().items()}

    # -- loaders ---------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Fresh random windows for ``epoch`` (called by the task at each epoch start)."""
        if self.train_dataset is not None and hasattr(self.train_dataset, "set_epoch"):
            self.train_dataset.set_epoch(epoch)

    def _loader(
        self,
        ds: Dataset,
        *,
        shuffle: bool,
        batch_size: int,
        collate: Any = None,
        drop_last: bool = False,
    ) -> DataLoader:
        # the training order is a function of (seed, epoch), so a resumed run sees the same
        sampler = EpochShuffleSampler(len(ds), seed=self.seed) if shuffle else None
        return DataLoader(
            ds,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=collate,
            pin_memory=self.pin_memory,
            drop_last=drop_last,
            persistent_workers=False,
        )

    def train_dataloader(self) -> DataLoader:
        trainer = getattr(self, "trainer", None)
        self.set_epoch(trainer.current_epoch if trainer is not None else 0)
        n = len(self.train_dataset)
        return self._loader(
            self.train_dataset,
            shuffle=True,
            batch_size=self.batch_size,
            drop_last=n > self.batch_size,
        )

    def val_dataloader(self) -> DataLoader:
        return self._loader(
            self.val_dataset, shuffle=False, batch_size=self.val_batch_size, collate=collate_eval
        )

    def test_dataloader(self) -> DataLoader:
        if self.test_dataset is None:
            raise DataError(
                "has no test split",
                variable="data",
                expected="test glaciers/tiles, or a CaFFe folder with a test split",
            )
        return self._loader(
            self.test_dataset, shuffle=False, batch_size=self.val_batch_size, collate=collate_eval
        )

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Augment training batches on the device (validation and test are left as they are)."""
        trainer = getattr(self, "trainer", None)
        if trainer is not None and trainer.training and self.augmenter.enabled:
            batch = self.augmenter(batch)
        return batch

    # -- checkpointed state ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Normalisation and augmentation generator states (restored on resume)."""
        state: dict[str, Any] = {"augmenter": self.augmenter.state_dict()}
        if self.norm is not None:
            state["normalization"] = {"_flat": self.norm.to_dict()}
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (the statistics of the original run are kept)."""
        if state_dict.get("normalization"):
            self._restored_norm = dict(state_dict["normalization"])
            if self.norm is not None:  # already set up: switch every dataset to the stored one
                self.norm = Normalization.from_dict(self._restored_norm["_flat"])
                for ds in (self.train_dataset, self.val_dataset, self.test_dataset):
                    inner = getattr(ds, "patches", ds)
                    if inner is not None and hasattr(inner, "normalization"):
                        inner.normalization = self.norm
                self.augmenter.normalization = self._norm_for_augmenter()
        self._aug_state = dict(state_dict.get("augmenter") or {})
        if self._aug_state:
            self.augmenter.load_state_dict(self._aug_state)


# --------------------------------------------------------------------------- helpers


def _pick_glaciers(
    names: Sequence[str], val: int | Sequence[str], test: int | Sequence[str], where: str
) -> tuple[list[str], list[str], list[str]]:
    """Split glacier names: counts take the last glaciers (test last), or explicit names."""
    names = list(names)
    upper = {n.upper(): n for n in names}

    def resolve(spec: int | Sequence[str], key: str, pool: list[str]) -> list[str]:
        if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
            if spec < 0 or spec > len(pool):
                raise ConfigError(
                    f"is {spec} for {len(pool)} available glaciers",
                    variable=f"{where}.{key}",
                    expected=f"0..{len(pool)} or a list of names",
                )
            return pool[len(pool) - int(spec) :] if spec else []
        out = []
        for n in spec:
            if str(n).upper() not in upper:
                raise ConfigError(
                    f"names {n!r}, which is not in the data",
                    variable=f"{where}.{key}",
                    expected=f"some of {names}",
                )
            out.append(upper[str(n).upper()])
        return out

    test_names = resolve(test, "test_glaciers", names)
    rest = [n for n in names if n not in test_names]
    val_names = resolve(val, "val_glaciers", rest)
    if set(val_names) & set(test_names):
        raise ConfigError(
            f"glaciers {sorted(set(val_names) & set(test_names))} are in validation and test",
            variable=f"{where}.val_glaciers",
            expected="disjoint validation and test glaciers",
        )
    train_names = [n for n in names if n not in val_names and n not in test_names]
    if not train_names or not val_names:
        raise ConfigError(
            f"leaves {len(train_names)} training and {len(val_names)} validation "
            f"glaciers of {names}",
            variable=f"{where}.val_glaciers",
            expected="at least one glacier for training and one for validation",
        )
    return train_names, val_names, test_names


# --------------------------------------------------------------------------- CaFFe


class CaffeDataModule(_WorkbenchDataModule):
    """A CaFFe-layout folder for the zone task.

    Parameters
    ----------
    root
        The folder (flat, original CaFFe or split-first layout, see
        :mod:`workbench.data.caffe`).
    split
        ``"image"``: validation is a seeded random ``val_fraction`` of the training images
        (CaFFe: 10 %); ``"glacier"``: validation (and test) are whole glaciers
        (``val_glaciers`` / ``test_glaciers``, names).
    val_fraction, val_glaciers, test_glaciers
        See ``split``. With ``split="image"`` the test set is the folder's ``test`` split
        when it has one. ``val_fraction=0``: nothing is held out, the training images are
        also the validation images (curves only; for fine-tuning on a few labels with
        ``checkpoint.monitor: last``).
    thin_fronts
        Skeletonise the reference fronts (for resized sets such as caffe256).
    **kwargs
        Shared options: ``patch_size``, ``context_size``, ``batch_size``, ``val_batch_size``,
        ``num_workers``, ``samples_per_image``, ``augment``, ``seed``.

    Examples
    --------
    >>> import tempfile
    >>> from workbench.data.caffe import write_caffe_sample
    >>> root = tempfile.mkdtemp()
    >>> for d in range(1, 6):
    ...     z = np.full((32, 32), 2); z[:, 20:] = 3; f = np.zeros((32, 32), bool); f[:, 20] = True
    ...     _ = write_caffe_sample(root, f"SI_2010-01-{d:02d}_TSX_7_1_125", (z * 60).astype(np.uint8), z, f)
    >>> dm = CaffeDataModule(root, patch_size=16, batch_size=2, val_fraction=0.2)
    >>> dm.setup("fit")
    >>> len(dm.val_dataset), tuple(next(iter(dm.train_dataloader()))["image"].shape)
    (1, (2, 1, 16, 16))
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str = "image",
        val_fraction: float = 0.1,
        val_glaciers: Sequence[str] = (),
        test_glaciers: Sequence[str] = (),
        thin_fronts: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(task="zones", **kwargs)
        if split not in ("image", "glacier"):
            raise ConfigError(
                f"is {split!r}", variable="data.split", expected="'image' or 'glacier'"
            )
        self.root = Path(root)
        self.split = split
        self.val_fraction = float(val_fraction)
        self.val_glaciers = list(val_glaciers)
        self.test_glaciers = list(test_glaciers)
        self.thin_fronts = bool(thin_fronts)

    def _zone_splits(self) -> tuple[Sequence[Any], Sequence[Any], Sequence[Any] | None]:
        if not self.root.exists():
            raise DataError("does not exist", path=self.root, expected="a CaFFe-layout folder")
        kw = dict(thin_fronts=self.thin_fronts)
        if self.split == "glacier":
            if not self.val_glaciers:
                raise ConfigError(
                    "is empty",
                    variable="data.val_glaciers",
                    expected="glacier names when data.split is 'glacier'",
                )
            ds = CaffeDataset(self.root, **kw)
            tr, va, te = split_by_glacier(
                ds, val_glaciers=self.val_glaciers, test_glaciers=self.test_glaciers
            )
            return Subset(ds, tr), Subset(ds, va), (Subset(ds, te) if te else None)
        if self.test_glaciers:
            # split by image within the training glaciers; the test glaciers are held out whole
            ds = CaffeDataset(self.root, **kw)
            held_out = set(self.test_glaciers)
            te = [i for i, m in enumerate(ds.metadata) if m.glacier in held_out]
            rest = [i for i, m in enumerate(ds.metadata) if m.glacier not in held_out]
            if not te:
                raise ConfigError(
                    f"names no glacier of {self.root} (it has "
                    f"{sorted({m.glacier for m in ds.metadata})})",
                    variable="data.test_glaciers",
                    expected="glaciers present in the data",
                )
            tr, va = self._train_val([ds.metadata[i] for i in rest])
            return (
                Subset(ds, [rest[i] for i in tr]),
                Subset(ds, [rest[i] for i in va]),
                Subset(ds, te),
            )
        try:
            train_ds = CaffeDataset(self.root, split="train", **kw)
            try:
                test_ds: Sequence[Any] | None = CaffeDataset(self.root, split="test", **kw)
            except DataError:
                test_ds = None
        except DataError:
            train_ds = CaffeDataset(self.root, **kw)  # a flat folder
            test_ds = None
        tr, va = self._train_val(train_ds)
        return Subset(train_ds, tr), Subset(train_ds, va), test_ds

    def _train_val(self, items: Any) -> tuple[list[int], list[int]]:
        tr, va = train_val_split(items, self.val_fraction, seed=self.seed)
        return (tr, list(tr)) if self.val_fraction == 0 else (tr, va)


# --------------------------------------------------------------------------- stacks


def _open(path_or_stack: Any) -> Any:
    import xarray as xr

    if isinstance(path_or_stack, xr.Dataset):
        return path_or_stack
    from workbench.data.stack import open_stack

    return open_stack(path_or_stack)


def _stack_name(src: Any, ds: Any, k: int) -> str:
    if isinstance(src, (str, os.PathLike)):
        name = Path(src).name
        for suffix in (".zarr", ".nc", ".tif", ".tiff"):
            name = name.removesuffix(suffix)
        return name
    return str(ds.attrs.get("glacier", ds.attrs.get("name", f"tile{k}")))


class StackDataModule(_WorkbenchDataModule):
    """Scene stacks (one per tile or glacier) for the outline task, split by tile.

    Parameters
    ----------
    stacks
        Paths (anything :func:`workbench.data.stack.open_stack` reads; a folder is searched
        for ``*.zarr`` / ``*.nc`` stacks) or ``xarray.Dataset`` objects.
    split
        ``"random"``: seeded random split of the tiles by ``fractions`` (train, val, test;
        the Svalbard study used 0.6/0.2/0.2); ``"named"``: ``val_tiles`` / ``test_tiles``.
    fractions, val_tiles, test_tiles
        See ``split``. Tile names are the file names without suffix (or the ``glacier`` /
        ``name`` attribute of in-memory stacks).
    variables
        Input variables per date (default σ0 and coherence).
    label
        Label variable (``outline``), (time, y, x) — the last date of each window — or (y, x).
    time_steps
        Dates per window (None: all dates).
    sources
        For multi-source models (GlaViTU): ``{source: [variables]}``, e.g.
        ``{"optical": ["optical"], "dem": ["dem", "slope"], "sar": ["sigma0_db"]}``; the
        inputs become a dict of ``B × C × H × W`` from one date (``slope`` is derived from
        ``dem`` when asked for).
    bands
        Keep only these ``band`` coordinates (e.g. six Sentinel-2 bands).
    val_windows
        Evaluation windows per validation / test stack (evenly spaced end dates).
    **kwargs
        Shared options (``patch_size``, ``batch_size``, ``samples_per_image`` = random windows
        per tile per epoch, ``augment``, ``seed``, …).
    """

    def __init__(
        self,
        stacks: Sequence[Any] | str | os.PathLike[str],
        *,
        split: str = "random",
        fractions: Sequence[float] = (0.6, 0.2, 0.2),
        val_tiles: Sequence[str] = (),
        test_tiles: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(task="outlines", **kwargs)
        if split not in ("random", "named"):
            raise ConfigError(
                f"is {split!r}", variable="data.split", expected="'random' or 'named'"
            )
        if isinstance(stacks, (str, os.PathLike)):
            folder = Path(stacks)
            if folder.is_dir() and folder.suffix != ".zarr":
                found = sorted([*folder.glob("*.zarr"), *folder.glob("*.nc")])
                if not found:
                    raise DataError(
                        "holds no *.zarr or *.nc stacks",
                        path=folder,
                        expected="a folder of scene stacks",
                    )
                stacks = found
            else:
                stacks = [folder]
        self.sources_in = list(stacks)
        fr = [float(f) for f in fractions]
        if len(fr) != 3 or any(f < 0 for f in fr) or not math.isclose(sum(fr), 1.0, abs_tol=1e-6):
            raise ConfigError(
                f"is {list(fractions)}",
                variable="data.fractions",
                expected="three non-negative fractions (train, val, test) summing to 1",
            )
        self.split = split
        self.fractions = fr
        self.val_tiles = list(val_tiles)
        self.test_tiles = list(test_tiles)

    def _stack_splits(self) -> tuple[list[Any], list[Any], list[Any] | None]:
        opened = [_open(s) for s in self.sources_in]
        names = [
            _stack_name(s, ds, k)
            for k, (s, ds) in enumerate(zip(self.sources_in, opened, strict=False))
        ]
        for k, ds in enumerate(opened):
            ds.attrs.setdefault("name", names[k])
        if self.split == "named":
            tr, va, te = _pick_glaciers(names, self.val_tiles, self.test_tiles, "data")
        else:
            n = len(names)
            perm = np.random.default_rng(self.seed).permutation(n)
            n_val = max(1, int(round(n * self.fractions[1]))) if self.fractions[1] > 0 else 0
            n_test = int(round(n * self.fractions[2]))
            if n - n_val - n_test < 1:
                n_test = max(0, n - n_val - 1)
            va = [names[i] for i in perm[:n_val]]
            te = [names[i] for i in perm[n_val : n_val + n_test]]
            tr = [names[i] for i in perm[n_val + n_test :]]
        by = dict(zip(names, opened, strict=False))
        return [by[n] for n in tr], [by[n] for n in va], ([by[n] for n in te] or None)


# --------------------------------------------------------------------------- demo world


def _majority(values: np.ndarray, shape: tuple[int, int], resize: Any) -> np.ndarray:
    """Class labels ``(…, y, x)`` on a grid of ``shape``: the class whose resampled indicator
    is largest (a soft majority vote over the footprint of each output pixel)."""
    classes = np.unique(values)
    flat = values.reshape(-1, *values.shape[-2:])
    out = np.empty((flat.shape[0], *shape), dtype=values.dtype)
    for i, v in enumerate(flat):  # one image at a time keeps the indicators small
        onehot = (v[None] == classes[:, None, None]).astype(np.float32)
        out[i] = classes[resize(onehot).argmax(0)]
    return out.reshape(*values.shape[:-2], *shape)


def resample_stack(
    stack: Any, size: int | tuple[int, int], pixel_size: float, *, caffe8: bool = False
) -> Any:
    """A simulated stack brought onto a coarser (or finer) grid of the same extent, the way
    :func:`workbench.inference.predict` brings a scene to a model's pixel size.

    Continuous variables (``sigma0_db`` in dB, ``coherence``, ``optical``, ``dem``) are
    resampled with the very function ``predict`` uses (bilinear, anti-aliased when
    shrinking; ``workbench.inference.predictor._resize``), so the averaging of speckle over
    the footprint of a model pixel is the one the model meets at inference. Labels follow
    the grid: ``zones`` (and other integer variables) by a soft majority vote (the class
    with the largest resampled indicator), ``outline`` = glacier zone, ``front`` by the CaFFe
    rule the simulator uses (ocean pixels that are 4-neighbours of glacier pixels).

    Parameters
    ----------
    stack
        A scene stack with dims ``(…, y, x)`` and ``attrs["pixel_size"]`` (a simulated one:
        no NaN, so the order of resampling and normalisation does not matter).
    size
        Output ``(height, width)`` in pixels (an int: square).
    pixel_size
        Output pixel size in metres (the extent is ``size × pixel_size`` from the stack's
        upper-left corner; it should equal the stack's).
    caffe8
        Also write :data:`CAFFE8_VARIABLE`: σ0 mapped to 8-bit grey / 255 on the FINE grid
        and then resampled, as ``predict`` prepares the input of a CaFFe zone model.

    Returns
    -------
    xarray.Dataset
        The same variables and per-date coordinates on the new grid; ``attrs`` gain
        ``pixel_size`` (the new one) and ``simulated_pixel_size`` (the stack's).

    Examples
    --------
    >>> from workbench.data.synthetic import simulate_glacier
    >>> fine = simulate_glacier(seed=1, years=0.05, size=(96, 96), pixel_size=100.0).stack
    >>> coarse = resample_stack(fine, 48, 200.0, caffe8=True)
    >>> coarse.sizes["y"], coarse.attrs["pixel_size"], coarse.attrs["simulated_pixel_size"]
    (48, 200.0, 100.0)
    >>> bool(coarse.sigma0_db.std() < fine.sigma0_db.std())   # speckle averaged
    True
    """
    import xarray as xr

    from workbench.data.demo import db_to_uint8
    from workbench.data.encoding import GLACIER, OCEAN
    from workbench.inference.predictor import _resize  # the resampling of `predict`

    shape = (int(size), int(size)) if np.isscalar(size) else tuple(int(v) for v in size)
    px_in = float(stack.attrs.get("pixel_size") or 0.0)
    if px_in <= 0:
        raise DataError(
            "has no pixel_size attribute",
            variable="stack",
            expected="a simulated stack (attrs['pixel_size'] in metres)",
        )

    def resize(a: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
        return _resize(t, shape).numpy()

    data_vars: dict[str, Any] = {}
    zones = None
    if "zones" in stack.data_vars:
        zda = stack["zones"]
        zda = zda.transpose(*[d for d in zda.dims if d not in ("y", "x")], "y", "x")
        zones = _majority(np.asarray(zda.values), shape, resize)
        data_vars["zones"] = (zda.dims, zones, zda.attrs)
    for name, da in stack.data_vars.items():
        if name == "zones" or "y" not in da.dims or "x" not in da.dims:
            continue
        da = da.transpose(*[d for d in da.dims if d not in ("y", "x")], "y", "x")
        if name == "outline" and zones is not None:
            vals = (zones == GLACIER).astype(da.dtype)
        elif name == "front" and zones is not None:
            glacier = zones == GLACIER
            near = np.zeros_like(glacier)
            near[..., 1:, :] |= glacier[..., :-1, :]
            near[..., :-1, :] |= glacier[..., 1:, :]
            near[..., :, 1:] |= glacier[..., :, :-1]
            near[..., :, :-1] |= glacier[..., :, 1:]
            vals = ((zones == OCEAN) & near).astype(da.dtype)
        elif np.issubdtype(da.dtype, np.floating):
            vals = resize(np.asarray(da.values))
        else:
            vals = _majority(np.asarray(da.values), shape, resize)
        data_vars[name] = (da.dims, vals, da.attrs)
    if caffe8 and "sigma0_db" in stack.data_vars:
        sig = stack["sigma0_db"].transpose("time", "y", "x")
        grey = db_to_uint8(np.asarray(sig.values, np.float32)).astype(np.float32) / 255.0
        data_vars[CAFFE8_VARIABLE] = (
            ("time", "y", "x"),
            resize(grey),
            {"long_name": "sigma0 as 8-bit grey / 255, resampled"},
        )
    x0 = float(stack["x"].values[0]) - px_in / 2.0  # outer edges of the stack
    y0 = float(stack["y"].values[0]) + px_in / 2.0
    step = float(pixel_size)
    coords: dict[str, Any] = {
        k: v
        for k, v in stack.coords.items()
        if k not in ("x", "y", "spatial_ref") and "x" not in v.dims and "y" not in v.dims
    }
    coords["x"] = ("x", x0 + (np.arange(shape[1]) + 0.5) * step, stack["x"].attrs)
    coords["y"] = ("y", y0 - (np.arange(shape[0]) + 0.5) * step, stack["y"].attrs)
    attrs = {**stack.attrs, "pixel_size": step, "simulated_pixel_size": px_in}
    out = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    crs = stack.rio.crs if hasattr(stack, "rio") else None
    if crs is not None:
        from affine import Affine

        out = out.rio.write_crs(crs).rio.write_transform(Affine(step, 0.0, x0, 0.0, -step, y0))
    return out


class DemoWorldDataModule(_WorkbenchDataModule):
    """The synthetic demo world, split by glacier, for the zone or the outline task.

    Parameters
    ----------
    task
        ``"zones"`` (each date a CaFFe-like frame, see :class:`StackZoneFrames`) or
        ``"outlines"`` (stacks; time series or multi-source).
    root
        A folder written by ``workbench demo`` (``manifest.json``, ``stacks/*.zarr``), or
        ``None`` to simulate the world in memory with :func:`workbench.data.synthetic.simulate_world`.
    n_glaciers, years, size, pixel_size, world_seed
        The in-memory world (ignored with ``root``).
    val_glaciers, test_glaciers
        Counts (the last glaciers: test last, validation before it) or glacier names.
    resample_factors
        The mix of resolutions of the in-memory world's training and validation glaciers
        (ignored with ``root``; ``None`` or ``[1]``: the native world only). For each factor
        ``f`` every training and validation glacier is also simulated at ``pixel_size / f``
        over the same extent (``size · f`` pixels) and brought back to ``pixel_size`` with
        :func:`resample_stack`, i.e. with the resampling :func:`workbench.inference.predict`
        applies to a finer scene, so the model trains on what it meets when it maps, e.g.,
        the 20 m world of ``workbench demo``: speckle averaged over the footprint of a model
        pixel. ``1`` is the native glacier. ``[1, 2, 4]`` with 80 m pixels: native 80 m plus
        40 m and 20 m glaciers resampled to 80 m, each glacier once per factor. Test
        glaciers stay native (evaluate other resolutions with
        ``evaluate(..., demo_options={"pixel_size": 20, "size": 512})``).
    resample_mode
        ``"all"`` (default): every factor for every training glacier, as above. ``"cycle"``:
        training glaciers take the factors in turn (with ``[1, 4]``: native, 20 m, native, …),
        one version each, so an epoch costs what a native world of as many glaciers costs and
        more glaciers fit the same time (the packaged ``demo_zones``: 10 training glaciers);
        validation glaciers keep every factor.
    **kwargs
        Shared options, and for outlines ``variables``, ``label``, ``time_steps``,
        ``sources``, ``bands``, ``val_windows``.
    """

    def __init__(
        self,
        task: str = "zones",
        *,
        root: str | os.PathLike[str] | None = None,
        n_glaciers: int = 3,
        years: float = 1.0,
        size: int = 128,
        pixel_size: float = 80.0,
        world_seed: int = 0,
        val_glaciers: int | Sequence[str] = 1,
        test_glaciers: int | Sequence[str] = 1,
        resample_factors: Sequence[float] | None = None,
        resample_mode: str = "all",
        **kwargs: Any,
    ) -> None:
        super().__init__(task=task, **kwargs)
        self.root = None if root is None else Path(root)
        self.n_glaciers = int(n_glaciers)
        self.years = float(years)
        self.size = int(size)
        self.pixel_size = float(pixel_size)
        self.world_seed = int(world_seed)
        self.val_glaciers = val_glaciers
        self.test_glaciers = test_glaciers
        factors = list(resample_factors) if resample_factors is not None else [1]
        if (
            not factors
            or any(
                isinstance(f, bool)
                or not isinstance(f, (int, float, np.number))
                or not (math.isfinite(f) and f > 0)
                for f in factors
            )
            or len(set(map(float, factors))) != len(factors)
        ):
            raise ConfigError(
                f"is {resample_factors!r}",
                variable="data.resample_factors",
                expected="distinct factors > 0 (1 = native, 4 = simulated at a "
                "quarter of the pixel size), or null",
            )
        for f in factors:
            if round(self.size * float(f)) < 16:
                raise ConfigError(
                    f"holds {f}: {self.size} px × {f} is below 16 px",
                    variable="data.resample_factors",
                    expected="factors that keep the simulated scene ≥ 16 px",
                )
        self.resample_factors = [float(f) for f in factors]
        if resample_mode not in ("all", "cycle"):
            raise ConfigError(
                f"is {resample_mode!r}",
                variable="data.resample_mode",
                expected="'all' (every factor for every glacier) or 'cycle'",
            )
        self.resample_mode = resample_mode
        self._stacks: list[Any] | None = None
        self._versions: dict[tuple[str, float], Any] = {}
        self._simulated: dict[int, Any] = {}

    def stacks(self) -> list[Any]:
        """The world's stacks, one per glacier (read or simulated once)."""
        if self._stacks is None:
            if self.root is not None:
                from workbench.data.demo import load_manifest
                from workbench.data.stack import open_stack

                manifest = load_manifest(self.root)
                self._stacks = []
                for g in manifest["glaciers"]:
                    st = open_stack(self.root / g["zarr"])
                    st.attrs.setdefault("glacier", g["name"])
                    st.attrs.setdefault("pixel_size", manifest.get("pixel_size"))
                    self._stacks.append(st)
            else:
                self._stacks = [self.glacier_stack(n) for n in self.glacier_names()]
        return self._stacks

    def glacier_names(self) -> list[str]:
        """The world's glacier names, in order (an in-memory world simulates nothing for it)."""
        if self.root is not None or self._stacks is not None:
            return [str(s.attrs.get("glacier", f"glacier{k}")) for k, s in enumerate(self.stacks())]
        from workbench.data.synthetic import GlacierParams

        return [GlacierParams.random(self.world_seed, i).name for i in range(self.n_glaciers)]

    def glacier_stack(self, name: str) -> Any:
        """The native stack of one glacier; an in-memory world simulates only this glacier
        (:func:`workbench.data.synthetic.world_glacier`, once)."""
        names = self.glacier_names()
        if self.root is not None or self._stacks is not None:
            return self.stacks()[names.index(name)]
        index = names.index(name)
        if index not in self._simulated:
            from workbench.data.synthetic import world_glacier

            self._simulated[index] = world_glacier(
                index,
                seed=self.world_seed,
                years=self.years,
                size=(self.size, self.size),
                pixel_size=self.pixel_size,
            ).stack
        return self._simulated[index]

    def split_stacks(self, split: str) -> list[Any]:
        """The native stacks of ``split`` (``train``, ``val``, ``test`` or ``all``) of the
        glacier split; an in-memory world simulates only those glaciers (evaluation)."""
        names = self.glacier_names()
        if split == "all":
            return self.stacks()
        tr, va, te = _pick_glaciers(names, self.val_glaciers, self.test_glaciers, "data")
        return [self.glacier_stack(n) for n in {"train": tr, "val": va, "test": te}[split]]

    def _split_stacks(self) -> tuple[list[Any], list[Any], list[Any]]:
        names = self.glacier_names()
        tr, va, te = _pick_glaciers(names, self.val_glaciers, self.test_glaciers, "data")
        if self.root is None and self.resample_factors != [1.0]:
            return (
                [v for n in tr for v in self.resolution_versions(n, training=True)],
                [v for n in va for v in self.resolution_versions(n)],
                [self.glacier_stack(n) for n in te],
            )
        return (
            [self.glacier_stack(n) for n in tr],
            [self.glacier_stack(n) for n in va],
            [self.glacier_stack(n) for n in te],
        )

    def resolution_versions(self, name: str, training: bool = False) -> list[Any]:
        """The versions of one glacier of the in-memory world that the splits use.

        One per factor of ``resample_factors`` (in that order), or, for a training glacier
        with ``resample_mode="cycle"``, the one factor it is assigned to: native for 1, else
        the glacier simulated at ``pixel_size / f`` over the same extent (the same seed and
        parameters as in the world) and resampled onto the native grid with
        :func:`resample_stack` (``attrs["simulated_pixel_size"]`` says which). Simulated once
        and kept.
        """
        from workbench.data.synthetic import GlacierParams, simulate_glacier, world_glacier_seed

        names = self.glacier_names()
        factors = list(self.resample_factors)
        if training and self.resample_mode == "cycle":
            train, _, _ = _pick_glaciers(names, self.val_glaciers, self.test_glaciers, "data")
            factors = [factors[train.index(name) % len(factors)]]
        out = []
        for f in factors:
            if f == 1.0:
                out.append(self.glacier_stack(name))
                continue
            key = (name, f)
            if key not in self._versions:
                index = names.index(name)
                params = GlacierParams.random(self.world_seed, index)
                fine = simulate_glacier(
                    params,
                    seed=world_glacier_seed(self.world_seed, index),
                    years=self.years,
                    size=(round(self.size * f),) * 2,
                    pixel_size=self.pixel_size / f,
                ).stack
                if fine.attrs["glacier"] != name:  # pragma: no cover - a changed simulator
                    raise DataError(
                        f"simulates {fine.attrs['glacier']!r} for {name!r}",
                        variable="data.resample_factors",
                        expected="the same glacier at a finer pixel size",
                    )
                fine.attrs.update(world_seed=self.world_seed, world_index=index)
                self._versions[key] = resample_stack(
                    fine, self.size, self.pixel_size, caffe8=self.task == "zones"
                )
            out.append(self._versions[key])
        return out

    def _zone_splits(self) -> tuple[Sequence[Any], Sequence[Any], Sequence[Any] | None]:
        tr, va, te = self._split_stacks()
        return StackZoneFrames(tr), StackZoneFrames(va), (StackZoneFrames(te) if te else None)

    def _stack_splits(self) -> tuple[list[Any], list[Any], list[Any] | None]:
        tr, va, te = self._split_stacks()
        return tr, va, (te or None)


# --------------------------------------------------------------------------- SAR + optical pairs


def sar_unit(
    values: np.ndarray, variable: str = "sigma0_db", units: str | None = None
) -> np.ndarray:
    """SAR values as the zone models see them: σ0 in dB → the 8-bit CaFFe mapping / 255.

    A variable in dB (``units == "dB"`` or a name ending in ``_db``) is mapped exactly like the
    demo world's CaFFe export (:func:`workbench.data.demo.db_to_uint8`, NaN → 0) and divided
    by 255, so an encoder pretrained on it sees the same kind of input as the zone models
    fine-tuned on :class:`StackZoneFrames` or CaFFe PNGs. Other variables are returned as
    float32, unchanged.

    Examples
    --------
    >>> sar_unit(np.array([-30.0, 5.0, np.nan])).round(3)
    array([0.004, 1.   , 0.   ], dtype=float32)
    """
    values = np.asarray(values, dtype=np.float32)
    if units == "dB" or variable.lower().endswith("_db"):
        from workbench.data.demo import db_to_uint8

        return db_to_uint8(values).astype(np.float32) / np.float32(255.0)
    return values


class SarOpticalCrops(Dataset):
    """SAR crops paired with the SAME pixel window of their glacier's single optical image.

    SSL4SAR pretraining input (docs/science.md §1.9): every SAR image of a glacier is paired with the
    one co-registered optical image of that glacier; a crop of the SAR image and the same
    window of the optical image form one sample.

    Parameters
    ----------
    stacks
        Scene stacks on one grid each: ``sar`` ``(time, y, x)`` and ``optical``
        ``(band, y, x)`` (the optical image has no ``time``: one per glacier).
    crop_size
        Output side in pixels (SSL4SAR: 512).
    min_scale
        Random-resized crop ("512 px crops, min scale 0.7"; our reading): a square window
        covering a fraction ``s ~ U(min_scale, 1)`` of the area of a ``crop_size`` square
        (side ``round(crop_size·√s)``) is cut from the scene and resized to ``crop_size``
        (bilinear; ``valid`` nearest), i.e. a zoom-in of up to ``1/√min_scale``. The
        SAR and the optical window are the same and resized identically. Windows are square
        (torchvision's aspect-ratio jitter is not published) and a window never exceeds
        the scene (smaller scenes are resized up). ``1``: plain crops.
    mode
        ``"random"``: ``samples_per_image`` crops per SAR image per epoch; windows AND the
        item order depend only on ``(seed, epoch, index)``, so an epoch is the same with
        any number of workers and after a resume (use ``shuffle=False`` in the loader).
        ``"fixed"``: validation, one seeded window per image at scale 1, for at most
        ``max_items`` images spread evenly over all of them.
    sar, optical
        Variable names.
    sar_normalization, optical_normalization
        :class:`~workbench.data.patches.Normalization` of the SAR input (after
        :func:`sar_unit`) and of the optical bands; invalid pixels are 0 after it.

    Each item holds ``image`` (``1 × S × S``), ``optical`` (``C × S × S``), ``valid``
    (``S × S``: finite SAR and finite optical in every band) and ``window`` (int64
    ``[stack, time, y0, x0, side]``: where the crop came from).

    Examples
    --------
    >>> import xarray as xr
    >>> st = xr.Dataset({"sigma0_db": (("time", "y", "x"), np.zeros((2, 8, 8), np.float32)),
    ...                  "optical": (("band", "y", "x"), np.ones((3, 8, 8), np.float32))})
    >>> ds = SarOpticalCrops([st], crop_size=4, min_scale=1.0, samples_per_image=2)
    >>> item = ds[0]
    >>> len(ds), tuple(item["image"].shape), tuple(item["optical"].shape), item["window"].tolist()[-1]
    (4, (1, 4, 4), (3, 4, 4), 4)
    """

    def __init__(
        self,
        stacks: Sequence[Any],
        *,
        crop_size: int,
        min_scale: float = 0.7,
        samples_per_image: int = 1,
        mode: str = "random",
        seed: int = 0,
        max_items: int | None = None,
        sar: str = "sigma0_db",
        optical: str = "optical",
        sar_normalization: Normalization | None = None,
        optical_normalization: Normalization | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        if mode not in ("random", "fixed"):
            raise ConfigError(f"is {mode!r}", variable="mode", expected="'random' or 'fixed'")
        if not isinstance(crop_size, (int, np.integer)) or crop_size < 1:
            raise ConfigError(
                f"is {crop_size!r}", variable="data.crop_size", expected="an integer ≥ 1"
            )
        if not (isinstance(min_scale, (int, float)) and 0 < min_scale <= 1):
            raise ConfigError(
                f"is {min_scale!r}",
                variable="data.min_scale",
                expected="a fraction of the crop area in (0, 1]",
            )
        self.stacks = list(stacks)
        self.names = (
            list(names)
            if names is not None
            else [
                str(st.attrs.get("glacier", st.attrs.get("name", f"stack{k}")))
                for k, st in enumerate(self.stacks)
            ]
        )
        for st, name in zip(self.stacks, self.names, strict=False):
            check_sar_optical_stack(st, sar=sar, optical=optical, where=name)
        self.crop_size = int(crop_size)
        self.min_scale = float(min_scale)
        self.samples_per_image = int(samples_per_image)
        self.mode = mode
        self.seed = int(seed)
        self.sar, self.optical = sar, optical
        self.sar_normalization = sar_normalization
        self.optical_normalization = optical_normalization
        self.epoch = 0
        index = [(k, t) for k, st in enumerate(self.stacks) for t in range(int(st.sizes["time"]))]
        if mode == "fixed" and max_items is not None and len(index) > max_items:
            keep = np.unique(np.linspace(0, len(index) - 1, int(max_items)).round().astype(int))
            index = [index[i] for i in keep]
        self.index = index
        self._units = [st[sar].attrs.get("units") for st in self.stacks]

    def __len__(self) -> int:
        return len(self.index) * (self.samples_per_image if self.mode == "random" else 1)

    def set_epoch(self, epoch: int) -> None:
        """Fresh windows and a fresh order for ``epoch``."""
        self.epoch = int(epoch)

    def window(self, index: int) -> tuple[int, int, int, int, int]:
        """``(stack, time, y0, x0, side)`` of item ``index`` (before any shuffling)."""
        if self.mode == "random":
            k, t = self.index[index // self.samples_per_image]
            rng = np.random.default_rng([self.seed, self.epoch, index])
            scale = rng.uniform(self.min_scale, 1.0) if self.min_scale < 1 else 1.0
        else:
            k, t = self.index[index]
            rng = np.random.default_rng([self.seed, 0x5EED, index])
            scale = 1.0
        h, w = int(self.stacks[k].sizes["y"]), int(self.stacks[k].sizes["x"])
        side = max(1, min(int(round(self.crop_size * math.sqrt(scale))), h, w))
        y0 = int(rng.integers(0, h - side + 1))
        x0 = int(rng.integers(0, w - side + 1))
        return k, t, y0, x0, side

    def _order(self, index: int) -> int:
        if self.mode != "random":
            return index
        if getattr(self, "_perm_epoch", None) != self.epoch:  # one permutation per epoch
            rng = np.random.default_rng([self.seed, self.epoch, 0x0DE7])
            self._perm = rng.permutation(len(self))
            self._perm_epoch = self.epoch
        return int(self._perm[index])

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        k, t, y0, x0, side = self.window(self._order(index))
        st = self.stacks[k]
        win = dict(y=slice(y0, y0 + side), x=slice(x0, x0 + side))
        raw = np.asarray(st[self.sar].isel(time=t, **win).transpose("y", "x").values, np.float32)
        opt = np.asarray(
            st[self.optical].isel(**win).transpose("band", "y", "x").values, np.float32
        )
        valid = np.isfinite(raw) & np.isfinite(opt).all(axis=0)
        sar = torch.from_numpy(sar_unit(raw, self.sar, self._units[k])[None])
        optical = torch.from_numpy(np.nan_to_num(opt, nan=0.0, posinf=0.0, neginf=0.0))
        valid_t = torch.from_numpy(valid)
        if side != self.crop_size:
            size = (self.crop_size, self.crop_size)
            both = torch.nn.functional.interpolate(
                torch.cat([sar, optical])[None], size=size, mode="bilinear", align_corners=False
            )[0]
            sar, optical = both[:1], both[1:]
            valid_t = (
                torch.nn.functional.interpolate(
                    valid_t[None, None].float(), size=size, mode="nearest"
                )[0, 0]
                > 0.5
            )
        if self.sar_normalization is not None:
            sar = self.sar_normalization(sar)
        if self.optical_normalization is not None:
            optical = self.optical_normalization(optical)
        sar = torch.where(valid_t[None], sar, torch.zeros_like(sar))
        optical = torch.where(valid_t[None], optical, torch.zeros_like(optical))
        return {
            "image": sar.float(),
            "optical": optical.float(),
            "valid": valid_t,
            "window": torch.tensor([k, t, y0, x0, side], dtype=torch.int64),
        }


def check_sar_optical_stack(
    stack: Any, *, sar: str = "sigma0_db", optical: str = "optical", where: str = "stack"
) -> None:
    """Raise :class:`~workbench.errors.DataError` unless ``stack`` pairs SAR with one optical image.

    Needs ``sar`` with dims ``(time, y, x)`` and ``optical`` with dims ``(band, y, x)`` (no
    ``time``: the one optical image of the glacier) on the same grid.

    Examples
    --------
    >>> import xarray as xr
    >>> st = xr.Dataset({"sigma0_db": (("time", "y", "x"), np.zeros((1, 4, 4)))})
    >>> check_sar_optical_stack(st, where="a.zarr")
    Traceback (most recent call last):
    ...
    workbench.errors.DataError: a.zarr: variable 'optical' is missing (expected an optical image (band, y, x) beside the SAR stack; the stack has ['sigma0_db'])
    """
    for name, dims in ((sar, {"time", "y", "x"}), (optical, {"band", "y", "x"})):
        if name not in stack.data_vars:
            what = "an optical image (band, y, x)" if name == optical else "SAR images (time, y, x)"
            raise DataError(
                "is missing",
                path=where,
                variable=name,
                expected=f"{what} beside the SAR stack; the stack has "
                f"{sorted(map(str, stack.data_vars))}",
            )
        if set(stack[name].dims) != dims:
            raise DataError(
                f"has dims {tuple(stack[name].dims)}",
                path=where,
                variable=name,
                expected=f"dims {tuple(sorted(dims))} (one optical image per glacier)"
                if name == optical
                else f"dims {tuple(sorted(dims))}",
            )


def _sar_optical_normalizations(
    stacks: Sequence[Any], sar: str, optical: str, max_times: int = 8
) -> tuple[Normalization, Normalization]:
    """Mean/std of the SAR input (after :func:`sar_unit`) and of each optical band."""
    s = s2 = n = 0.0
    os_ = os2 = on = None
    for st in stacks:
        nt = int(st.sizes["time"])
        times = np.unique(np.linspace(0, nt - 1, min(max_times, nt)).round().astype(int))
        units = st[sar].attrs.get("units")
        for t in times:
            raw = np.asarray(st[sar].isel(time=int(t)).values, np.float32)
            v = sar_unit(raw, sar, units)[np.isfinite(raw)].astype(np.float64)
            s, s2, n = s + v.sum(), s2 + (v * v).sum(), n + v.size
        opt = np.asarray(st[optical].transpose("band", "y", "x").values, np.float64)
        opt = opt.reshape(opt.shape[0], -1)
        fin = np.isfinite(opt)
        vals = np.where(fin, opt, 0.0)
        add = (vals.sum(1), (vals * vals).sum(1), fin.sum(1).astype(np.float64))
        if os_ is None:
            os_, os2, on = add
        else:
            os_, os2, on = os_ + add[0], os2 + add[1], on + add[2]
    if n == 0 or on is None or (on == 0).any():
        raise DataError(
            "has no finite pixels to compute the normalisation from",
            variable=f"{sar}/{optical}",
            expected="finite SAR and optical values",
        )
    mean = s / n
    std = math.sqrt(max(s2 / n - mean * mean, 0.0))
    omean = os_ / on
    ostd = np.sqrt(np.maximum(os2 / on - omean * omean, 0.0))
    sar_norm = Normalization((mean,), (std if std > 1e-6 else 1.0,))
    opt_norm = Normalization(tuple(omean), tuple(np.where(ostd > 1e-6, ostd, 1.0)))
    return sar_norm, opt_norm


class SarOpticalDataModule(L.LightningDataModule):
    """Unlabelled SAR images paired with their glacier's optical image (SSL4SAR pretraining).

    Parameters
    ----------
    stacks
        ``None``: the demo world (``root`` written by ``workbench demo``, or simulated in
        memory from ``n_glaciers, years, size, pixel_size, world_seed``; each glacier has one
        14-band optical image). Otherwise scene stacks carrying ``sar`` and ``optical``: a
        folder (``*.zarr`` / ``*.nc``), a path, or a list of paths or ``xarray.Dataset``.
    val_glaciers
        Held-out glaciers (stacks) for the validation loss: a count (the last ones) or names
        (glacier names for the demo world, file stems for stacks).
    crop_size, min_scale
        See :class:`SarOpticalCrops` (SSL4SAR: 512 px, min scale 0.7).
    samples_per_image
        Random crops per SAR image per epoch.
    val_samples
        At most this many validation crops (one per image, spread evenly).
    sar, optical, bands
        Variable names; ``bands`` keeps only those optical ``band`` coordinates.
    batch_size, val_batch_size, num_workers, seed
        Loader options and the seed of the windows.

    The normalisations (SAR input and each optical band) come from the training glaciers only
    and are saved in Lightning checkpoints (:meth:`state_dict`), so a resumed run keeps them.

    Examples
    --------
    >>> dm = SarOpticalDataModule(n_glaciers=2, years=0.05, size=48, pixel_size=200.0,
    ...                           crop_size=32, batch_size=2)
    >>> dm.setup("fit")
    >>> batch = next(iter(dm.train_dataloader()))
    >>> tuple(batch["image"].shape), tuple(batch["optical"].shape), dm.optical_channels
    ((2, 1, 32, 32), (2, 14, 32, 32), 14)
    """

    def __init__(
        self,
        stacks: Sequence[Any] | str | os.PathLike[str] | None = None,
        *,
        root: str | os.PathLike[str] | None = None,
        n_glaciers: int = 3,
        years: float = 1.0,
        size: int = 128,
        pixel_size: float = 80.0,
        world_seed: int = 0,
        val_glaciers: int | Sequence[str] = 1,
        crop_size: int = 512,
        min_scale: float = 0.7,
        batch_size: int = 8,
        val_batch_size: int = 8,
        num_workers: int = 0,
        samples_per_image: int = 1,
        val_samples: int = 32,
        sar: str = "sigma0_db",
        optical: str = "optical",
        bands: Sequence[str] | None = None,
        seed: int = 0,
        pin_memory: bool | None = None,
    ) -> None:
        super().__init__()
        for key, value in (
            ("data.crop_size", crop_size),
            ("data.batch_size", batch_size),
            ("data.val_batch_size", val_batch_size),
            ("data.samples_per_image", samples_per_image),
            ("data.val_samples", val_samples),
        ):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"is {value!r}", variable=key, expected="an integer ≥ 1")
        self.source = stacks
        self.root = None if root is None else Path(root)
        self.world = dict(
            n_glaciers=n_glaciers,
            years=years,
            size=size,
            pixel_size=pixel_size,
            world_seed=world_seed,
        )
        self.val_glaciers = val_glaciers
        self.crop_size, self.min_scale = int(crop_size), float(min_scale)
        self.batch_size, self.val_batch_size = int(batch_size), int(val_batch_size)
        self.num_workers = int(num_workers)
        self.samples_per_image, self.val_samples = int(samples_per_image), int(val_samples)
        self.sar, self.optical = sar, optical
        self.bands = list(bands) if bands else None
        self.seed = int(seed)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.norm: Normalization | None = None
        self.optical_norm: Normalization | None = None
        self.optical_bands: list[str] = []
        self.train_dataset: SarOpticalCrops | None = None
        self.val_dataset: SarOpticalCrops | None = None
        self._restored: dict[str, Any] | None = None

    def stacks(self) -> tuple[list[str], list[Any]]:
        """Names and stacks of every glacier (demo world or the given stacks)."""
        if self.source is None:
            demo = DemoWorldDataModule(
                "zones", root=self.root, patch_size=self.crop_size, **self.world
            )
            stacks = demo.stacks()
            names = [str(s.attrs.get("glacier", f"glacier{k}")) for k, s in enumerate(stacks)]
            where = [str(self.root / "manifest.json") if self.root else n for n in names]
        else:
            src = self.source
            if isinstance(src, (str, os.PathLike)):
                folder = Path(src)
                if folder.is_dir() and folder.suffix != ".zarr":
                    src = sorted([*folder.glob("*.zarr"), *folder.glob("*.nc")])
                    if not src:
                        raise DataError(
                            "holds no *.zarr or *.nc stacks",
                            path=folder,
                            expected="a folder of scene stacks with an optical image",
                        )
                else:
                    src = [folder]
            src = list(src)
            stacks = [_open(s) for s in src]
            names = [
                _stack_name(s, ds, k) for k, (s, ds) in enumerate(zip(src, stacks, strict=False))
            ]
            where = [
                os.fspath(s) if isinstance(s, (str, os.PathLike)) else n
                for s, n in zip(src, names, strict=False)
            ]
        out = []
        for st, w in zip(stacks, where, strict=False):
            check_sar_optical_stack(st, sar=self.sar, optical=self.optical, where=w)
            if self.bands is not None:
                missing = [b for b in self.bands if b not in set(map(str, st["band"].values))]
                if missing:
                    raise DataError(
                        f"lacks bands {missing}",
                        path=w,
                        variable=self.optical,
                        expected=f"some of {list(map(str, st['band'].values))}",
                    )
                st = st.sel(band=self.bands)
            out.append(st)
        return names, out

    def setup(self, stage: str | None = None) -> None:
        """Split by glacier, compute (or restore) the normalisations, build the datasets."""
        if self.train_dataset is not None:
            return
        names, stacks = self.stacks()
        tr, va, _ = _pick_glaciers(names, self.val_glaciers, 0, "data")
        by = dict(zip(names, stacks, strict=False))
        train, val = [by[n] for n in tr], [by[n] for n in va]
        bands = [list(map(str, st["band"].values)) if "band" in st.coords else [] for st in stacks]
        if any(len(b) != len(bands[0]) for b in bands):
            raise DataError(
                f"optical images have {sorted({len(b) for b in bands})} bands",
                variable=self.optical,
                expected="the same bands for every glacier",
            )
        self.optical_bands = bands[0] or [str(i) for i in range(int(stacks[0].sizes["band"]))]
        if self._restored is not None:
            self.norm = Normalization.from_dict(self._restored["sar"])
            self.optical_norm = Normalization.from_dict(self._restored["optical"])
        else:
            self.norm, self.optical_norm = _sar_optical_normalizations(
                train, self.sar, self.optical
            )
        common = dict(
            crop_size=self.crop_size,
            min_scale=self.min_scale,
            seed=self.seed,
            sar=self.sar,
            optical=self.optical,
            sar_normalization=self.norm,
            optical_normalization=self.optical_norm,
        )
        self.train_dataset = SarOpticalCrops(
            train, samples_per_image=self.samples_per_image, mode="random", names=tr, **common
        )
        self.val_dataset = SarOpticalCrops(
            val, mode="fixed", max_items=self.val_samples, names=va, **common
        )

    @property
    def optical_channels(self) -> int:
        """Number of optical channels (call after :meth:`setup`)."""
        if not self.optical_bands:
            raise DataError(
                "is not set up yet",
                variable="datamodule",
                expected="setup() before optical_channels",
            )
        return len(self.optical_bands)

    def normalization_dict(self) -> dict[str, Any] | None:
        """The SAR input normalisation (stored with the pretrained encoder)."""
        return None if self.norm is None else self.norm.to_dict()

    def optical_normalization_dict(self) -> dict[str, Any] | None:
        """The per-band normalisation of the optical targets."""
        return None if self.optical_norm is None else self.optical_norm.to_dict()

    def set_epoch(self, epoch: int) -> None:
        """Fresh windows and order for ``epoch`` (called by the task at each epoch start)."""
        if self.train_dataset is not None:
            self.train_dataset.set_epoch(epoch)

    def _loader(self, ds: Dataset, batch_size: int, drop_last: bool = False) -> DataLoader:
        # no shuffle: SarOpticalCrops orders the items itself from (seed, epoch)
        return DataLoader(
            ds,
            batch_size=batch_size,
            shuffle=False,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            drop_last=drop_last,
            persistent_workers=False,
        )

    def train_dataloader(self) -> DataLoader:
        trainer = getattr(self, "trainer", None)
        self.set_epoch(trainer.current_epoch if trainer is not None else 0)
        n = len(self.train_dataset)
        return self._loader(self.train_dataset, self.batch_size, drop_last=n > self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_dataset, self.val_batch_size)

    def state_dict(self) -> dict[str, Any]:
        """The normalisations (restored on resume)."""
        if self.norm is None or self.optical_norm is None:
            return {}
        return {"sar": self.norm.to_dict(), "optical": self.optical_norm.to_dict()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (the statistics of the original run are kept)."""
        if not state_dict.get("sar"):
            return
        self._restored = {"sar": dict(state_dict["sar"]), "optical": dict(state_dict["optical"])}
        if self.train_dataset is not None:
            self.norm = Normalization.from_dict(self._restored["sar"])
            self.optical_norm = Normalization.from_dict(self._restored["optical"])
            for ds in (self.train_dataset, self.val_dataset):
                ds.sar_normalization, ds.optical_normalization = self.norm, self.optical_norm
