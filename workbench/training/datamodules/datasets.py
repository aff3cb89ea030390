"""Evaluation datasets of the data modules (whole images, stack frames) and batch helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from workbench.data.caffe import (
    season_of,
)
from workbench.data.patches import CaffePatchDataset, Normalization, StackPatchDataset
from workbench.errors import DataError

__all__ = ["CAFFE8_VARIABLE", "StackZoneFrames", "ZoneImageDataset", "add_slope", "collate_eval"]

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
