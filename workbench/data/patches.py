"""Patch datasets for training and tiled inference: CaFFe images and scene stacks.

Two datasets share one sampling scheme:

* ``mode="random"``: ``samples_per_image`` (``samples_per_scene``) random windows per source
  per epoch. Item ``i`` always comes from source ``i // samples_per_image`` and its window
  depends only on ``(seed, epoch, i)`` through ``numpy.random.default_rng([seed, epoch, i])``,
  so batches are identical whatever ``num_workers`` is, and reproducible across runs. Call
  :meth:`set_epoch` before each epoch for fresh windows (with ``persistent_workers=True`` the
  workers keep the epoch they were started with).
* ``mode="grid"``: a deterministic overlapping grid covering each source completely; the last
  window in each direction is flush with the border (:func:`grid_positions`).

Windows that reach past the border (images smaller than the patch, context windows) are
padded: images with 0, zone classes with 0 (NA), fronts with False, stack inputs with 0, and a
boolean ``valid`` mask says which pixels are real. With a :class:`Normalization`, padding and
nodata are 0 *after* normalisation (i.e. the channel mean).

Every item is a dict of tensors, ints and strings, so the default DataLoader collate works.

Examples
--------
>>> samples = [{"image": torch.rand(1, 40, 50), "zones": torch.zeros(40, 50, dtype=torch.long)}]
>>> ds = CaffePatchDataset(samples, patch_size=32, mode="grid", overlap=0.5)
>>> len(ds), tuple(ds[0]["image"].shape)
(6, (1, 32, 32))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, overload

import numpy as np
import torch
from torch.utils.data import Dataset

from workbench.errors import ConfigError, DataError, StackValidationError

__all__ = [
    "Normalization",
    "CaffePatchDataset",
    "StackPatchDataset",
    "grid_positions",
    "grid_starts",
    "crop_padded",
]


# --------------------------------------------------------------------------- geometry


def grid_starts(length: int, patch: int, overlap: float = 0.5) -> list[int]:
    """Start offsets of overlapping windows covering ``0..length`` along one axis.

    The stride is ``max(1, round(patch · (1 − overlap)))``; the last window is flush with the
    end. When ``length <= patch`` there is one window at 0 (to be padded).

    Examples
    --------
    >>> grid_starts(10, 4, 0.5)
    [0, 2, 4, 6]
    >>> grid_starts(11, 4, 0.5)
    [0, 2, 4, 6, 7]
    >>> grid_starts(3, 4)
    [0]
    """
    if patch < 1:
        raise ConfigError(
            f"patch size {patch} is not positive", variable="patch_size", expected="≥ 1"
        )
    if not 0.0 <= overlap < 1.0:
        raise ConfigError(
            f"overlap {overlap} is out of range", variable="overlap", expected="0 <= overlap < 1"
        )
    if length <= patch:
        return [0]
    stride = max(1, int(round(patch * (1.0 - overlap))))
    starts = list(range(0, length - patch + 1, stride))
    if starts[-1] != length - patch:
        starts.append(length - patch)
    return starts


def grid_positions(
    height: int, width: int, patch: int, overlap: float = 0.5
) -> list[tuple[int, int]]:
    """Top-left corners ``(y0, x0)`` of a grid of ``patch``² windows covering an image.

    Examples
    --------
    >>> grid_positions(6, 10, 4, 0.5)
    [(0, 0), (0, 2), (0, 4), (0, 6), (2, 0), (2, 2), (2, 4), (2, 6)]
    """
    return [
        (y, x)
        for y in grid_starts(height, patch, overlap)
        for x in grid_starts(width, patch, overlap)
    ]


def _window(
    height: int, width: int, y0: int, x0: int, h: int, w: int
) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
    """(source slices, destination slices) of a window clipped to the image, or None."""
    sy0, sy1 = max(y0, 0), min(y0 + h, height)
    sx0, sx1 = max(x0, 0), min(x0 + w, width)
    if sy1 <= sy0 or sx1 <= sx0:
        return None
    return (
        (slice(sy0, sy1), slice(sx0, sx1)),
        (slice(sy0 - y0, sy1 - y0), slice(sx0 - x0, sx1 - x0)),
    )


def crop_padded(arr: np.ndarray, y0: int, x0: int, h: int, w: int, fill: Any = 0) -> np.ndarray:
    """Crop ``arr[..., y0:y0+h, x0:x0+w]``, padding with ``fill`` where it leaves the array.

    Examples
    --------
    >>> crop_padded(np.arange(9).reshape(3, 3), -1, 1, 3, 3, fill=-1)
    array([[-1, -1, -1],
           [ 1,  2, -1],
           [ 4,  5, -1]])
    """
    arr = np.asarray(arr)
    out = np.full(arr.shape[:-2] + (h, w), fill, dtype=arr.dtype)
    win = _window(arr.shape[-2], arr.shape[-1], y0, x0, h, w)
    if win is not None:
        (sy, sx), (dy, dx) = win
        out[..., dy, dx] = arr[..., sy, sx]
    return out


def _valid_window(height: int, width: int, y0: int, x0: int, h: int, w: int) -> np.ndarray:
    return crop_padded(np.ones((height, width), bool), y0, x0, h, w, fill=False)


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


# --------------------------------------------------------------------------- normalisation


def _standardise_window(x: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """``x`` (float32, channels on axis −3) standardised per window and channel over its valid
    pixels (finite, not exactly 0); invalid pixels 0; a constant channel is only centred."""
    if isinstance(x, torch.Tensor):
        valid = torch.isfinite(x) & (x != 0)
        n = valid.sum(dim=(-2, -1), keepdim=True).clamp_min(1)
        mean = torch.where(valid, x, 0.0).sum(dim=(-2, -1), keepdim=True) / n
        centred = torch.where(valid, x - mean, 0.0)
        std = (centred.square().sum(dim=(-2, -1), keepdim=True) / n).sqrt()
        return centred / torch.where(std > 1e-6, std, torch.ones_like(std))
    valid = np.isfinite(x) & (x != 0)
    n = np.maximum(valid.sum(axis=(-2, -1), keepdims=True), 1)
    mean = np.where(valid, x, 0).sum(axis=(-2, -1), keepdims=True) / n
    centred = np.where(valid, x - mean, 0)  # type: ignore[assignment]  # the NumPy branch
    std = np.sqrt(np.square(centred).sum(axis=(-2, -1), keepdims=True) / n)
    return (centred / np.where(std > 1e-6, std, 1)).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Normalization:
    """Per-channel ``(x − mean) / std``; channels are on axis −3 ((C,H,W), (T,C,H,W), (B,…)).

    Stored in checkpoints as :meth:`to_dict` (plain lists of floats, safe for
    ``torch.load(weights_only=True)``).

    Parameters
    ----------
    mean, std
        One value per channel; every ``std`` must be > 0.
    per_window
        Standardise every input window (each image, patch or prediction window, each channel)
        by the mean and standard deviation of its OWN valid pixels instead (finite and not
        exactly 0, the no-data value of 8-bit SAR products such as CaFFe's); invalid pixels
        become 0. The model then never sees a sensor's or a glacier's brightness level.
        ``mean``/``std`` (the training set's) are kept for :meth:`inverse`, which
        augmentations in physical units use.

    Examples
    --------
    >>> norm = Normalization(mean=(0.5,), std=(0.25,))
    >>> norm(torch.ones(1, 2, 2))[0, 0, 0].item()
    2.0
    >>> Normalization.from_dict(norm.to_dict()) == norm
    True
    >>> window = Normalization(mean=(0.5,), std=(0.25,), per_window=True)
    >>> window(torch.tensor([[[0.0, 2.0], [4.0, 6.0]]]))[0].tolist()   # 0: no data
    [[0.0, -1.224744...], [0.0, 1.224744...]]
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    per_window: bool = False

    def __repr__(self) -> str:
        window = ", per_window=True" if self.per_window else ""
        return f"Normalization(mean={self.mean}, std={self.std}{window})"

    def __post_init__(self) -> None:
        mean = tuple(float(v) for v in np.atleast_1d(np.asarray(self.mean, dtype=float)))
        std = tuple(float(v) for v in np.atleast_1d(np.asarray(self.std, dtype=float)))
        if len(mean) != len(std) or not mean:
            raise ConfigError(
                f"has {len(mean)} means and {len(std)} stds",
                variable="normalization",
                expected="one mean and one std per channel",
            )
        if not all(math.isfinite(v) for v in mean + std) or min(std) <= 0:
            raise ConfigError(
                f"has mean {mean}, std {std}",
                variable="normalization",
                expected="finite values and std > 0",
            )
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @property
    def channels(self) -> int:
        """Number of channels."""
        return len(self.mean)

    def _params(self, x: Any) -> tuple[Any, Any]:
        if x.ndim < 3 or x.shape[-3] != self.channels:
            raise DataError(
                f"input has shape {tuple(x.shape)}",
                variable="normalization",
                expected=f"{self.channels} channel(s) on axis -3",
            )
        shape = (self.channels, 1, 1)
        if isinstance(x, torch.Tensor):
            return (
                torch.tensor(self.mean, dtype=torch.float32, device=x.device).reshape(shape),
                torch.tensor(self.std, dtype=torch.float32, device=x.device).reshape(shape),
            )
        return (
            np.asarray(self.mean, np.float32).reshape(shape),
            np.asarray(self.std, np.float32).reshape(shape),
        )

    @overload
    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...
    @overload
    def __call__(self, x: np.ndarray) -> np.ndarray: ...
    def __call__(self, x: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """Normalise (float32 result of the same kind as ``x``)."""
        mean, std = self._params(x)
        x = x.float() if isinstance(x, torch.Tensor) else np.asarray(x, np.float32)
        if self.per_window:
            return _standardise_window(x)
        return (x - mean) / std

    def inverse(self, x: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """Undo :meth:`__call__`."""
        mean, std = self._params(x)
        x = x.float() if isinstance(x, torch.Tensor) else np.asarray(x, np.float32)
        return x * std + mean

    def to_dict(self) -> dict[str, Any]:
        """``{"mean": [...], "std": [...]}`` (and ``"per_window": True`` where set)."""
        d: dict[str, Any] = {"mean": list(self.mean), "std": list(self.std)}
        if self.per_window:
            d["per_window"] = True
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Sequence[float]]) -> Normalization:
        """Rebuild from :meth:`to_dict`."""
        try:
            return cls(
                mean=tuple(d["mean"]),
                std=tuple(d["std"]),
                per_window=bool(d.get("per_window", False)),
            )
        except KeyError as exc:
            raise ConfigError(
                f"lacks {exc.args[0]!r}",
                variable="normalization",
                expected="a dict with 'mean' and 'std'",
            ) from None

    @classmethod
    def _from_sums(cls, s: np.ndarray, s2: np.ndarray, n: np.ndarray) -> Normalization:
        if (n == 0).any():
            raise DataError(
                f"channels {np.flatnonzero(n == 0).tolist()} have no valid pixel",
                variable="normalization",
                expected="some finite, valid pixels per channel",
            )
        mean = s / n
        var = np.maximum(s2 / n - mean**2, 0.0)
        std = np.sqrt(var)
        std[std < 1e-12] = 1.0  # constant channels: leave their scale alone
        return cls(mean=tuple(mean), std=tuple(std))

    @classmethod
    def from_dataset(
        cls, dataset: Sequence[Any], *, key: str | None = None, max_items: int = 64, seed: int = 0
    ) -> Normalization:
        """Mean and std per channel over finite (and ``valid``) pixels of up to ``max_items`` items.

        Parameters
        ----------
        dataset
            Anything indexable whose items are arrays/tensors with channels on axis −3, or
            dicts holding one under ``key`` (default ``"image"``, else ``"x"``) and
            optionally a ``valid`` (H, W) mask.
        max_items
            Items drawn at random (seeded) when the dataset is larger.

        Examples
        --------
        >>> data = [torch.full((1, 4, 4), v) for v in (0.0, 2.0)]
        >>> Normalization.from_dataset(data)
        Normalization(mean=(1.0,), std=(1.0,))
        """
        n_items = len(dataset)
        if n_items == 0:
            raise DataError(
                "the dataset is empty", variable="normalization", expected="at least one item"
            )
        idx = np.arange(n_items)
        if n_items > max_items:
            idx = np.sort(np.random.default_rng(seed).choice(n_items, max_items, replace=False))
        s = s2 = n = None
        for i in idx:
            item = dataset[int(i)]
            valid = None
            if isinstance(item, Mapping):
                k = key or ("image" if "image" in item else "x")
                if k not in item:
                    raise DataError(
                        f"item {int(i)} has no {k!r}",
                        variable=k,
                        expected="dict items with the input under `key`",
                    )
                valid = item.get("valid")
                item = item[k]
            x = _to_numpy(item).astype(np.float64)
            if x.ndim == 2:
                x = x[None]
            c = x.shape[-3]
            xc = np.moveaxis(x, -3, 0).reshape(c, -1, *x.shape[-2:])  # (C, rest, H, W)
            ok = np.isfinite(xc)
            if valid is not None:
                ok &= _to_numpy(valid).astype(bool)[None, None]
            xc = np.where(ok, xc, 0.0)
            ss = xc.sum(axis=(1, 2, 3))
            ss2 = (xc**2).sum(axis=(1, 2, 3))
            nn = ok.sum(axis=(1, 2, 3))
            if s is None:
                s, s2, n = ss, ss2, nn
            elif len(ss) != len(s):
                raise DataError(
                    f"item {int(i)} has {len(ss)} channels, earlier items {len(s)}",
                    variable="normalization",
                    expected="the same channels in every item",
                )
            else:
                s, s2, n = s + ss, s2 + ss2, n + nn
        return cls._from_sums(s, s2, n)  # type: ignore[arg-type]  # set by the first item

    @classmethod
    def from_stack(
        cls,
        stack: Any,
        variables: Sequence[str] = ("sigma0_db", "coherence"),
        *,
        max_times: int = 8,
    ) -> Normalization:
        """Statistics per channel of ``variables`` of a scene stack (or a list of stacks).

        At most ``max_times`` evenly spaced dates per stack are read; NaN is ignored. Bands
        of a variable with a ``band`` dim become consecutive channels, as in
        :class:`StackPatchDataset`.

        Examples
        --------
        >>> import xarray as xr
        >>> st = xr.Dataset({"a": (("time", "y", "x"), np.ones((2, 3, 3)))})
        >>> Normalization.from_stack(st, ["a"])
        Normalization(mean=(1.0,), std=(1.0,))
        """
        stacks = list(stack) if isinstance(stack, Sequence) else [stack]
        s = s2 = n = None
        for st in stacks:
            layout = _channel_layout(st, variables)
            sums = []
            for name, has_time, _bands in layout:
                da = _canonical(st[name])
                if has_time:
                    nt = da.sizes["time"]
                    da = da.isel(
                        time=np.unique(
                            np.linspace(0, nt - 1, min(nt, max_times)).round().astype(int)
                        )
                    )
                vals = np.asarray(da.values, dtype=np.float64)
                if "band" in da.dims:
                    vals = np.moveaxis(vals, da.dims.index("band"), 0)
                else:
                    vals = vals[None]
                vals = vals.reshape(vals.shape[0], -1)
                ok = np.isfinite(vals)
                v = np.where(ok, vals, 0.0)
                sums.append((v.sum(1), (v**2).sum(1), ok.sum(1)))
            ss, ss2, nn = (np.concatenate(parts) for parts in zip(*sums, strict=True))
            if s is None:
                s, s2, n = ss, ss2, nn
            else:
                s, s2, n = s + ss, s2 + ss2, n + nn
        return cls._from_sums(s, s2, n)  # type: ignore[arg-type]  # set by the first item


# --------------------------------------------------------------------------- shared sampling


class _PatchSampling:
    """Random/grid window bookkeeping shared by the patch datasets."""

    def _init_sampling(
        self, patch_size: int, mode: str, overlap: float, per_source: int, seed: int
    ) -> None:
        if mode not in ("random", "grid"):
            raise ConfigError(
                f"unknown mode {mode!r}", variable="mode", expected="'random' or 'grid'"
            )
        if int(patch_size) < 1:
            raise ConfigError(
                f"patch_size {patch_size} is not positive", variable="patch_size", expected="≥ 1"
            )
        if int(per_source) < 1:
            raise ConfigError(
                f"{per_source} samples per source", variable="samples_per_image", expected="≥ 1"
            )
        if not 0.0 <= overlap < 1.0:
            raise ConfigError(
                f"overlap {overlap} is out of range",
                variable="overlap",
                expected="0 <= overlap < 1",
            )
        self.patch_size = int(patch_size)
        self.mode = mode
        self.overlap = float(overlap)
        self.per_source = int(per_source)
        self.seed = int(seed)
        self.epoch = 0
        self._grid: list[tuple[int, int, int]] = []

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random windows items return (no effect in grid mode)."""
        self.epoch = int(epoch)

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def _random_yx(self, rng: np.random.Generator, height: int, width: int) -> tuple[int, int]:
        p = self.patch_size
        y0 = int(rng.integers(0, max(height - p, 0) + 1))
        x0 = int(rng.integers(0, max(width - p, 0) + 1))
        return y0, x0

    def _build_grid(self, sizes: Sequence[tuple[int, int]]) -> None:
        self._grid = [
            (src, y, x)
            for src, (h, w) in enumerate(sizes)
            for y, x in grid_positions(h, w, self.patch_size, self.overlap)
        ]

    def _len(self, n_sources: int) -> int:
        return len(self._grid) if self.mode == "grid" else n_sources * self.per_source

    def _check_index(self, index: int) -> int:
        n = len(self)  # type: ignore[arg-type]
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for {n} patches")
        return index


# --------------------------------------------------------------------------- CaFFe patches


class CaffePatchDataset(_PatchSampling, Dataset):
    """Square patches of CaFFe samples, optionally with a larger context window around each.

    Items (``P = patch_size``, ``K = context_size``):

    ``image`` float32 (C, P, P); ``zones`` int64 (P, P); ``front`` bool (P, P) when the source
    has fronts; ``valid`` bool (P, P); ``position`` int64 [y0, x0] of the patch in its image;
    ``source`` the source item index; ``index``; ``stem`` when the source has ``meta``.
    With ``context_size``: also ``context_image`` (C, K, K), ``context_zones``,
    ``context_front``, ``context_valid`` and ``offset`` int64 [oy, ox], the target's corner
    inside the context, so ``context_x[..., oy:oy+P, ox:ox+P] == x`` for every array ``x``.
    The context is centred on the target (``oy = ox = (K − P) // 2``) and padded at borders.

    Parameters
    ----------
    base
        A :class:`~workbench.data.caffe.CaffeDataset` or any sequence of sample dicts with
        ``image`` ((C,)H,W) and optional ``zones``, ``front``, ``valid``, ``meta``.
    patch_size
        Target patch side in pixels.
    context_size
        Context window side (≥ ``patch_size``), or None for plain patches.
    mode
        ``"random"`` or ``"grid"`` (see the module docstring).
    overlap
        Fractional overlap of neighbouring grid windows.
    samples_per_image
        Random windows per image per epoch.
    seed
        Base seed; windows depend on (seed, epoch, index) only.
    normalization
        Applied to ``image`` and ``context_image``; padding stays 0 after it.
    transforms
        Callable applied to each item dict last.

    Examples
    --------
    >>> base = [{"image": torch.rand(1, 64, 64), "zones": torch.randint(0, 4, (64, 64))}]
    >>> ds = CaffePatchDataset(base, 16, context_size=32, samples_per_image=4, seed=1)
    >>> s = ds[0]
    >>> oy, ox = s["offset"].tolist()
    >>> bool((s["context_zones"][oy:oy + 16, ox:ox + 16] == s["zones"]).all())
    True
    """

    def __init__(
        self,
        base: Sequence[Mapping[str, Any]],
        patch_size: int = 256,
        *,
        context_size: int | None = None,
        mode: str = "random",
        overlap: float = 0.5,
        samples_per_image: int = 1,
        seed: int = 0,
        normalization: Normalization | None = None,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self._init_sampling(patch_size, mode, overlap, samples_per_image, seed)
        if context_size is not None and int(context_size) < self.patch_size:
            raise ConfigError(
                f"context_size {context_size} < patch_size {patch_size}",
                variable="context_size",
                expected="context_size ≥ patch_size",
            )
        self.base = base
        self.context_size = None if context_size is None else int(context_size)
        self.normalization = normalization
        self.transforms = transforms
        if len(base) == 0:
            raise DataError("the base dataset is empty", expected="at least one image")
        if mode == "grid":
            self._build_grid([self._size(i) for i in range(len(base))])

    def _size(self, src: int) -> tuple[int, int]:
        # PNG headers are enough unless the base transforms may change the size
        if hasattr(self.base, "image_size") and getattr(self.base, "transforms", None) is None:
            return tuple(self.base.image_size(src))  # type: ignore[return-value]
        return tuple(_to_numpy(self.base[src]["image"]).shape[-2:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return self._len(len(self.base))

    @property
    def offset(self) -> int:
        """Corner of the target inside the context (0 without context)."""
        return 0 if self.context_size is None else (self.context_size - self.patch_size) // 2

    def position(self, index: int) -> tuple[int, int, int]:
        """``(source, y0, x0)`` of item ``index`` (for random mode this may read the image size)."""
        index = self._check_index(index)
        if self.mode == "grid":
            return self._grid[index]
        src = index // self.per_source
        return (src, *self._random_yx(self._rng(index), *self._size(src)))

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = self._check_index(index)
        if self.mode == "grid":
            src, y0, x0 = self._grid[index]
            sample = self.base[src]
        else:
            src = index // self.per_source
            sample = self.base[src]
        image = _to_numpy(sample["image"]).astype(np.float32, copy=False)
        if image.ndim == 2:
            image = image[None]
        height, width = image.shape[-2:]
        if self.mode == "random":
            y0, x0 = self._random_yx(self._rng(index), height, width)
        arrays: dict[str, tuple[np.ndarray, Any]] = {"image": (image, 0.0)}
        if sample.get("zones") is not None:
            arrays["zones"] = (_to_numpy(sample["zones"]).astype(np.int64, copy=False), 0)
        if sample.get("front") is not None:
            arrays["front"] = (_to_numpy(sample["front"]).astype(bool, copy=False), False)
        ok = np.isfinite(image).all(axis=0)
        if sample.get("valid") is not None:
            ok &= _to_numpy(sample["valid"]).astype(bool)
        for name, (arr, _) in arrays.items():
            if arr.shape[-2:] != (height, width):
                raise DataError(
                    f"{name} has shape {arr.shape} but the image has {image.shape}",
                    variable=name,
                    expected="arrays of the image's height and width",
                )
        arrays["valid"] = (ok, False)  # type: ignore[assignment]

        out: dict[str, Any] = {}
        p = self.patch_size
        windows = [("", y0, x0, p)]
        if self.context_size is not None:
            off = self.offset
            windows.append(("context_", y0 - off, x0 - off, self.context_size))
        for prefix, wy, wx, size in windows:
            crops = {
                name: crop_padded(arr, wy, wx, size, size, fill)
                for name, (arr, fill) in arrays.items()
            }
            img = crops["image"]
            if self.normalization is not None:
                img = self.normalization(img)
            img = np.where(crops["valid"][None], img, np.float32(0.0)).astype(np.float32)
            out[prefix + "image"] = torch.from_numpy(img)
            for name in ("zones", "front"):
                if name in crops:
                    out[prefix + name] = torch.from_numpy(crops[name])
            out[prefix + "valid"] = torch.from_numpy(crops["valid"])
        if self.context_size is not None:
            out["offset"] = torch.tensor([self.offset, self.offset], dtype=torch.int64)
        out["position"] = torch.tensor([y0, x0], dtype=torch.int64)
        out["source"] = int(src)
        out["index"] = int(index)
        meta = sample.get("meta")
        if meta is not None and hasattr(meta, "stem"):
            out["stem"] = meta.stem
        if self.transforms is not None:
            out = self.transforms(out)
        return out


# --------------------------------------------------------------------------- stack patches


def _canonical(da: Any) -> Any:
    """Transpose a variable to (time?, band?, y, x)."""
    order = [d for d in ("time", "band", "y", "x") if d in da.dims]
    return da.transpose(*order)


def _channel_layout(stack: Any, variables: Sequence[str]) -> list[tuple[str, bool, int]]:
    """[(variable, has_time, n_channels)] after checking the variables exist and have y, x."""
    import xarray as xr

    if not isinstance(stack, xr.Dataset):
        raise StackValidationError(
            f"is a {type(stack).__name__}",
            variable="stack",
            expected="an xarray.Dataset with dims (time, y, x)",
        )
    layout = []
    for name in variables:
        if name not in stack.data_vars:
            raise StackValidationError(
                "is missing from the stack",
                variable=name,
                expected=f"one of {sorted(map(str, stack.data_vars))} "
                "(or drop it from `variables`)",
            )
        dims = set(stack[name].dims)
        if not {"y", "x"} <= dims or not dims <= {"time", "band", "y", "x"}:
            raise StackValidationError(
                f"has dims {stack[name].dims}",
                variable=name,
                expected="(time, y, x), (time, band, y, x), (y, x) or (band, y, x)",
            )
        layout.append((name, "time" in dims, int(stack.sizes["band"]) if "band" in dims else 1))
    return layout


class StackPatchDataset(_PatchSampling, Dataset):
    """Space-time patches ``x`` (T, C, H, W) and outline labels ``y`` from scene stacks.

    Items:

    ``x`` float32 (T, C, P, P): ``variables`` stacked on C in the given order (a ``band`` dim
    becomes consecutive channels; variables without ``time`` are repeated over T), NaN and
    padding replaced by 0 (after normalisation);
    ``y`` int64 (P, P): ``label`` at the LAST date of the window (or the (y, x) label);
    ``valid`` bool (P, P): inside the scene, label not NaN, and at least one finite input;
    ``position`` int64 [y0, x0]; ``time_start`` index of the first date; ``source`` the stack
    index; ``index``.

    Only the window is read (``isel`` then ``.values``), so Dask/Zarr-backed stacks load
    lazily.

    Parameters
    ----------
    stack
        One ``xarray.Dataset`` (dims (time, y, x)) or a sequence of them (tiles) with the same
        variables and channel count.
    patch_size
        Patch side in pixels.
    variables
        Input variables; a missing one raises :class:`StackValidationError` naming it.
    label
        Label variable ((time, y, x) or (y, x)), or None for unlabelled data.
    time_steps
        Dates per window; None = all. Random mode draws a random contiguous run; grid mode
        uses the last ``time_steps`` dates.
    mode, overlap, seed
        As in :class:`CaffePatchDataset`.
    samples_per_scene
        Random windows per stack per epoch.
    normalization
        Per-channel :class:`Normalization` over C.
    transforms
        Callable applied to each item dict last.

    Examples
    --------
    >>> import xarray as xr
    >>> st = xr.Dataset({"sigma0_db": (("time", "y", "x"), np.zeros((5, 20, 20), np.float32)),
    ...                  "outline": (("y", "x"), np.ones((20, 20)))})
    >>> ds = StackPatchDataset(st, 8, variables=["sigma0_db"], time_steps=3, mode="grid")
    >>> tuple(ds[0]["x"].shape), ds[0]["time_start"]
    ((3, 1, 8, 8), 2)
    """

    def __init__(
        self,
        stack: Any,
        patch_size: int = 384,
        *,
        variables: Sequence[str] = ("sigma0_db", "coherence"),
        label: str | None = "outline",
        time_steps: int | None = None,
        mode: str = "random",
        overlap: float = 0.5,
        samples_per_scene: int = 1,
        seed: int = 0,
        normalization: Normalization | None = None,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self._init_sampling(patch_size, mode, overlap, samples_per_scene, seed)
        self.stacks = list(stack) if isinstance(stack, Sequence) else [stack]
        if not self.stacks:
            raise DataError(
                "no stacks given", variable="stack", expected="at least one xarray.Dataset"
            )
        self.variables = tuple(variables)
        if not self.variables:
            raise ConfigError(
                "no input variables", variable="variables", expected="at least one name"
            )
        self.label = label
        self.normalization = normalization
        self.transforms = transforms
        self._layouts = [_channel_layout(st, self.variables) for st in self.stacks]
        self.channels = sum(n for _, _, n in self._layouts[0])
        self._ntime: list[int] = []
        for k, (st, layout) in enumerate(zip(self.stacks, self._layouts, strict=True)):
            c = sum(n for _, _, n in layout)
            if c != self.channels:
                raise StackValidationError(
                    f"stack {k} has {c} channels, stack 0 has {self.channels}",
                    variable="band",
                    expected="the same bands in every stack",
                )
            if label is not None:
                if label not in st.data_vars:
                    raise StackValidationError(
                        "is missing from the stack",
                        variable=label,
                        expected=f"a label among {sorted(map(str, st.data_vars))}",
                    )
                if set(st[label].dims) not in ({"time", "y", "x"}, {"y", "x"}):
                    raise StackValidationError(
                        f"has dims {st[label].dims}",
                        variable=label,
                        expected="(time, y, x) or (y, x)",
                    )
            nt = int(st.sizes["time"]) if "time" in st.dims else 1
            if any(has_time for _, has_time, _ in layout) and nt < 1:
                raise StackValidationError("has no dates", variable="time", expected="≥ 1 date")
            self._ntime.append(nt)
        if time_steps is not None:
            if int(time_steps) < 1:
                raise ConfigError(
                    f"time_steps {time_steps} is not positive",
                    variable="time_steps",
                    expected="≥ 1 or None",
                )
            short = [(k, n) for k, n in enumerate(self._ntime) if n < int(time_steps)]
            if short:
                k, n = short[0]
                raise StackValidationError(
                    f"stack {k} has {n} dates, fewer than time_steps={time_steps}",
                    variable="time",
                    expected=f"≥ {time_steps} dates",
                )
        self.time_steps = None if time_steps is None else int(time_steps)
        if normalization is not None and normalization.channels != self.channels:
            raise ConfigError(
                f"normalization has {normalization.channels} channels, inputs have {self.channels}",
                variable="normalization",
                expected=f"{self.channels} channels ({', '.join(self.variables)})",
            )
        if mode == "grid":
            self._build_grid([(int(st.sizes["y"]), int(st.sizes["x"])) for st in self.stacks])

    def __len__(self) -> int:
        return self._len(len(self.stacks))

    def _steps(self, src: int) -> int:
        return self.time_steps if self.time_steps is not None else self._ntime[src]

    def position(self, index: int) -> tuple[int, int, int, int]:
        """``(source, time_start, y0, x0)`` of item ``index`` without reading pixels."""
        index = self._check_index(index)
        if self.mode == "grid":
            src, y0, x0 = self._grid[index]
            return src, self._ntime[src] - self._steps(src), y0, x0
        src = index // self.per_source
        rng = self._rng(index)
        t0 = int(rng.integers(0, self._ntime[src] - self._steps(src) + 1))
        st = self.stacks[src]
        y0, x0 = self._random_yx(rng, int(st.sizes["y"]), int(st.sizes["x"]))
        return src, t0, y0, x0

    def __getitem__(self, index: int) -> dict[str, Any]:
        src, t0, y0, x0 = self.position(index)
        index = self._check_index(index)
        st = self.stacks[src]
        p, steps = self.patch_size, self._steps(src)
        height, width = int(st.sizes["y"]), int(st.sizes["x"])
        win = _window(height, width, y0, x0, p, p)
        inside = _valid_window(height, width, y0, x0, p, p)
        x = np.full((steps, self.channels, p, p), np.nan, np.float32)
        c = 0
        for name, has_time, nch in self._layouts[src]:
            if win is not None:
                (sy, sx), (dy, dx) = win
                da = _canonical(st[name])
                sel: dict[str, Any] = {"y": sy, "x": sx}
                if has_time:
                    sel["time"] = slice(t0, t0 + steps)
                vals = np.asarray(da.isel(sel).values, dtype=np.float32)
                if not has_time:
                    vals = np.broadcast_to(vals, (steps, *vals.shape))
                vals = vals.reshape(steps, nch, *vals.shape[-2:])
                x[:, c : c + nch, dy, dx] = vals
            c += nch
        finite = np.isfinite(x)
        valid = inside & finite.any(axis=(0, 1))
        if self.normalization is not None:
            x = self.normalization(x)
        x = np.where(finite, x, np.float32(0.0)).astype(np.float32)
        out: dict[str, Any] = {"x": torch.from_numpy(x)}
        if self.label is not None:
            y = np.full((p, p), np.nan, np.float64)
            if win is not None:
                (sy, sx), (dy, dx) = win
                da = st[self.label].transpose(
                    *[d for d in ("time", "y", "x") if d in st[self.label].dims]
                )
                sel = {"y": sy, "x": sx}
                if "time" in da.dims:
                    sel["time"] = t0 + steps - 1
                y[dy, dx] = np.asarray(da.isel(sel).values, dtype=np.float64)
            label_ok = np.isfinite(y)
            valid &= label_ok
            out["y"] = torch.from_numpy(np.where(label_ok, y, 0).astype(np.int64))
        out["valid"] = torch.from_numpy(valid)
        out["position"] = torch.tensor([y0, x0], dtype=torch.int64)
        out["time_start"] = int(t0)
        out["source"] = int(src)
        out["index"] = int(index)
        if self.transforms is not None:
            out = self.transforms(out)
        return out
