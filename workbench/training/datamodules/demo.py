"""The data module of the synthetic demo world, and the resampling of finer glaciers to its grid."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.errors import ConfigError, DataError
from workbench.training.datamodules.base import _pick_glaciers, _WorkbenchDataModule
from workbench.training.datamodules.datasets import CAFFE8_VARIABLE, StackZoneFrames

__all__ = ["DemoWorldDataModule", "resample_stack"]

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
