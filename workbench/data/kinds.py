"""What a folder is: one detector for every command that takes a dataset path.

``workbench train`` (``data: PATH``), ``workbench pretrain``, ``workbench evaluate``,
``workbench info`` and the explorer's catalogue all ask :func:`detect_dataset_kind`, so a folder
is the same kind of data everywhere. The rules, first match wins:

==============  ============================================================================
``demo_world``  has :data:`workbench.data.demo.MANIFEST` (``manifest.json``, ``workbench demo``)
``products``    ``workbench predict`` output: ``_summary.json`` or scene folders with
                ``_SUCCESS``
``caffe``       a CaFFe-layout folder: ``sar_images/`` in it or in a split folder
                (``train/sar_images``)
``lines``       dated front lines and a box (``lines/`` and ``box/``, Harald Moltke-style)
``stacks``      a folder of scene stacks (``*.zarr``, ``*.nc``, GeoTIFFs with ``.dates.csv``)
``stack``       one scene stack: a Zarr store, a NetCDF or GeoTIFF file, or a folder of
                per-date GeoTIFFs
``unknown``     none of these (the reason says what is there)
==============  ============================================================================

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())
>>> (root / "sar_images").mkdir()
>>> found = detect_dataset_kind(root)
>>> found.kind, found.reason
('caffe', 'has sar_images/ (a CaFFe-layout folder)')
>>> _ = (root / "manifest.json").write_text("{}")
>>> detect_dataset_kind(root).kind
'demo_world'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workbench.data.demo import MANIFEST
from workbench.errors import DataError

__all__ = [
    "DATASET_KINDS",
    "PRODUCT_MANIFEST",
    "PRODUCT_SUMMARY",
    "DatasetKind",
    "detect_dataset_kind",
    "is_stack_path",
    "product_scenes",
]

Kind = Literal["demo_world", "products", "caffe", "lines", "stacks", "stack", "unknown"]
DATASET_KINDS: tuple[str, ...] = (
    "demo_world",
    "products",
    "caffe",
    "lines",
    "stacks",
    "stack",
    "unknown",
)
"""Every kind :func:`detect_dataset_kind` returns, in the order the rules are tried."""

PRODUCT_MANIFEST = "_SUCCESS"
"""Written last into every scene folder by ``workbench predict`` (``inference.archive``)."""
PRODUCT_SUMMARY = "_summary.json"
"""Written into the output folder of ``workbench predict``."""

_STACK_FILES = (".zarr", ".nc", ".tif", ".tiff")
_TIFFS = (".tif", ".tiff")
_ZARR_MARKERS = ("zarr.json", ".zgroup", ".zmetadata")


@dataclass(frozen=True)
class DatasetKind:
    """What :func:`detect_dataset_kind` found: the ``kind``, the ``path`` and the ``reason``
    (the file or folder that decided it, for messages)."""

    kind: Kind
    path: Path
    reason: str


def is_stack_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` looks like one scene stack of a folder of stacks: a Zarr store, a
    NetCDF file, or a GeoTIFF stack with its ``.dates.csv`` band table (hidden names never).

    Examples
    --------
    >>> is_stack_path("kongsbreen.zarr"), is_stack_path("notes.txt")
    (True, False)
    """
    p = Path(path)
    if p.name.startswith("."):
        return False
    suffix = p.suffix.lower()
    if suffix in (".zarr", ".nc"):
        return True
    return suffix in _TIFFS and p.with_suffix(".dates.csv").is_file()


def product_scenes(path: str | os.PathLike[str]) -> list[Path]:
    """Scene folders of a ``workbench predict`` output folder: those with a ``_SUCCESS``."""
    path = Path(path)
    return [
        c
        for c in sorted(path.iterdir())
        if c.is_dir() and not c.name.startswith(".") and (c / PRODUCT_MANIFEST).is_file()
    ]


def detect_dataset_kind(path: str | os.PathLike[str]) -> DatasetKind:
    """The kind of dataset at ``path`` (see the module's table), with the reason.

    Raises
    ------
    DataError
        ``path`` does not exist.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(
            "does not exist",
            path=p,
            expected="a demo world, a CaFFe folder, scene stacks, predict products or front lines",
        )
    if not p.is_dir():
        if p.suffix.lower() in _STACK_FILES:
            return DatasetKind("stack", p, f"is a {p.suffix} file (a scene stack)")
        return DatasetKind("unknown", p, f"is a file with the suffix {p.suffix!r}")
    if (p / MANIFEST).is_file():
        return DatasetKind("demo_world", p, f"has {MANIFEST} (a `workbench demo` world)")
    if p.suffix.lower() == ".zarr" or any((p / m).exists() for m in _ZARR_MARKERS):
        return DatasetKind("stack", p, "is a Zarr store (a scene stack)")
    if (p / PRODUCT_SUMMARY).is_file():
        return DatasetKind("products", p, f"has {PRODUCT_SUMMARY} (`workbench predict` output)")
    scenes = product_scenes(p)
    if scenes:
        return DatasetKind(
            "products", p, f"has {len(scenes)} scene folder(s) with {PRODUCT_MANIFEST}"
        )
    if (p / "sar_images").is_dir():
        return DatasetKind("caffe", p, "has sar_images/ (a CaFFe-layout folder)")
    splits = sorted(c.parent.name for c in p.glob("*/sar_images") if c.is_dir())
    if splits:
        return DatasetKind(
            "caffe", p, f"has {', '.join(f'{s}/sar_images/' for s in splits)} (CaFFe splits)"
        )
    if (p / "lines").is_dir() and (p / "box").is_dir():
        return DatasetKind("lines", p, "has lines/ and box/ (dated front lines)")
    stacks = [c for c in sorted(p.iterdir()) if is_stack_path(c)]
    if stacks:
        return DatasetKind("stacks", p, f"holds {len(stacks)} scene stack(s)")
    tiffs = [c for c in p.iterdir() if c.is_file() and c.suffix.lower() in _TIFFS]
    if tiffs:
        return DatasetKind("stack", p, f"holds {len(tiffs)} GeoTIFF(s) (one per date)")
    names = sorted(c.name for c in p.iterdir() if not c.name.startswith("."))[:5]
    return DatasetKind("unknown", p, f"holds {names or 'nothing'}")
