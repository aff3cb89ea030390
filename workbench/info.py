"""Human-readable summaries: the installation, and whatever dataset a path points at.

Used by ``workbench info`` and ``make serve``.
"""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from workbench.data.kinds import detect_dataset_kind
from workbench.errors import DataError

__all__ = ["describe_environment", "describe_path"]

_LIBRARIES = (
    "torch",
    "numpy",
    "xarray",
    "rioxarray",
    "rasterio",
    "geopandas",
    "dask",
    "zarr",
    "panel",
    "holoviews",
    "geoviews",
    "lightning",
    "papermill",
)


def describe_environment() -> str:
    """Versions of the workbench and its key libraries, and the device ``auto`` picks."""
    from workbench import __version__

    lines = [
        f"glacier-workbench {__version__} (Python {platform.python_version()}, {platform.system()})"
    ]
    for name in _LIBRARIES:
        try:
            lines.append(f"  {name:<10} {version(name)}")
        except PackageNotFoundError:
            lines.append(f"  {name:<10} not installed")
    lines.append(f"  device     {_auto_device()}")
    return "\n".join(lines)


def _auto_device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return f"cpu ({torch.get_num_threads()} threads)"


def describe_path(path: str | Path) -> str:
    """Summarise a demo world, a CaFFe-layout folder or a scene stack (the kind comes from
    :func:`workbench.data.kinds.detect_dataset_kind`; products, front lines and folders of
    stacks get one line saying what is there).

    Raises
    ------
    DataError
        If nothing the workbench can read is at ``path``.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(
            "does not exist",
            path=path,
            expected="a demo world, a CaFFe-layout folder or a scene stack",
        )
    found = detect_dataset_kind(path)
    if found.kind == "demo_world":
        return _describe_demo(path)
    if found.kind == "caffe":
        return _describe_caffe(path)
    if found.kind in ("products", "lines", "stacks"):
        return f"{_WHAT[found.kind]} at {path.resolve()}: {found.reason}"
    return _describe_stack(path)


_WHAT = {
    "products": "`workbench predict` products",
    "lines": "dated front lines",
    "stacks": "a folder of scene stacks",
}


def _describe_demo(path: Path) -> str:
    manifest = json.loads((path / "manifest.json").read_text())
    lines = [
        f"demo world at {path.resolve()}",
        f"  {len(manifest['glaciers'])} synthetic glaciers, seed {manifest['seed']}, "
        f"{manifest['size']}x{manifest['size']} px at {manifest['pixel_size']:g} m, {manifest['crs']}",
    ]
    for g in manifest["glaciers"]:
        lines.append(
            f"  {g['name']:<16} {g['n_dates']:>3} dates {g['start']} .. {g['end']}  "
            f"net front change {g['net_front_change_m']:+.0f} m (+ = advance)  -> {g['zarr']}"
        )
    lines.append(
        f"  CaFFe-layout export: {path / manifest['caffe']}   preview: {path / 'preview.png'}"
    )
    lines.append(f"  ground truth: {path / manifest['fronts']}, {path / manifest['outlines']}")
    return "\n".join(lines)


def _describe_caffe(path: Path) -> str:
    from workbench.data.caffe import CaffeDataset

    ds = CaffeDataset(path)
    frame = ds.to_frame()
    lines = [f"CaFFe-layout dataset at {path.resolve()}: {len(ds)} images"]
    for glacier, group in frame.groupby("glacier"):
        lines.append(
            f"  {glacier:<10} {len(group):>4} images {str(group['date'].min())[:10]} .. {str(group['date'].max())[:10]}  "
            f"sensors {', '.join(sorted(group['sensor'].unique()))}"
        )
    return "\n".join(lines)


def _describe_stack(path: Path) -> str:
    from workbench.data.stack import open_stack

    ds = open_stack(path)
    times = ds["time"].values
    res = ds.rio.resolution()
    lines = [
        f"scene stack at {path.resolve()}",
        f"  {ds.sizes['time']} dates {str(times[0])[:10]} .. {str(times[-1])[:10]}, "
        f"{ds.sizes['y']}x{ds.sizes['x']} px at {abs(res[0]):g} m, {ds.rio.crs}",
        f"  variables: {', '.join(sorted(ds.data_vars))}",
    ]
    return "\n".join(lines)
