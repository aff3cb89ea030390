"""SAR crops paired with their glacier's optical image, for SSL4SAR pretraining."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from workbench.data.patches import Normalization
from workbench.errors import ConfigError, DataError
from workbench.training.datamodules.base import _pick_glaciers
from workbench.training.datamodules.demo import DemoWorldDataModule
from workbench.training.datamodules.stacks import _open, _stack_name

__all__ = ["SarOpticalCrops", "SarOpticalDataModule", "check_sar_optical_stack", "sar_unit"]

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
