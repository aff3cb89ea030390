"""The machinery every training data module shares: splits, normalisation, loaders, device-side augmentation."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from workbench.data.patches import CaffePatchDataset, Normalization, StackPatchDataset
from workbench.data.sampler import EpochShuffleSampler
from workbench.errors import ConfigError, DataError
from workbench.training.augment import Augmenter
from workbench.training.datamodules.datasets import (
    ZoneImageDataset,
    _channel_slices,
    _meta_dict,
    _StackItems,
    _ZonePatches,
    add_slope,
    collate_eval,
)

__all__ = []

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
