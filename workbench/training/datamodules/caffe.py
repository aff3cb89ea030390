"""The data module of a CaFFe-layout folder."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import Subset

from workbench.data.caffe import (
    CaffeDataset,
    split_by_glacier,
    train_val_split,
)
from workbench.errors import ConfigError, DataError
from workbench.training.datamodules.base import _WorkbenchDataModule

__all__ = ["CaffeDataModule"]

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
    >>> import numpy as np
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
