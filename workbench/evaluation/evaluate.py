"""``evaluate(checkpoint, data, …) -> dict``: one function behind ``workbench evaluate`` and
the evaluation notebook.

It predicts every image (zone models) or every yearly time series (outline models) of a data
set with the training code's sliding window (:func:`workbench.inference.predict_tiled`, the
checkpoint's validation window, overlap and weighting), scores the predictions with the
functions of :mod:`workbench.evaluation` and writes a report with
:func:`~workbench.evaluation.write_report`.

Data
----
``data`` is ``"demo"`` (the synthetic world the checkpoint was trained on, simulated in memory
from its ``train_config``), a demo-world folder (``manifest.json``), a CaFFe-layout folder
(``sar_images/``, ``zones/``, ``fronts/``), a scene stack (Zarr, NetCDF, GeoTIFF) or a folder
of stacks, or an ``xarray.Dataset``. ``split`` picks ``"test"`` (default), ``"val"``,
``"train"`` or ``"all"``: for the demo world the glacier split of the checkpoint's training
run (so ``"test"`` is its held-out glacier); for a CaFFe folder the split of the training
run, made by its data module (validation and test glaciers, held-out test glaciers, or the
folder's ``test`` split; every image when there is no test split); stacks are evaluated
whole.

What is measured
----------------
Zone models (4 CaFFe classes): predicted zones → fronts (:func:`zones_to_front`, CaFFe's
post-processing) → the pooled mean distance error (:func:`mean_distance_error`: metres and
pixels; pixels only when the pixel size is unknown), the count of images without a predicted
front, breakdowns by glacier, season, sensor and resolution, and the zone IoU/F1 per class
(:func:`zone_metrics`, :func:`aggregate_zone_metrics`). Predicted fronts outside a CaFFe
bounding box are removed first when the folder has bounding boxes.

Outline models (time series → glacier mask): one prediction per stack and calendar year from
the LAST ``steps`` acquisitions of that year (default: the ``data.time_steps`` the model was
trained with; ``"all"``: every acquisition of the year), scored against the outline at the
last of them; TP/FP/FN pooled over all of them (:class:`OutlineCounts`): precision, recall,
F1, IoU, also per glacier. ``ablation=(1, 3, 5, "all")`` repeats this for each setting with
the same model (the Svalbard study's acquisition ablation) and adds a table.

Both: calibration of the entropy confidence (:func:`entropy_confidence`): the ECE and a
reliability diagram; when the checkpoint carries a calibration (see below) also the ECE after
it. Optional test-time augmentation (``tta=True``: the 4 rotations, probabilities averaged,
:func:`workbench.evaluation.ensemble_predict`).

Calibration stored in checkpoints
---------------------------------
The calibration of a checkpoint lives in its metrics under the key ``"calibration"``
(:data:`CALIBRATION_KEY`): a :meth:`CalibrationMap.to_dict` (raw → calibrated entropy
confidence), a :meth:`TemperatureScaling.to_dict`, or a list of both; ``train_config
["calibration"]`` is read as a fallback. :func:`fit_calibration` fits a map on a validation
split and :func:`save_calibration` writes it into a checkpoint; ``workbench.inference`` reads
the same key.

Examples
--------
>>> import tempfile
>>> from workbench.models import create_model, save_checkpoint
>>> path = save_checkpoint(create_model("caffe_unet", preset="small"),
...                        tempfile.mkdtemp() + "/m.pt")               # doctest: +SKIP
>>> res = evaluate(path, "demo_data", out="report", max_images=4)  # doctest: +SKIP
>>> sorted(res)[:4]                                                # doctest: +SKIP
['calibrated', 'checkpoint', 'data', 'data_kind']
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from workbench._io import atomic_path
from workbench.checkpoints import resolve_checkpoint
from workbench.data.kinds import detect_dataset_kind
from workbench.data.resample import resize_bilinear as _resize
from workbench.errors import CheckpointError, ConfigError, DataError
from workbench.inference.predictor import _get
from workbench.inference.tiling import predict_tiled
from workbench.metrics.baselines import FixedFront, previous_acquisition, reference_front
from workbench.metrics.calibration import (
    CalibrationMap,
    ReliabilityCurve,
    TemperatureScaling,
    entropy_confidence,
)
from workbench.metrics.ensembles import ensemble_predict
from workbench.metrics.fronts import BBOX_MODES, bbox_mask, zones_to_front
from workbench.metrics.mde import MDEAccumulator
from workbench.metrics.segmentation import OutlineCounts, aggregate_zone_metrics, zone_metrics

from .report import markdown_table, plot_reliability_diagram, plot_worst_cases, write_report

__all__ = [
    "CALIBRATION_KEY",
    "TIME_SERIES_MODELS",
    "evaluate",
    "fit_calibration",
    "save_calibration",
    "checkpoint_calibration",
    "parse_resolution",
    "parse_steps",
]

CALIBRATION_KEY = "calibration"
"""Key of a checkpoint's ``metrics`` (fallback: ``train_config``) holding its calibration."""

TIME_SERIES_MODELS = frozenset({"icemapper3d", "convlstm_unet"})
"""Models that take ``B × T × C × H × W`` time series (evaluated per calendar year)."""

_TTA = ("rot0", "rot90", "rot180", "rot270")
_DATA_DEFAULTS = {
    "n_glaciers": 3,
    "years": 1.0,
    "size": 128,
    "pixel_size": 80.0,
    "world_seed": 0,
    "val_glaciers": 1,
    "test_glaciers": 1,
    "variables": ["sigma0_db", "coherence"],
    "label": "outline",
}


# --------------------------------------------------------------------------- small parsers


def parse_resolution(value: Any) -> float | str | None:
    """``"auto"``, ``"meta"``, ``None``/``"none"``/``"unknown"``/``"px"`` or a pixel size.

    Examples
    --------
    >>> parse_resolution("20"), parse_resolution("none"), parse_resolution("meta")
    (20.0, None, 'meta')
    """
    if value is None:
        return None
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("auto", "meta"):
            return v
        if v in ("none", "null", "unknown", "px"):
            return None
        try:
            value = float(v)
        except ValueError:
            raise ConfigError(
                f"is {value!r}",
                variable="resolution",
                expected="'auto', 'meta', 'none' or a pixel size in metres",
            ) from None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (math.isfinite(value) and value > 0)
    ):
        raise ConfigError(
            f"is {value!r}",
            variable="resolution",
            expected="'auto', 'meta', 'none' or a pixel size in metres > 0",
        )
    return float(value)


def parse_steps(value: Any) -> int | str | None:
    """``None`` (the checkpoint's), ``"all"`` or a number of acquisitions ≥ 1.

    Examples
    --------
    >>> parse_steps("3"), parse_steps("all"), parse_steps(None)
    (3, 'all', None)
    """
    if value is None:
        return None
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return "all"
        try:
            value = int(value)
        except ValueError:
            raise ConfigError(
                f"is {value!r}", variable="steps", expected="a number of acquisitions ≥ 1 or 'all'"
            ) from None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(
            f"is {value!r}", variable="steps", expected="a number of acquisitions ≥ 1 or 'all'"
        )
    return int(value)


# --------------------------------------------------------------------------- calibration I/O


def checkpoint_calibration(info: Any) -> tuple[CalibrationMap | None, TemperatureScaling | None]:
    """The calibration stored in a checkpoint (``metrics["calibration"]``, else
    ``train_config["calibration"]``): a map, a temperature, both or neither.

    ``info`` is a :class:`~workbench.models.CheckpointInfo` (or anything with ``metrics`` and
    ``train_config``).
    """
    stored = _get(getattr(info, "metrics", None), CALIBRATION_KEY)
    if stored is None:
        stored = _get(getattr(info, "train_config", None), CALIBRATION_KEY)
    cmap, temp = None, None
    for item in stored if isinstance(stored, (list, tuple)) else [stored]:
        if item is None:
            continue
        kind = item.get("kind") if isinstance(item, Mapping) else None
        if kind == "CalibrationMap":
            cmap = CalibrationMap.from_dict(item)
        elif kind == "TemperatureScaling":
            temp = TemperatureScaling.from_dict(item)
        else:
            raise CheckpointError(
                f"has a {CALIBRATION_KEY!r} entry of kind {kind!r}",
                path=getattr(info, "path", None),
                variable=CALIBRATION_KEY,
                expected="CalibrationMap / TemperatureScaling dicts",
            )
    return cmap, temp


def save_calibration(
    checkpoint: str | os.PathLike[str],
    calibration: Any,
    out: str | os.PathLike[str] | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``calibration`` into a checkpoint's ``metrics["calibration"]`` (atomically).

    Parameters
    ----------
    checkpoint
        A checkpoint written by :func:`~workbench.models.save_checkpoint`.
    calibration
        A :class:`CalibrationMap` / :class:`TemperatureScaling`, its dict, or a list of those.
    out
        Where to write (default: replace ``checkpoint``).
    metrics
        Further entries to add to the checkpoint's metrics (e.g. evaluation results).
    """
    from workbench.models import load_model, save_checkpoint

    items = calibration if isinstance(calibration, (list, tuple)) else [calibration]
    plain = [c.to_dict() if hasattr(c, "to_dict") else dict(c) for c in items]
    model = load_model(checkpoint, device="cpu")
    info = model.checkpoint_info
    new_metrics = dict(info.metrics or {})
    new_metrics.update(metrics or {})
    new_metrics[CALIBRATION_KEY] = plain[0] if len(plain) == 1 else plain
    checkpoint_calibration(SimpleNamespace(metrics=new_metrics, train_config=None))  # validate
    return save_checkpoint(
        model,
        out if out is not None else checkpoint,
        normalization=info.normalization,
        classes=info.classes,
        train_config=info.train_config,
        metrics=new_metrics,
    )


# --------------------------------------------------------------------------- the evaluator


def _data_kind(data: Any) -> tuple[str, Any]:
    """``("demo", None | Path)``, ``("caffe", Path)`` or ``("stack", Path | Dataset)``."""
    try:
        import xarray as xr

        if isinstance(data, xr.Dataset):
            return "stack", data
    except ImportError:  # pragma: no cover
        pass
    if isinstance(data, str) and data == "demo":
        return "demo", None
    p = Path(data)
    if not p.exists():
        raise DataError(
            "does not exist",
            path=p,
            expected="'demo', a demo world, a CaFFe folder or scene stacks",
        )
    kind = detect_dataset_kind(p).kind  # the one detector of what a folder is
    return {"demo_world": "demo", "caffe": "caffe"}.get(kind, "stack"), p


def _open_stacks(src: Any) -> list[Any]:
    import xarray as xr

    from workbench.data.stack import open_stack

    if isinstance(src, xr.Dataset):
        return [src]
    p = Path(src)
    if (
        p.is_dir()
        and p.suffix != ".zarr"
        and not (p / ".zgroup").exists()
        and not (p / "zarr.json").exists()
    ):
        found = sorted([*p.glob("*.zarr"), *p.glob("*.nc")])
        if found:
            paths = found
        else:
            paths = [p]  # a folder of per-date GeoTIFFs
    else:
        paths = [p]
    stacks = []
    for path in paths:
        st = open_stack(path)
        name = path.name
        for suffix in (".zarr", ".nc", ".tif", ".tiff"):
            name = name.removesuffix(suffix)
        st.attrs.setdefault("glacier", name)
        stacks.append(st)
    return stacks


def _stack_pixel_size(st: Any) -> float | None:
    px = st.attrs.get("pixel_size")
    if px:
        return float(px)
    if "x" in st.coords and st.sizes.get("x", 0) > 1:
        return abs(float(st["x"].values[1] - st["x"].values[0]))
    return None


class _LazyList(Sequence):
    """A sequence whose items are made on demand (images for the worst-case figure)."""

    def __init__(self, n: int, make: Callable[[int], Any]) -> None:
        self._n, self._make = n, make

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:  # type: ignore[override]
        if isinstance(i, slice):
            return [self._make(k) for k in range(*i.indices(self._n))]
        return self._make(int(i))


def _boundary(mask: np.ndarray) -> np.ndarray:
    """Inner boundary of a binary mask (for drawing outlines)."""
    from scipy import ndimage

    m = np.asarray(mask, bool)
    return m & ~ndimage.binary_erosion(m, border_value=1)


class _Evaluator:
    """A loaded model with the options that turn data items into probabilities."""

    def __init__(
        self,
        checkpoint: Any,
        *,
        device: str = "auto",
        window: int | None = None,
        keep: int | None = None,
        overlap: float | None = None,
        weighting: str | None = None,
        batch_size: int = 8,
        tta: bool = False,
        resample: bool | str = "auto",
    ) -> None:
        from workbench.inference.scene import check_window_options
        from workbench.models import load_model

        check_window_options(window=window, batch_size=batch_size)
        if isinstance(checkpoint, torch.nn.Module):
            model = checkpoint.eval()
            self.path = str(getattr(getattr(model, "checkpoint_info", None), "path", "") or "")
        else:
            checkpoint = resolve_checkpoint(checkpoint)  # a file, or a packaged model name
            model = load_model(checkpoint, device=device)
            self.path = str(checkpoint)
        self.model = model
        self.info = getattr(model, "checkpoint_info", None)
        self.cfg: dict[str, Any] = dict(getattr(self.info, "train_config", None) or {})
        self.name = (
            getattr(self.info, "model_name", None)
            or getattr(model, "model_name", "")
            or type(model).__name__
        )
        config = dict(getattr(model, "config", None) or {})
        if self.name == "glavitu":
            raise ConfigError(
                "glavitu takes a dict of sources, which evaluate does not support",
                variable="checkpoint",
                expected="a zone or time-series model",
            )
        self.task = self.cfg.get("task") or (
            "outlines"
            if self.name in TIME_SERIES_MODELS or config.get("num_classes") == 2
            else "zones"
        )
        if self.task == "outlines" and self.name not in TIME_SERIES_MODELS:
            raise ConfigError(
                f"{self.name!r} is not a time-series outline model",
                variable="checkpoint",
                expected=f"one of {sorted(TIME_SERIES_MODELS)}",
            )
        self.num_classes = int(config.get("num_classes") or (4 if self.task == "zones" else 2))
        self.device = next((q.device for q in model.parameters()), torch.device("cpu"))
        data_cfg = dict(self.cfg.get("data") or {})
        self.data_cfg = data_cfg
        v = dict(self.cfg.get("validation") or {})
        context = data_cfg.get("context_size")
        patch = data_cfg.get("patch_size")
        self.window = window if window is not None else (v.get("window") or context or patch)
        self.keep = (
            keep
            if keep is not None
            else (v.get("keep") or (patch if context and self.task == "zones" else None))
        )
        if overlap is None:
            overlap = v.get("overlap")
        self.overlap = float(0.5 if overlap is None else overlap)
        self.weighting = (
            weighting
            or v.get("weighting")
            or ("gaussian" if self.task == "outlines" else "uniform")
        )
        self.batch_size = int(batch_size)
        self.tta = bool(tta)
        self.resample = resample
        # the pixel size the model was trained at: known for the demo world (same rule as
        # workbench.inference's InputSpec)
        px = (
            self.cfg.get("pixel_size")
            or _get(self.cfg, "inference", "pixel_size")
            or (data_cfg.get("pixel_size") if data_cfg.get("kind") == "demo" else None)
        )
        self.model_pixel_size = float(px) if px else None
        norm = getattr(self.info, "normalization", None)
        from workbench.data.patches import Normalization

        channels = int(config.get("in_features" if self.task == "outlines" else "in_chans", 1) or 1)
        self.normalization = (
            Normalization.from_dict(norm)
            if norm and "mean" in norm
            else Normalization((0.0,) * channels, (1.0,) * channels)
        )
        self.calibration_map, self.temperature = checkpoint_calibration(self.info)

    # -- prediction -------------------------------------------------------------------------
    def scale_for(self, data_pixel: float | None, kind: str) -> float:
        """Factor to resample inputs by so they match the model's pixel size (1: none)."""
        if not self.resample or self.model_pixel_size is None or not data_pixel:
            return 1.0
        if self.resample == "auto" and kind == "caffe":
            return 1.0  # CaFFe names give the ORIGINAL pixel size, not always the file's
        s = float(data_pixel) / self.model_pixel_size
        return 1.0 if abs(s - 1.0) < 1e-3 else s

    @torch.no_grad()
    def probs(self, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """Class probabilities ``1 × K × H × W`` of one image / time series (batch of 1)."""
        x = x.to(self.device, dtype=torch.float32)

        def fn(inp: torch.Tensor) -> torch.Tensor:
            h, w = inp.shape[-2:]
            if scale != 1.0:
                inp = _resize(inp, (max(8, round(h * scale)), max(8, round(w * scale))))
            window = int(
                self.window or min(max(inp.shape[-2:]), 384 if self.task == "outlines" else 256)
            )
            out = predict_tiled(
                self.model,
                inp,
                window=window,
                keep=self.keep,
                overlap=self.overlap,
                batch_size=self.batch_size,
                weighting=self.weighting,
            )["logits"]
            if scale != 1.0:
                out = _resize(out, (h, w))
            return torch.softmax(out.float(), dim=1)

        mean = ensemble_predict([fn], x, _TTA, class_axis=1)[0] if self.tta else fn(x)
        if not bool(torch.isfinite(mean).all()):  # never confident garbage
            raise DataError(
                "gave non-finite (NaN or infinite) class probabilities: the "
                "model overflows on these inputs",
                path=self.path or None,
                variable="probabilities",
                expected="finite probabilities (check the checkpoint's weights "
                "and the input's units and normalisation)",
            )
        return mean.cpu()

    def confidences(self, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw entropy confidence ``(H, W)`` of ``K × H × W`` probabilities, and the
        calibrated one (temperature then map) when the checkpoint has a calibration."""
        raw = entropy_confidence(probs, axis=0)
        if self.calibration_map is None and self.temperature is None:
            return raw, None
        p = probs
        if self.temperature is not None:  # softmax(log p / T) = softmax(z / T)
            p = self.temperature(np.log(np.clip(probs, 1e-12, 1.0)), axis=0)
        conf = entropy_confidence(p, axis=0)
        if self.calibration_map is not None:
            conf = self.calibration_map(conf)
        return raw, conf


# --------------------------------------------------------------------------- data → items


def _demo_module(ev: _Evaluator, root: Path | None, demo_options: Mapping[str, Any] | None) -> Any:
    from workbench.training import DemoWorldDataModule

    d = dict(_DATA_DEFAULTS)
    if ev.data_cfg.get("kind") == "demo":
        d.update({k: ev.data_cfg[k] for k in d if ev.data_cfg.get(k) is not None})
    d.update(demo_options or {})
    return DemoWorldDataModule(
        ev.task,
        root=root,
        n_glaciers=int(d["n_glaciers"]),
        years=float(d["years"]),
        size=int(d["size"]),
        pixel_size=float(d["pixel_size"]),
        world_seed=int(d["world_seed"]),
        val_glaciers=d["val_glaciers"],
        test_glaciers=d["test_glaciers"],
        patch_size=8,
    )


def _split_stacks(
    ev: _Evaluator,
    kind: str,
    src: Any,
    split: str,
    demo_options: Mapping[str, Any] | None,
    notes: list[str],
) -> list[Any]:
    """The stacks of ``split``: the demo world's glacier split, or every stack given."""
    if kind == "demo":
        dm = _demo_module(ev, src, demo_options)
        # the training run's glacier split, exactly; only the glaciers of `split` are simulated
        chosen = list(dm.split_stacks(split))
        if not chosen:
            raise DataError(
                f"the demo world has no {split} glaciers",
                variable="split",
                expected="'train', 'val', 'test' or 'all'",
            )
        return chosen
    stacks = _open_stacks(src)
    if split != "all":
        notes.append(
            f"stacks are evaluated whole (split {split!r} applies to demo worlds and CaFFe folders)"
        )
    return stacks


def _records(ds: Any) -> list[Any]:
    """The CaFFe records (file paths) of a dataset or of nested ``Subset`` views of one."""
    from torch.utils.data import Subset

    if isinstance(ds, Subset):
        base = _records(ds.dataset)
        return [base[i] for i in ds.indices]
    return list(ds.records)


def _caffe_base(
    ev: _Evaluator, root: Path, split: str, thin: bool, notes: list[str]
) -> tuple[Any, list[Any]]:
    """A CaFFe dataset view of ``split`` and its records (for bounding boxes).

    The split is the training run's (its ``data`` options when it was trained on a CaFFe
    folder, else CaFFe's defaults), made by the training data module itself.
    """
    from workbench.data.caffe import CaffeDataset
    from workbench.training import CaffeDataModule

    if split == "all":
        ds = CaffeDataset(root, thin_fronts=thin)
        return ds, ds.records
    d = ev.data_cfg if ev.data_cfg.get("kind") == "caffe" else {}
    mode = d.get("split") or ("glacier" if d.get("val_glaciers") else "image")
    dm = CaffeDataModule(
        root,
        split=mode,
        val_fraction=float(d.get("val_fraction") or 0.1),
        val_glaciers=d.get("val_glaciers") or [],
        test_glaciers=d.get("test_glaciers") or [],
        thin_fronts=thin,
        seed=int(ev.cfg.get("seed", 0) or 0),
        patch_size=8,
    )
    tr, va, te = dm._zone_splits()  # the training run's split, exactly
    chosen = {"train": tr, "val": va, "test": te}[split]
    if chosen is None:
        notes.append("the folder has no test split: every image is evaluated")
        ds = CaffeDataset(root, thin_fronts=thin)
        return ds, ds.records
    return chosen, _records(chosen)


def _zone_items(
    ev: _Evaluator,
    kind: str,
    src: Any,
    split: str,
    *,
    thin: bool,
    demo_options: Mapping[str, Any] | None,
    notes: list[str],
) -> tuple[int, Callable[[int], dict[str, Any]], Callable[[int], np.ndarray]]:
    """``(n, item(i), raw_image(i))``: normalised items with ``bbox`` (or None)."""
    from workbench.data.caffe import read_bbox
    from workbench.training import StackZoneFrames, ZoneImageDataset

    if kind == "caffe":
        base, records = _caffe_base(ev, src, split, thin, notes)
        bboxes = [r.bbox for r in records]
    else:
        base = StackZoneFrames(_split_stacks(ev, kind, src, split, demo_options, notes))
        bboxes = [None] * len(base)
    ds = ZoneImageDataset(base, ev.normalization)

    def item(i: int) -> dict[str, Any]:
        out = ds[i]
        out["bbox"] = read_bbox(bboxes[i]) if bboxes[i] is not None else None
        return out

    def raw(i: int) -> np.ndarray:  # the un-normalised first channel, for figures
        img = np.asarray(base[i]["image"], dtype=np.float32)
        return img.reshape(-1, *img.shape[-2:])[0]

    return len(ds), item, raw


def _year_windows(
    stacks: Sequence[Any], steps: int | str
) -> tuple[list[tuple[Any, dict]], list[str]]:
    """One window per stack and calendar year: its last ``steps`` dates (or all of them)."""
    import pandas as pd

    windows, skipped = [], []
    for k, st in enumerate(stacks):
        name = str(st.attrs.get("glacier", st.attrs.get("name", f"stack{k}")))
        px = _stack_pixel_size(st)
        if "time" not in st.dims:
            windows.append(
                (
                    st,
                    {
                        "stem": name,
                        "glacier": name,
                        "year": None,
                        "date": "",
                        "n_dates": 1,
                        "resolution_m": px,
                    },
                )
            )
            continue
        times = pd.DatetimeIndex(st["time"].values)
        for year in sorted(set(times.year)):
            idx = np.flatnonzero(times.year == year)
            n = len(idx) if steps == "all" else int(steps)
            if len(idx) < n:
                skipped.append(f"{name} {year} ({len(idx)} dates < {n})")
                continue
            sel = idx[-n:]
            date = str(times[sel[-1]].date())
            windows.append(
                (
                    st.isel(time=sel),
                    {
                        "stem": f"{name}_{year}",
                        "glacier": name,
                        "year": int(year),
                        "date": date,
                        "n_dates": int(n),
                        "resolution_m": px,
                    },
                )
            )
    return windows, skipped


def _outline_item(
    ev: _Evaluator, view: Any, variables: Sequence[str], label: str
) -> dict[str, torch.Tensor]:
    """The whole window as one normalised item (the training data path, one big patch)."""
    from workbench.data.patches import StackPatchDataset

    h, w = int(view.sizes["y"]), int(view.sizes["x"])
    ds = StackPatchDataset(
        view,
        max(h, w),
        variables=list(variables),
        label=label,
        time_steps=None,
        mode="grid",
        overlap=0.0,
        normalization=ev.normalization,
    )
    it = ds[0]
    return {"x": it["x"][..., :h, :w], "y": it["y"][:h, :w], "valid": it["valid"][:h, :w]}


# --------------------------------------------------------------------------- evaluation


def _iter_progress(n: int, progress: bool, desc: str) -> Iterator[int]:
    if not progress:
        yield from range(n)
        return
    from tqdm.auto import tqdm

    yield from tqdm(range(n), desc=desc)


def _resolution_options(
    ev: _Evaluator, kind: str, resolution: Any, min_cluster_px: float | None
) -> tuple[Any, float | None]:
    res = parse_resolution(resolution)
    mcp = min_cluster_px
    if res == "auto":
        v = dict(ev.cfg.get("validation") or {})
        same_kind = ev.data_cfg.get("kind") == kind
        if same_kind and "resolution_m" in v:
            res = v.get("resolution_m")
            if mcp is None:
                mcp = v.get("min_cluster_px")
        else:
            res = "meta"
    if res is None and mcp is None:
        raise ConfigError(
            "is unknown (none) but min_cluster_px is not set",
            variable="resolution",
            expected="a pixel size, 'meta', or --min-cluster-px N for images of "
            "unknown pixel size (e.g. 10 for caffe256)",
        )
    return res, mcp


def _eval_zones(
    ev: _Evaluator,
    kind: str,
    src: Any,
    *,
    split: str,
    resolution: Any,
    min_cluster_px: float | None,
    thin: bool,
    max_images: int | None,
    bbox_mode: str = "caffe",
    demo_options: Mapping[str, Any] | None,
    n_bins: int,
    progress: bool,
    notes: list[str],
) -> dict[str, Any]:
    res_mode, mcp = _resolution_options(ev, kind, resolution, min_cluster_px)
    n, item, raw = _zone_items(
        ev, kind, src, split, thin=thin, demo_options=demo_options, notes=notes
    )
    if max_images is not None:
        n = min(n, int(max_images))
    if n == 0:
        raise DataError(
            f"has no images in split {split!r}",
            variable="data",
            expected="at least one labelled image",
        )
    curve = ReliabilityCurve(n_bins)
    curve_cal = ReliabilityCurve(n_bins) if (ev.calibration_map or ev.temperature) else None
    zms: list[Any] = []
    # the MDE is accumulated image by image (distances only); the fronts are kept as flat
    # pixel indices for the worst-case figure, not as full-size masks
    acc = MDEAccumulator(resolution_m=res_mode)
    fixed, fixed_source = _fixed_front(
        ev, kind, src, split, thin=thin, demo_options=demo_options, notes=notes
    )
    base_acc = MDEAccumulator(resolution_m=res_mode) if fixed is not None else None
    complete_acc = MDEAccumulator(resolution_m=res_mode) if fixed is not None else None
    metas: list[dict[str, Any]] = []
    fronts: list[tuple[np.ndarray, np.ndarray, tuple[int, int]]] = []
    for i in _iter_progress(n, progress, "evaluating"):
        it = item(i)
        meta = dict(it.get("meta") or {})
        res_i = meta.get("resolution_m") if res_mode == "meta" else res_mode
        p = ev.probs(it["image"][None], ev.scale_for(res_i, kind))[0].numpy()
        pred = p.argmax(0)
        ref = it["mask"].numpy()
        valid = it["valid"].numpy()
        correct = pred == ref
        conf, conf_cal = ev.confidences(p)
        curve.update(conf, correct, valid=valid)
        if curve_cal is not None:
            curve_cal.update(conf_cal, correct, valid=valid)
        zms.append(zone_metrics(pred, ref, 4, valid=valid))
        front = zones_to_front(pred, res_i, min_cluster_px=mcp)
        box = (
            bbox_mask(front.shape, it["bbox"], mode=bbox_mode)
            if it.get("bbox") is not None
            else None
        )
        if box is not None:  # predicted fronts only; the reference is never masked
            front &= box
        rf = it.get("front")
        rf = (
            rf.numpy().astype(bool)
            if rf is not None
            else zones_to_front(ref, res_i, min_cluster_px=mcp)
        )
        acc.add(front, rf, meta)
        if fixed is not None:
            guess = fixed.mask(rf.shape)
            if box is not None:  # the baseline's "prediction" is masked like the model's
                guess &= box
            base_acc.add(guess, rf, meta)
            # complete MDE: an image without a predicted front scores the baseline's distances
            complete_acc.add(front if front.any() else guess, rf, meta)
        metas.append(meta)
        fronts.append((_flat_front(front), _flat_front(rf), front.shape))
    baselines = {
        "fixed_front": base_acc.result() if base_acc is not None else None,
        "complete": complete_acc.result() if complete_acc is not None else None,
        "persistence": _persistence(fronts, metas, res_mode),
        "fixed_front_source": fixed_source,
    }
    return {
        "mde": acc.result(),
        "zones": aggregate_zone_metrics(zms),
        "curve": curve,
        "curve_cal": curve_cal,
        "baselines": baselines,
        "preds": _LazyList(n, lambda i: _front_mask(fronts[i][0], fronts[i][2])),
        "refs": _LazyList(n, lambda i: _front_mask(fronts[i][1], fronts[i][2])),
        "raw": raw,
        "n": n,
        "resolution": res_mode,
        "min_cluster_px": mcp,
    }


def _fixed_front(
    ev: _Evaluator,
    kind: str,
    src: Any,
    split: str,
    *,
    thin: bool,
    demo_options: Mapping[str, Any] | None,
    notes: list[str],
) -> tuple[FixedFront | None, str | None]:
    """The fixed-front baseline of the training labels: stored in the checkpoint by
    ``workbench train``, else built from the training split of a CaFFe folder."""
    stored = (getattr(ev.info, "baselines", None) or {}).get("fixed_front")
    if stored:
        return FixedFront.from_dict(stored), "checkpoint (its training labels)"
    if kind == "caffe" and split != "train":
        try:
            base, _ = _caffe_base(ev, src, "train", thin, [])
            fronts = (reference_front(base[i]) for i in range(len(base)))
            return FixedFront.from_fronts(fronts), "the data's training split"
        except DataError as exc:
            notes.append(f"no fixed-front baseline: {exc}")
            return None, None
    notes.append(
        "no fixed-front baseline: the checkpoint stores none (trained before baselines "
        "were recorded) and the data has no CaFFe training split"
    )
    return None, None


def _persistence(
    fronts: Sequence[tuple[np.ndarray, np.ndarray, tuple[int, int]]],
    metas: Sequence[Mapping[str, Any]],
    res_mode: Any,
) -> Any:
    """The persistence baseline: each image's previous acquisition (same glacier and image
    size) as the prediction; None when no image has one."""
    prev = previous_acquisition(metas, [f[2] for f in fronts])
    if all(p is None for p in prev):
        return None
    acc = MDEAccumulator(resolution_m=res_mode)
    for i, p in enumerate(prev):
        if p is not None:
            acc.add(
                _front_mask(fronts[p][1], fronts[p][2]),
                _front_mask(fronts[i][1], fronts[i][2]),
                metas[i],
            )
    return acc.result()


def _flat_front(mask: np.ndarray) -> np.ndarray:
    """Row-major indices of a front's pixels (int32 where they fit): a compact front."""
    idx = np.flatnonzero(mask)
    return idx.astype(np.int32) if mask.size <= np.iinfo(np.int32).max else idx


def _front_mask(flat: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The boolean mask of a front kept by :func:`_flat_front`.

    Examples
    --------
    >>> m = np.zeros((3, 4), bool); m[1, 2] = m[2, 0] = True
    >>> bool(np.array_equal(_front_mask(_flat_front(m), m.shape), m))
    True
    """
    out = np.zeros(shape, dtype=bool)
    out.ravel()[flat] = True
    return out


def _eval_outlines(
    ev: _Evaluator,
    kind: str,
    src: Any,
    *,
    split: str,
    steps: Any,
    ablation: Sequence[Any] | None,
    max_images: int | None,
    demo_options: Mapping[str, Any] | None,
    n_bins: int,
    progress: bool,
    notes: list[str],
) -> dict[str, Any]:
    stacks = _split_stacks(ev, kind, src, split, demo_options, notes)
    d = {**_DATA_DEFAULTS, **{k: v for k, v in ev.data_cfg.items() if v is not None}}
    variables, label = list(d["variables"]), str(d["label"])
    for st in stacks:
        if label not in st.data_vars:
            raise DataError(
                f"has no reference {label!r} to evaluate against",
                variable=label,
                expected="a stack with glacier outlines (use `workbench predict` "
                "for unlabelled scenes)",
            )
    trained = parse_steps(d.get("time_steps"))
    main_steps = parse_steps(steps) or trained or "all"
    settings = [main_steps] + [
        s for s in (parse_steps(a) for a in (ablation or [])) if s != main_steps
    ]
    curve = ReliabilityCurve(n_bins)
    curve_cal = ReliabilityCurve(n_bins) if (ev.calibration_map or ev.temperature) else None
    results: dict[Any, dict[str, Any]] = {}
    examples: dict[str, list[Any]] = {"images": [], "pred": [], "ref": [], "titles": []}
    for s in settings:
        windows, skipped = _year_windows(stacks, s)
        if max_images is not None:
            windows = windows[: int(max_images)]
        if skipped:
            notes.append(
                f"steps={s}: skipped {len(skipped)} year(s) with too few dates: "
                + ", ".join(skipped[:5])
                + (" …" if len(skipped) > 5 else "")
            )
        counts = OutlineCounts()
        for j in _iter_progress(len(windows), progress, f"evaluating steps={s}"):
            view, meta = windows[j]
            it = _outline_item(ev, view, variables, label)
            p = ev.probs(it["x"][None], ev.scale_for(meta["resolution_m"], kind))[0].numpy()
            pred = p.argmax(0) == 1
            ref = it["y"].numpy() == 1
            valid = it["valid"].numpy()
            counts.update(pred, ref, valid=valid, group=meta["glacier"])
            if s == main_steps:
                conf, conf_cal = ev.confidences(p)
                correct = p.argmax(0) == it["y"].numpy()
                curve.update(conf, correct, valid=valid)
                if curve_cal is not None:
                    curve_cal.update(conf_cal, correct, valid=valid)
                if len(examples["images"]) < 4:
                    c1 = OutlineCounts().update(pred, ref, valid=valid)
                    sig = np.asarray(
                        view["sigma0_db"].isel(time=-1).values
                        if "sigma0_db" in view and "time" in view["sigma0_db"].dims
                        else it["x"][-1, 0].numpy(),
                        dtype=np.float32,
                    )
                    examples["images"].append(sig)
                    examples["pred"].append(_boundary(pred))
                    examples["ref"].append(_boundary(ref))
                    examples["titles"].append(
                        f"{meta['stem']} ({meta['n_dates']} dates)\nIoU {c1.iou:.3f}"
                    )
        results[s] = {
            "counts": counts,
            "n_windows": len(windows),
            "n_dates": sorted({m["n_dates"] for _, m in windows}),
        }
    if not results[main_steps]["n_windows"]:
        raise DataError(
            f"has no calendar year with {main_steps} acquisitions in split {split!r}",
            variable="data",
            expected="stacks with enough dates, or a smaller steps",
        )
    return {
        "results": results,
        "main": main_steps,
        "trained_steps": trained,
        "curve": curve,
        "curve_cal": curve_cal,
        "examples": examples,
    }


def _num(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def evaluate(
    checkpoint: str | os.PathLike[str] | torch.nn.Module,
    data: Any = "demo",
    *,
    out: str | os.PathLike[str] | None = None,
    split: str = "test",
    tta: bool = False,
    resolution: Any = "auto",
    min_cluster_px: float | None = None,
    thin_fronts: bool | None = None,
    steps: Any = None,
    ablation: Sequence[Any] | None = None,
    device: str = "auto",
    window: int | None = None,
    overlap: float | None = None,
    batch_size: int = 8,
    resample: bool | str = "auto",
    n_bins: int = 100,
    max_images: int | None = None,
    demo_options: Mapping[str, Any] | None = None,
    figures: bool = True,
    name: str = "metrics",
    progress: bool = False,
    bbox_mode: str = "auto",
) -> dict[str, Any]:
    """Evaluate a checkpoint on a labelled data set and write a report.

    Parameters
    ----------
    checkpoint
        A workbench checkpoint (``best.pt``), ``"demo_zones"`` / ``"demo_outlines"`` (the
        packaged demo models, :func:`workbench.checkpoints.demo_checkpoint`), or a loaded
        model (``load_model``).
    data
        ``"demo"``, a demo-world folder, a CaFFe-layout folder, a stack, a folder of stacks, or
        an ``xarray.Dataset`` (see the module docstring).
    out
        Report folder (``metrics.json``, ``metrics.md``, CSVs, ``figures/``); None: no files.
    split
        ``"test"`` (default), ``"val"``, ``"train"`` or ``"all"``.
    tta
        Test-time augmentation with the 4 rotations.
    resolution
        Pixel size for the MDE: ``"auto"`` (the training run's validation setting when the
        data are of the kind it was trained on, else ``"meta"``), ``"meta"`` (each image's
        own: CaFFe names, stack attributes), a number of metres, or ``None`` (unknown: MDE in
        pixels only; needs ``min_cluster_px``; use this for resized sets such as caffe256).
    min_cluster_px
        Front clusters of at most this many pixels are removed (default: CaFFe's 750 m in
        pixels).
    thin_fronts
        Skeletonise CaFFe reference fronts (resized sets such as caffe256); None: as in the
        training run.
    steps
        Outline models: acquisitions per yearly input (the LAST ones of each calendar year);
        None: as trained (``data.time_steps``); ``"all"``: every acquisition of the year.
    ablation
        Outline models: further ``steps`` settings to evaluate with the same model, e.g.
        ``(1, 3, 5, "all")``; reported as a table (``summary["ablation"]``).
    device
        ``"auto"``, ``"cpu"``, ``"cuda"``…
    window, overlap, batch_size
        Sliding window (default: the checkpoint's validation window and overlap).
    resample
        Resample inputs to the model's training pixel size when both are known (demo-world
        models on stacks of another pixel size); ``"auto"``: not for CaFFe folders, whose
        file names hold the original pixel size; True / False: always / never.
    n_bins
        Bins of the reliability curve / ECE.
    max_images
        Evaluate at most this many images (zones) or yearly windows per setting (outlines).
    demo_options
        Overrides of the in-memory demo world (``{"years": 2}``…).
    figures
        Draw the report figures.
    name
        File stem of the report (``metrics``).
    progress
        Show a progress bar.
    bbox_mode
        How bounding boxes mask predicted fronts (:func:`~workbench.evaluation.bbox_mask`):
        ``"auto"`` (``"caffe"``, the benchmark's own code, for CaFFe folders; else
        ``"polygon"``), ``"caffe"``, ``"polygon"`` or ``"box"``.

    Returns
    -------
    dict
        The summary (also stored in the report JSON under ``extra.summary``): ``task``,
        ``model``, ``checkpoint``, ``data``, ``split``, ``n_images``; for zones ``mde_m``,
        ``mde_px``, ``unit``, ``n_evaluated``, ``n_no_front``, ``zone_iou``,
        ``zone_iou_per_class``, ``mde_by_glacier``, ``mde_by_season``; for outlines ``precision``, ``recall``,
        ``f1``, ``iou``, ``steps``, ``ablation``; ``ece``, ``ece_calibrated`` (None without a
        calibration), ``calibrated``; ``notes``; ``seconds``; ``paths`` (the files written).

    Raises
    ------
    DataError, ConfigError, CheckpointError
        Unreadable data or checkpoint, unknown options, no labelled images in the split.
    """
    if max_images is not None and (not isinstance(max_images, int) or max_images < 1):
        raise ConfigError(
            f"is {max_images!r}",
            variable="max_images",
            expected="an integer ≥ 1, or None for every image",
        )
    parse_steps(steps)  # a bad value is an error for every task, not only time-series ones
    t0 = time.perf_counter()
    if split not in ("test", "val", "train", "all"):
        raise ConfigError(
            f"is {split!r}", variable="split", expected="'test', 'val', 'train' or 'all'"
        )
    ev = _Evaluator(
        checkpoint,
        device=device,
        window=window,
        overlap=overlap,
        batch_size=batch_size,
        tta=tta,
        resample=resample,
    )
    kind, src = _data_kind(data)
    if kind == "caffe" and ev.task != "zones":
        raise ConfigError(
            "is a CaFFe folder but the model maps glacier outlines from time series",
            variable="data",
            expected="a demo world or scene stacks",
        )
    notes: list[str] = []
    thin = bool(
        thin_fronts
        if thin_fronts is not None
        else (ev.data_cfg.get("thin_fronts") if ev.data_cfg.get("kind") == kind else False)
    )
    summary: dict[str, Any] = {
        "task": ev.task,
        "model": ev.name,
        "checkpoint": ev.path,
        "data": "demo"
        if kind == "demo" and src is None
        else (str(src) if not hasattr(src, "data_vars") else "<xarray.Dataset>"),
        "data_kind": kind,
        "split": split,
        "tta": bool(tta),
        "window": ev.window,
        "overlap": ev.overlap,
        "weighting": ev.weighting,
        "model_pixel_size_m": ev.model_pixel_size,
    }
    report_kw: dict[str, Any] = {}
    extra_md: list[str] = []
    if ev.task == "zones":
        if bbox_mode == "auto":  # CaFFe folders: the benchmark's own masking
            bbox_mode = "caffe" if kind == "caffe" else "polygon"
        if bbox_mode not in BBOX_MODES:
            raise ConfigError(
                f"is {bbox_mode!r}", variable="bbox_mode", expected=f"'auto' or one of {BBOX_MODES}"
            )
        summary["bbox_mode"] = bbox_mode
        r = _eval_zones(
            ev,
            kind,
            src,
            split=split,
            resolution=resolution,
            min_cluster_px=min_cluster_px,
            thin=thin,
            max_images=max_images,
            bbox_mode=bbox_mode,
            demo_options=demo_options,
            n_bins=n_bins,
            progress=progress,
            notes=notes,
        )
        mde, zs = r["mde"], r["zones"]
        known = [x for x in (mde, r["baselines"]["complete"]) if x is not None and x.n_evaluated]
        unit = "m" if known and all(x.resolution_known for x in known) else "px"
        summary.update(
            {
                "n_images": mde.n_images,
                "unit": unit,
                "mde_m": _num(mde.mde_m) if unit == "m" else None,
                "mde_px": _num(mde.mde_px),
                "n_evaluated": mde.n_evaluated,
                "n_no_front": mde.n_no_front,
                "n_no_reference": mde.n_no_reference,
                "resolution": r["resolution"],
                "min_cluster_px": r["min_cluster_px"],
                "zone_iou": _num(zs.mean["iou"]),
                "zone_f1": _num(zs.mean["f1"]),
                "zone_iou_per_class": {
                    c: _num(v) for c, v in zip(zs.class_names, zs.per_class["iou"], strict=True)
                },
                **{
                    f"mde_by_{by}": {
                        g.value: {
                            "mde_m": _num(g.mde_m) if unit == "m" else None,
                            "mde_px": _num(g.mde_px),
                            "n_images": g.n_images,
                            "n_no_front": g.n_no_front,
                        }
                        for g in mde.groups.get(by, [])
                    }
                    for by in ("glacier", "season")
                },
            }
        )
        b = r["baselines"]

        def _mde(res: Any) -> Any:
            if res is None:
                return None
            return _num(res.mde_m) if unit == "m" else _num(res.mde_px)

        summary.update(
            {
                "mde": _mde(mde),
                "complete_mde": _mde(b["complete"]),
                "fixed_front_mde": _mde(b["fixed_front"]),
                "fixed_front_source": b["fixed_front_source"],
                "persistence_mde": _mde(b["persistence"]),
                "persistence_n_images": b["persistence"].n_evaluated if b["persistence"] else 0,
                "model_vs_fixed_front": (
                    _num(_mde(b["complete"]) / _mde(b["fixed_front"]))
                    if b["complete"] is not None and _mde(b["fixed_front"])
                    else None
                ),
            }
        )
        report_kw.update(
            result=mde,
            zones=zs,
            images=_LazyList(r["n"], r["raw"]),
            pred_fronts=r["preds"],
            ref_fronts=r["refs"],
        )
        curve, curve_cal = r["curve"], r["curve_cal"]
    else:
        r = _eval_outlines(
            ev,
            kind,
            src,
            split=split,
            steps=steps,
            ablation=ablation,
            max_images=max_images,
            demo_options=demo_options,
            n_bins=n_bins,
            progress=progress,
            notes=notes,
        )
        main = r["results"][r["main"]]
        counts = main["counts"]
        summary.update(
            {
                "n_images": main["n_windows"],
                "steps": r["main"],
                "trained_steps": r["trained_steps"],
                **{k: _num(v) for k, v in counts.metrics().items()},
                "tp": counts.tp,
                "fp": counts.fp,
                "fn": counts.fn,
                "tn": counts.tn,
                "iou_by_glacier": {g: _num(c.iou) for g, c in sorted(counts.groups.items())},
            }
        )
        rows = [
            {
                "steps": s,
                "n_windows": v["n_windows"],
                "dates": ",".join(map(str, v["n_dates"])),
                **{k: _num(x) for k, x in v["counts"].metrics().items()},
                "tp": v["counts"].tp,
                "fp": v["counts"].fp,
                "fn": v["counts"].fn,
            }
            for s, v in sorted(
                r["results"].items(), key=lambda kv: math.inf if kv[0] == "all" else kv[0]
            )
        ]
        if len(rows) > 1:
            summary["ablation"] = rows
            extra_md += [
                "## Acquisitions per yearly input (same model)",
                "",
                "The last N acquisitions of each calendar year as input; TP/FP/FN pooled "
                "over every glacier and year.",
                "",
                markdown_table(
                    rows, ["steps", "dates", "n_windows", "precision", "recall", "f1", "iou"]
                ),
                "",
            ]
        report_kw.update(result=None, outlines=counts)
        curve, curve_cal = r["curve"], r["curve_cal"]
    summary["ece"] = _num(curve.ece)
    summary["ece_calibrated"] = _num(curve_cal.ece) if curve_cal is not None else None
    summary["calibrated"] = curve_cal is not None
    summary["n_bins"] = int(n_bins)
    summary["notes"] = notes
    cal_line = (
        f"ECE of the entropy confidence ({n_bins} bins, {curve.n} pixels): raw "
        f"{curve.ece:.4f}"
        + (
            f", after the checkpoint's calibration {curve_cal.ece:.4f}"
            if curve_cal is not None
            else " (the checkpoint has no calibration)"
        )
    )
    paths: dict[str, Path] = {}
    if out is not None:
        out = Path(out)
        title = f"Evaluation of {ev.name} ({ev.task}) on {summary['data']} [{split}]"
        paths = write_report(
            report_kw.pop("result"),
            out,
            name=name,
            title=title,
            reliability=curve,
            calibration_map=ev.calibration_map,
            extra={"summary": summary},
            figures=figures,
            **report_kw,
        )
        fig_dir = out / "figures"
        if figures and curve_cal is not None and curve_cal.n:
            paths["reliability_calibrated"] = fig_dir / "reliability_calibrated.png"
            _save(plot_reliability_diagram(curve_cal), paths["reliability_calibrated"])
        if figures and ev.task == "outlines" and r["examples"]["images"]:
            ex = r["examples"]
            paths["examples"] = fig_dir / "examples.png"
            _save(
                plot_worst_cases(ex["images"], ex["pred"], ex["ref"], titles=ex["titles"]),
                paths["examples"],
            )
        head = _summary_markdown(summary) + [cal_line, ""] + extra_md
        if notes:
            head += ["Notes: " + "; ".join(notes) + ".", ""]
        figs = [k for k in ("reliability_calibrated", "examples") if k in paths]
        if figs:
            head += ["## More figures", ""]
            head += [f"![{k}](figures/{paths[k].name})" for k in figs] + [""]
        md = paths["markdown"].read_text(encoding="utf-8").split("\n")
        with atomic_path(paths["markdown"]) as tmp:  # summary first, then write_report's tables
            tmp.write_text("\n".join(md[:2] + head + md[2:]), encoding="utf-8")
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    summary["paths"] = {k: str(v) for k, v in paths.items()}
    if out is not None:  # the final summary (with timings and paths) in the JSON too
        payload = json.loads(paths["json"].read_text())
        payload.setdefault("extra", {})["summary"] = json.loads(json.dumps(summary, default=str))
        with atomic_path(paths["json"]) as tmp:
            tmp.write_text(json.dumps(payload, indent=2, allow_nan=False))
    return summary


def _save(fig: Any, path: Path, dpi: int = 110) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def _summary_markdown(s: Mapping[str, Any]) -> list[str]:
    lines = [
        "## Summary",
        "",
        f"Model `{s['model']}` ({s['task']}), checkpoint `{s['checkpoint']}`; "
        f"data `{s['data']}` ({s['data_kind']}), split `{s['split']}`"
        f"{', TTA (4 rotations)' if s['tta'] else ''}.",
        "",
    ]
    if s["task"] == "zones":
        u = s["unit"]
        rows = [
            {
                "images": s["n_images"],
                "evaluated": s["n_evaluated"],
                "no front": s["n_no_front"],
                "MDE (m)": _fmt(s["mde_m"]),
                "MDE (px)": _fmt(s["mde_px"]),
                "zone IoU": _fmt(s["zone_iou"]),
                "ECE": _fmt(s["ece"], 4),
                "ECE calibrated": _fmt(s["ece_calibrated"], 4),
            }
        ]
        guesses = [
            {
                "": "**model**",
                f"MDE ({u})": _fmt(s["mde"]),
                f"complete MDE ({u})": _fmt(s["complete_mde"]),
                "no front": s["n_no_front"],
                "images": s["n_images"],
            },
            {
                "": "fixed-front baseline",
                f"MDE ({u})": _fmt(s["fixed_front_mde"]),
                f"complete MDE ({u})": _fmt(s["fixed_front_mde"]),
                "no front": 0,
                "images": s["n_images"] if s["fixed_front_mde"] is not None else 0,
            },
        ]
        if s["persistence_mde"] is not None:
            guesses.append(
                {
                    "": "persistence baseline",
                    f"MDE ({u})": _fmt(s["persistence_mde"]),
                    f"complete MDE ({u})": "–",
                    "no front": 0,
                    "images": s["persistence_n_images"],
                }
            )
        verdict = (
            "no fixed-front baseline was available (see the notes)"
            if s["model_vs_fixed_front"] is None
            else f"complete MDE = {s['model_vs_fixed_front']:.2f} × the fixed-front baseline "
            f"({'better' if s['model_vs_fixed_front'] < 1 else 'NOT better'} than the "
            f"model-free guess; baseline from {s['fixed_front_source']})"
        )
        return lines + [
            markdown_table(rows),
            "",
            "### Against model-free baselines (docs/science.md §4)",
            "",
            markdown_table(guesses),
            "",
            "The complete MDE scores each image without a predicted front with the "
            "fixed-front baseline's distances; the persistence baseline predicts the "
            "previous acquisition's reference front (same glacier and image size; "
            "meaningful where a glacier's images are co-registered). " + verdict + ".",
            "",
        ]
    else:
        rows = [
            {
                "yearly inputs": s["n_images"],
                "acquisitions": s["steps"],
                "precision": _fmt(s["precision"]),
                "recall": _fmt(s["recall"]),
                "F1": _fmt(s["f1"]),
                "IoU": _fmt(s["iou"]),
                "ECE": _fmt(s["ece"], 4),
                "ECE calibrated": _fmt(s["ece_calibrated"], 4),
            }
        ]
    return lines + [markdown_table(rows), ""]


def fit_calibration(
    checkpoint: str | os.PathLike[str] | torch.nn.Module,
    data: Any = "demo",
    *,
    split: str = "val",
    n_bins: int = 100,
    min_count: int = 1,
    tta: bool = False,
    steps: Any = None,
    device: str = "auto",
    max_images: int | None = None,
    demo_options: Mapping[str, Any] | None = None,
) -> CalibrationMap:
    """Fit a :class:`CalibrationMap` (raw → calibrated entropy confidence) on a split.

    The model predicts ``split`` (default the validation glaciers of its training run) exactly
    as :func:`evaluate` does; the reliability curve of every labelled pixel is accumulated and
    :meth:`CalibrationMap.fit` turns it into the map (GlaViTU's recipe). Store it with
    :func:`save_calibration`.
    """
    ev = _Evaluator(checkpoint, device=device, tta=tta)
    ev.calibration_map, ev.temperature = None, None  # fit on the raw confidence
    kind, src = _data_kind(data)
    notes: list[str] = []
    if ev.task == "zones":
        r = _eval_zones(
            ev,
            kind,
            src,
            split=split,
            resolution="auto",
            min_cluster_px=None,
            thin=False,
            max_images=max_images,
            demo_options=demo_options,
            n_bins=n_bins,
            progress=False,
            notes=notes,
        )
    else:
        r = _eval_outlines(
            ev,
            kind,
            src,
            split=split,
            steps=steps,
            ablation=None,
            max_images=max_images,
            demo_options=demo_options,
            n_bins=n_bins,
            progress=False,
            notes=notes,
        )
    return CalibrationMap.fit(r["curve"], None, min_count=min_count)
