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
One file each in this package; every name is importable from here.

:class:`CaffeDataModule` (``caffe.py``; the shared machinery is ``base.py``, evaluation datasets
    ``datasets.py``)
    A CaFFe-layout folder; validation = a seeded 10 % of the training images (CaFFe), or
    whole glaciers; test = the ``test`` split if the folder has one, or test glaciers.
:class:`StackDataModule` (``stacks.py``)
    Scene stacks (Zarr, NetCDF, GeoTIFF or in-memory datasets), one per tile or glacier,
    split by tile: seeded fractions (60/20/20 as in the Svalbard study) or named tiles.
    Time series (``B × T × C × H × W``) or, with ``sources``, multi-source dict inputs.
:class:`DemoWorldDataModule` (``demo.py``, with :func:`resample_stack`)
    The synthetic demo world (a folder written by ``workbench demo`` or simulated in memory),
    split by glacier, for the zone task (CaFFe-like frames, identical to the demo's CaFFe
    export) or the outline task (stacks).
:class:`SarOpticalDataModule` (``pretraining.py``)
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

from workbench.training.datamodules.base import (
    _WorkbenchDataModule as _WorkbenchDataModule,  # the base class, for fit.build_datamodule
)
from workbench.training.datamodules.caffe import (
    CaffeDataModule,
)
from workbench.training.datamodules.datasets import (
    CAFFE8_VARIABLE,
    StackZoneFrames,
    ZoneImageDataset,
    add_slope,
    collate_eval,
)
from workbench.training.datamodules.demo import (
    DemoWorldDataModule,
    resample_stack,
)
from workbench.training.datamodules.pretraining import (
    SarOpticalCrops,
    SarOpticalDataModule,
    check_sar_optical_stack,
    sar_unit,
)
from workbench.training.datamodules.stacks import (
    StackDataModule,
)

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
