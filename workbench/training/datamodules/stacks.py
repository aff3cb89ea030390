"""The data module of scene stacks (one per tile or glacier), split by tile."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import ConfigError, DataError
from workbench.training.datamodules.base import _pick_glaciers, _WorkbenchDataModule

__all__ = ["StackDataModule"]

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
