"""Scene inference: overlapping windows over a whole stack, any size, on its own grid.

:func:`predict` returns an :class:`xarray.Dataset` in memory (small scenes);
:func:`predict_to_file` streams a scene of any size tile by tile into a Zarr store, so peak
memory depends on the tile size, never on the scene size. Both run the same engine:

1. **Windows.** A regular grid of windows of ``window`` *model* pixels (stride
   ``window · (1 − overlap)``, the last window flush with the border; a scene smaller than
   a window gets one window clipped to the scene). Outputs are blended with smooth weights
   (:func:`~workbench.inference.blending.window_weights`: Gaussian by default), so there are
   no seams.
2. **Resolution.** When the checkpoint records the model's pixel size and the scene's
   differs, each window is cut on the scene grid with the extent of ``window`` model pixels,
   resampled bilinearly to the model's pixel size (anti-aliased when shrinking), predicted,
   and its probabilities resampled back onto the scene pixels before blending: the output
   is always on the input grid and CRS.
3. **Inputs** come from the checkpoint (:class:`~workbench.inference.InputSpec`): variables,
   σ0 representation, normalisation, bands; for a multi-source model (GlaViTU) each source
   from its stack variables (``slope`` derived from ``dem`` window by window, with the
   values of the whole-scene slope), optional sources left out when the stack lacks them
   (``attrs["input_sources"]`` lists those used). NaN is nodata: it is 0 (the channel mean)
   for the model, and a pixel with no finite input (at that date; for a time-series model
   at any of its dates) gets NaN probabilities, confidence and uncertainty and label 0.
4. **Time.** A single-image model predicts every date. A time-series model predicts, with
   ``temporal``:

   ``"year"`` (default)
       one prediction per calendar year from that year's acquisitions; a year with more
       than ``steps`` acquisitions (default: the checkpoint's ``time_steps``) uses ``steps``
       of them evenly spread over the year (first and last included).
   ``"window"``
       one prediction per date from the last ``steps`` acquisitions up to and including it
       (fewer at the start of the series).
   ``"all"``
       one prediction from every acquisition (at most ``steps``, evenly spread).

   The output ``time`` is the date of the last acquisition used; ``time_first`` and
   ``n_acquisitions`` (coordinates along ``time``) give the first date and the count; the
   input's other per-date coordinates (``sensor``, ``orbit``, …) are those of the last date.
5. **Batching.** Windows of several dates are batched together (``batch_size`` per forward
   pass) under ``torch.inference_mode`` with bf16 autocast on a GPU.

Output variables (dims ``(time, y, x)`` unless noted):

``probabilities`` (time, class, y, x) float32
    Mean class probabilities (over ensemble members and test-time transforms); coordinate
    ``class`` holds the class names and ``class_value`` their on-disk values when known.
``zones`` / ``mask`` / ``labels`` uint8
    The argmax: ``zones`` (class ids 0..3, CaFFe order) for 4-class zone models, ``mask``
    (1 glacier) for 2-class models, ``labels`` otherwise; 0 at nodata.
``confidence`` float32
    Entropy confidence ``1 − H(p)/log2 K`` (:func:`workbench.evaluation.entropy_confidence`)
    mapped through the checkpoint's :class:`~workbench.evaluation.CalibrationMap` when it
    has one (``attrs["calibrated"]`` says which).
``uncertainty`` float32
    Only with more than one member (``tta`` and/or an ensemble): the standard deviation of
    the predicted class's probability over members
    (:func:`workbench.evaluation.ensemble_mean_std`), blended like the probabilities.
    Absent otherwise.

Examples
--------
>>> import numpy as np, xarray as xr
>>> from workbench.models import create_model
>>> stack = xr.Dataset(
...     {"sigma0_db": (("time", "y", "x"), np.full((2, 40, 50), -12.0, np.float32))},
...     coords={"time": np.array(["2020-03-01", "2020-03-13"], "datetime64[ns]"),
...             "y": 8.7e6 - 10 - 20 * np.arange(40.0), "x": 5e5 + 10 + 20 * np.arange(50.0)},
... ).rio.write_crs("EPSG:32633")
>>> out = predict(stack, create_model("caffe_unet", preset="small"), window=32)
>>> dict(out.probabilities.sizes)
{'time': 2, 'class': 4, 'y': 40, 'x': 50}
>>> out.rio.transform() == stack.rio.transform(), str(out.rio.crs)
(True, 'EPSG:32633')
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
import xarray as xr

from workbench._io import atomic_path
from workbench.data.demo import db_to_uint8
from workbench.data.stack import open_stack
from workbench.errors import ConfigError, DataError, StackValidationError
from workbench.evaluation import entropy_confidence
from workbench.inference.blending import WEIGHTINGS, window_starts, window_weights
from workbench.inference.predictor import InputSpec, Predictor, as_predictor

__all__ = [
    "DEFAULT_WINDOW",
    "TEMPORAL_MODES",
    "OUTPUTS",
    "predict",
    "predict_to_file",
    "open_prediction",
    "prediction_schedule",
]

DEFAULT_WINDOW = 384
"""Window side in model pixels when neither the caller nor the checkpoint gives one
(docs/science.md §2.5: 384 px windows, stride 192, Gaussian weighting)."""

TEMPORAL_MODES: tuple[str, ...] = ("year", "window", "all")
"""How a time-series model's inputs are chosen (see the module docstring)."""

_MIB = 1024 * 1024


# ----------------------------------------------------------------------------------- schedule
@dataclasses.dataclass(frozen=True)
class _Prediction:
    dates: np.ndarray  # indices into the stack's time axis, ascending
    time: np.datetime64  # label: the last date used


def _even(indices: np.ndarray, steps: int | None) -> np.ndarray:
    if steps is None or len(indices) <= steps:
        return indices
    pick = np.unique(np.round(np.linspace(0, len(indices) - 1, int(steps))).astype(int))
    return indices[pick]


def prediction_schedule(
    times: Any, *, temporal: bool, mode: str = "year", steps: int | None = None
) -> list[np.ndarray]:
    """Which acquisitions (indices into ``times``) each prediction uses.

    Parameters
    ----------
    times
        Acquisition dates, ascending.
    temporal
        False for a single-image model: one prediction per date.
    mode
        For a time-series model: ``"year"``, ``"window"`` or ``"all"`` (module docstring).
    steps
        Acquisitions per prediction (``"window"``: required; ``"year"``/``"all"``: a cap,
        ``None`` for no cap).

    Examples
    --------
    >>> t = pd.to_datetime(["2019-03-01", "2019-07-01", "2019-11-01", "2020-05-01"])
    >>> [i.tolist() for i in prediction_schedule(t, temporal=True)]
    [[0, 1, 2], [3]]
    >>> [i.tolist() for i in prediction_schedule(t, temporal=True, mode="window", steps=2)]
    [[0], [0, 1], [1, 2], [2, 3]]
    >>> [i.tolist() for i in prediction_schedule(t, temporal=True, steps=2)]
    [[0, 2], [3]]
    """
    times = pd.DatetimeIndex(np.asarray(times, dtype="datetime64[ns]"))
    n = len(times)
    if n == 0:
        raise StackValidationError("has no dates", variable="time", expected="≥ 1 date")
    if steps is not None and int(steps) < 1:
        raise ConfigError(f"is {steps}", variable="steps", expected="≥ 1 or None")
    if not temporal:
        return [np.array([i]) for i in range(n)]
    if mode == "year":
        years = times.year.to_numpy()
        return [_even(np.flatnonzero(years == y), steps) for y in np.unique(years)]
    if mode == "window":
        if steps is None:
            raise ConfigError(
                "is needed for temporal='window' (the checkpoint records no time_steps)",
                variable="steps",
                expected="an integer ≥ 1",
            )
        return [np.arange(max(0, i - int(steps) + 1), i + 1) for i in range(n)]
    if mode == "all":
        return [_even(np.arange(n), steps)]
    raise ConfigError(f"is {mode!r}", variable="temporal", expected=f"one of {TEMPORAL_MODES}")


# -------------------------------------------------------------------------------------- input
_DERIVED: dict[str, str] = {"slope": "dem"}
"""Variables computed from another when a stack lacks them: ``slope`` (degrees) from ``dem``."""


def _entry(ds: xr.Dataset, name: str) -> tuple[str, bool, int]:
    """(variable, has_time, channels) of a stack variable (or of the one it derives from)."""
    da = ds[_DERIVED.get(name, name)] if name not in ds.data_vars else ds[name]
    dims = set(da.dims)
    if not {"y", "x"} <= dims or not dims <= {"time", "band", "y", "x"}:
        raise StackValidationError(
            f"has dims {da.dims}",
            variable=name,
            expected="(time, y, x), (time, band, y, x), (y, x) or (band, y, x)",
        )
    return name, "time" in dims, int(ds.sizes["band"]) if "band" in dims else 1


def _has(ds: xr.Dataset, name: str) -> bool:
    return name in ds.data_vars or (name in _DERIVED and _DERIVED[name] in ds.data_vars)


def _resolve(
    ds: xr.Dataset, spec: InputSpec, path: Any = None
) -> tuple[list[tuple[str, bool, int]], tuple[str, ...] | None]:
    """The channel layout [(variable, has_time, channels)] checked against the stack and the
    model, and for a multi-source model the sources present (model order)."""
    have = sorted(map(str, ds.data_vars))
    if spec.sources is None:
        out = []
        for name in spec.variables:
            if not _has(ds, name):
                raise StackValidationError(
                    f"is missing; the model ({spec.model_name or 'model'}) needs "
                    f"{list(spec.variables)}",
                    path=path,
                    variable=name,
                    expected=f"a stack with {list(spec.variables)} (it has {have})",
                )
            out.append(_entry(ds, name))
        channels = sum(c for _, _, c in out)
        if channels != spec.channels:
            raise StackValidationError(
                f"give {channels} channels; the model takes {spec.channels}",
                path=path,
                variable=", ".join(spec.variables),
                expected=f"{spec.channels} channels",
            )
        return out, None
    out, present = [], []
    for src in spec.sources:
        missing = [v for v in src.variables if not _has(ds, v)]
        if missing and src.optional and len(missing) == len(src.variables):
            continue  # an optional source left out: the model's learned "missing" input
        if missing:
            need = [
                v for v in src.variables if not (v in _DERIVED and _DERIVED[v] in src.variables)
            ]
            notes = [f"{v} is derived from {_DERIVED[v]}" for v in src.variables if v in _DERIVED]
            raise StackValidationError(
                f"is missing; the {spec.model_name or 'model'} checkpoint builds its source "
                f"{src.name!r} from {list(src.variables)}",
                path=path,
                variable=missing[0],
                expected=f"a stack with {need}"
                + (f" ({', '.join(notes)})" if notes else "")
                + (", or none of them (the source is optional)" if src.optional else "")
                + f"; the stack has {have}",
            )
        entries = [_entry(ds, v) for v in src.variables]
        channels = sum(c for _, _, c in entries)
        if channels != src.channels:
            banded = any(
                "band" in ds[_DERIVED.get(v, v) if v not in ds else v].dims for v in src.variables
            )
            bands = (
                f" after selecting the checkpoint's bands {list(spec.bands)}"
                if spec.bands and banded
                else ""
            )
            raise StackValidationError(
                f"give {channels} channels{bands}; the model's source {src.name!r} takes "
                f"{src.channels}",
                path=path,
                variable=", ".join(src.variables),
                expected=f"{src.channels} channels for source {src.name!r}",
            )
        out.extend(entries)
        present.append(src.name)
    if not present:
        raise StackValidationError(
            "holds none of the model's sources",
            path=path,
            variable=", ".join(v for s in spec.sources for v in s.variables),
            expected=f"the variables of {[(s.name, list(s.variables)) for s in spec.sources]}",
        )
    return out, tuple(present)


def _layout(ds: xr.Dataset, spec: InputSpec, path: Any = None) -> list[tuple[str, bool, int]]:
    """[(variable, has_time, channels)] checked against the stack and the model."""
    return _resolve(ds, spec, path)[0]


def _select_bands(ds: xr.Dataset, spec: InputSpec, path: Any = None) -> xr.Dataset:
    """The checkpoint's bands (``train_config.data.bands``), in its order."""
    if not spec.bands or "band" not in ds.dims:
        return ds
    have = [str(b) for b in ds["band"].values] if "band" in ds.coords else []
    missing = [b for b in spec.bands if b not in have]
    if missing:
        raise StackValidationError(
            f"lacks the bands {missing} the model was trained on",
            path=path,
            variable="band",
            expected=f"band coordinate values {list(spec.bands)} (the stack has {have})",
        )
    return ds.sel(band=list(spec.bands))


def _slope_spacing(ds: xr.Dataset) -> float:
    """Pixel size for the DEM gradient, as :func:`workbench.training.datamodules.add_slope`."""
    px = ds.attrs.get("pixel_size")
    if px is None and "x" in ds.coords and ds.sizes.get("x", 0) > 1:
        px = abs(float(ds["x"].values[1] - ds["x"].values[0]))
    return float(px or 1.0)


def _read_slope(ds: xr.Dataset, dem: str, sel: dict[str, Any]) -> np.ndarray:
    """Slope (degrees) over ``sel`` from the DEM read with one pixel of margin, so every
    pixel gets the central (or, at the scene border, one-sided) difference of the whole
    scene: the values of ``add_slope`` on the full stack."""
    height, width = ds.sizes["y"], ds.sizes["x"]
    ys, xs = sel["y"], sel["x"]
    y0, y1 = max(ys.start - 1, 0), min(ys.stop + 1, height)
    x0, x1 = max(xs.start - 1, 0), min(xs.stop + 1, width)
    da = ds[dem].transpose(*[d for d in ("time", "band", "y", "x") if d in ds[dem].dims])
    z = np.asarray(da.isel({**sel, "y": slice(y0, y1), "x": slice(x0, x1)}).values, np.float64)
    px = _slope_spacing(ds)
    if z.shape[-2] < 2 or z.shape[-1] < 2:
        return np.zeros((*z.shape[:-2], ys.stop - ys.start, xs.stop - xs.start), np.float32)
    gy, gx = np.gradient(z, px, axis=(-2, -1))
    slope = np.degrees(np.arctan(np.hypot(gx, gy))).astype(np.float32)
    return slope[..., ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]


def _read_region(
    ds: xr.Dataset,
    layout: list[tuple[str, bool, int]],
    spec: InputSpec,
    dates: np.ndarray,
    y0: int,
    y1: int,
    x0: int,
    x1: int,
) -> np.ndarray:
    """``(len(dates), C, y1 − y0, x1 − x0)`` float32 in the model's representation (not
    normalised), NaN for nodata and outside the scene."""
    height, width = ds.sizes["y"], ds.sizes["x"]
    channels = sum(c for _, _, c in layout)
    out = np.full((len(dates), channels, y1 - y0, x1 - x0), np.nan, np.float32)
    sy0, sy1, sx0, sx1 = max(y0, 0), min(y1, height), max(x0, 0), min(x1, width)
    if sy1 <= sy0 or sx1 <= sx0:
        return out
    dst = (slice(None), slice(None), slice(sy0 - y0, sy1 - y0), slice(sx0 - x0, sx1 - x0))
    c = 0
    for name, has_time, nch in layout:
        sel: dict[str, Any] = {"y": slice(sy0, sy1), "x": slice(sx0, sx1)}
        if has_time:
            sel["time"] = dates
        if name not in ds.data_vars and name in _DERIVED:
            vals = _read_slope(ds, _DERIVED[name], sel)
        else:
            da = ds[name].transpose(*[d for d in ("time", "band", "y", "x") if d in ds[name].dims])
            vals = np.asarray(da.isel(sel).values, dtype=np.float32)
        if not has_time:
            vals = np.broadcast_to(vals, (len(dates), *vals.shape))
        out[(dst[0], slice(c, c + nch), *dst[2:])] = vals.reshape(len(dates), nch, *vals.shape[-2:])
        c += nch
    if spec.representation == "caffe8":
        finite = np.isfinite(out)
        out = np.where(finite, db_to_uint8(out).astype(np.float32) / np.float32(255.0), np.nan)
    return out.astype(np.float32, copy=False)


# ---------------------------------------------------------------------------------- geometry
def _pixel_size(ds: xr.Dataset) -> tuple[float, float]:
    """(dy, dx) in CRS units (metres), from the transform, else attrs, else 1.

    A geographic CRS (degrees) is refused: its "pixel size" is not in metres, and a model of
    80 m pixels would resample the scene to millions of pixels."""
    crs = ds.rio.crs
    if crs is not None and crs.is_geographic:
        raise StackValidationError(
            f"has the geographic CRS {crs.to_string()} (pixels in degrees)",
            variable="crs",
            expected="a projected CRS in metres: reproject first, e.g. "
            "ds.rio.reproject(ds.rio.estimate_utm_crs()) or gdalwarp -t_srs EPSG:326NN",
        )
    try:
        rx, ry = ds.rio.resolution(recalc=True)
        return abs(float(ry)), abs(float(rx))
    except Exception:
        px = float(ds.attrs.get("pixel_size", 0.0) or 1.0)
        return px, px


@dataclasses.dataclass(frozen=True)
class _Plan:
    height: int
    width: int
    wy: int  # window on the scene grid
    wx: int
    my: int  # window fed to the model
    mx: int
    ys: tuple[int, ...]
    xs: tuple[int, ...]
    weights: np.ndarray

    @property
    def resample(self) -> tuple[int, int] | None:
        return (self.my, self.mx) if (self.my, self.mx) != (self.wy, self.wx) else None

    def starts_in(self, starts: Sequence[int], w: int, a: int, b: int) -> list[int]:
        return [s for s in starts if s < b and s + w > a]


MIN_WINDOW = 16
"""The smallest sliding window (model pixels): every model in the zoo halves its input at
least four times, so a smaller window holds less than one bottleneck pixel."""


def check_window_options(
    *,
    window: int | None = None,
    overlap: float = 0.5,
    batch_size: int = 8,
    weighting: str = "gaussian",
    steps: int | None = None,
    max_memory_mb: float = 1024.0,
) -> None:
    """Refuse sliding-window options outside their valid range, naming the option.

    >>> check_window_options(window=384, overlap=0.5, batch_size=8)
    >>> check_window_options(window=0)
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: variable 'window' is 0 (expected an integer ≥ 16 model pixels, or None for the checkpoint's window)
    """

    def is_int(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if window is not None and (not is_int(window) or window < MIN_WINDOW):
        raise ConfigError(
            f"is {window!r}",
            variable="window",
            expected=f"an integer ≥ {MIN_WINDOW} model pixels, or None for the checkpoint's window",
        )
    if not is_int(batch_size) or batch_size < 1:
        raise ConfigError(
            f"is {batch_size!r}",
            variable="batch_size",
            expected="an integer ≥ 1 (windows per forward pass)",
        )
    if not isinstance(overlap, (int, float)) or not 0.0 <= float(overlap) < 1.0:
        raise ConfigError(f"is {overlap!r}", variable="overlap", expected="0 ≤ overlap < 1")
    if weighting not in WEIGHTINGS:
        raise ConfigError(
            f"is {weighting!r}", variable="weighting", expected=f"one of {WEIGHTINGS}"
        )
    if steps is not None and (not is_int(steps) or steps < 1):
        raise ConfigError(
            f"is {steps!r}",
            variable="steps",
            expected="an integer ≥ 1 (acquisitions per prediction), or None",
        )
    if not isinstance(max_memory_mb, (int, float)) or not max_memory_mb > 0:
        raise ConfigError(
            f"is {max_memory_mb!r}", variable="max_memory_mb", expected="a number of megabytes > 0"
        )


def _plan(ds: xr.Dataset, spec: InputSpec, window: int, overlap: float, weighting: str) -> _Plan:
    """The window layout (options already checked by :func:`check_window_options`)."""
    height, width = int(ds.sizes["y"]), int(ds.sizes["x"])
    if height < 1 or width < 1:
        raise StackValidationError(
            f"is {height} × {width} px", variable="sigma0_db", expected="a non-empty scene"
        )
    dy, dx = _pixel_size(ds)
    fy = spec.pixel_size / dy if spec.pixel_size else 1.0  # scene pixels per model pixel
    fx = spec.pixel_size / dx if spec.pixel_size else 1.0
    need_y, need_x = math.ceil(MIN_WINDOW * fy), math.ceil(MIN_WINDOW * fx)
    if height < need_y or width < need_x:
        raise StackValidationError(
            f"is {height} × {width} px, smaller than the model's smallest window",
            variable="sigma0_db",
            expected=f"at least {need_y} × {need_x} px ({MIN_WINDOW} model pixels"
            + (f" of {spec.pixel_size:g} m" if spec.pixel_size else "")
            + ")",
        )
    sides = []
    for length, f in ((height, fy), (width, fx)):
        w = min(max(1, round(window * f)), length)
        if round(w / f) < spec.min_size:  # a model with a target crop needs a minimum input
            w = math.ceil(spec.min_size * f)
        m = w if abs(f - 1.0) < 1e-9 else max(1, round(w / f))
        sides.append((w, max(m, spec.min_size)))
    (wy, my), (wx, mx) = sides
    return _Plan(
        height,
        width,
        wy,
        wx,
        my,
        mx,
        tuple(window_starts(height, wy, overlap)),
        tuple(window_starts(width, wx, overlap)),
        window_weights((wy, wx), weighting),
    )  # type: ignore[arg-type]


def _tile_budget(
    plan: _Plan, spec: InputSpec, n_members: int, tile: int, dates_per_pred: int, k: int
) -> float:
    """Approximate bytes of one tile's working set for one prediction: the input region
    (plus its nodata mask), the accumulators, and the tile's outputs with the copies made
    while they are encoded into the store."""
    ry, rx = min(tile, plan.height) + 2 * plan.wy, min(tile, plan.width) + 2 * plan.wx
    extra = 1 if n_members > 1 else 0
    region = ry * rx * 4 * (dates_per_pred * (spec.channels + 0.25) + k + extra + 1)
    outputs = min(tile, plan.height) * min(tile, plan.width) * 4 * (k + 2 + extra) * 3
    return region + outputs


def _choose_tiles(
    plan: _Plan,
    spec: InputSpec,
    n_members: int,
    preds: list[_Prediction],
    tile: int | None,
    max_memory_mb: float,
    streaming: bool,
) -> tuple[int, int]:
    """(tile side in scene px, predictions per pass) within the memory budget."""
    budget = float(max_memory_mb) * _MIB
    per_pred_dates = max(len(p.dates) for p in preds)
    k = max(spec.num_classes, 2)
    if tile is None:
        side = max(plan.height, plan.width)
        if streaming or _tile_budget(plan, spec, n_members, side, per_pred_dates, k) > budget:
            side = 2048
            while (
                side > 256 and _tile_budget(plan, spec, n_members, side, per_pred_dates, k) > budget
            ):
                side -= 256
        tile = side
    tile = max(1, int(tile))
    per_pred = _tile_budget(plan, spec, n_members, tile, per_pred_dates, k)
    group = int(max(1, min(len(preds), budget // max(per_pred, 1))))
    return tile, group


def _tiles(plan: _Plan, tile: int) -> Iterator[tuple[int, int, int, int]]:
    for a in range(0, plan.height, tile):
        for c in range(0, plan.width, tile):
            yield a, min(a + tile, plan.height), c, min(c + tile, plan.width)


# ------------------------------------------------------------------------------------ engine
def _run_tile(
    ds: xr.Dataset,
    layout: list[tuple[str, bool, int]],
    predictor: Predictor,
    plan: _Plan,
    preds: list[_Prediction],
    box: tuple[int, int, int, int],
    batch_size: int,
    sources: tuple[str, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Predict the output tile ``box`` = (a, b, c, d) for ``preds``; return its arrays."""
    spec = predictor.spec
    a, b, c, d = box
    ys = plan.starts_in(plan.ys, plan.wy, a, b)
    xs = plan.starts_in(plan.xs, plan.wx, c, d)
    ry0, ry1 = ys[0], ys[-1] + plan.wy
    rx0, rx1 = xs[0], xs[-1] + plan.wx
    union = np.unique(np.concatenate([p.dates for p in preds]))
    where = {int(t): i for i, t in enumerate(union)}
    region = _read_region(ds, layout, spec, union, ry0, ry1, rx0, rx1)
    finite = np.isfinite(region).any(axis=1)  # (dates, ry, rx)
    device = predictor.device
    weights = torch.from_numpy(plan.weights).to(device)
    wsum = torch.zeros(ry1 - ry0, rx1 - rx0, dtype=torch.float32, device=device)
    positions = [(y - ry0, x - rx0) for y in ys for x in xs]
    for ly, lx in positions:
        wsum[ly : ly + plan.wy, lx : lx + plan.wx] += weights
    k = spec.num_classes
    acc: torch.Tensor | None = None
    sacc: torch.Tensor | None = None
    tasks = [(j, ly, lx) for j in range(len(preds)) for ly, lx in positions]
    local = [np.array([where[int(t)] for t in p.dates]) for p in preds]
    bs = max(1, int(batch_size))
    i = 0
    while i < len(tasks):
        # a batch holds inputs of one shape (time series: one number of acquisitions)
        n_t = len(local[tasks[i][0]])
        batch = [tasks[i]]
        i += 1
        while i < len(tasks) and len(batch) < bs and len(local[tasks[i][0]]) == n_t:
            batch.append(tasks[i])
            i += 1
        if spec.temporal:
            x = np.stack(
                [region[local[j], :, ly : ly + plan.wy, lx : lx + plan.wx] for j, ly, lx in batch]
            )
        else:
            x = np.stack(
                [
                    region[local[j][0], :, ly : ly + plan.wy, lx : lx + plan.wx]
                    for j, ly, lx in batch
                ]
            )
        mean, std = predictor(torch.from_numpy(x), size=plan.resample, sources=sources)
        if acc is None:
            k = mean.shape[1]
            acc = torch.zeros(len(preds), k, *wsum.shape, dtype=torch.float32, device=device)
            if std is not None:
                sacc = torch.zeros(len(preds), *wsum.shape, dtype=torch.float32, device=device)
        for n, (j, ly, lx) in enumerate(batch):
            acc[j, :, ly : ly + plan.wy, lx : lx + plan.wx].addcmul_(mean[n].float(), weights)
            if sacc is not None and std is not None:
                sacc[j, ly : ly + plan.wy, lx : lx + plan.wx].addcmul_(std[n].float(), weights)
    assert acc is not None
    return _finish(acc, sacc, wsum, finite, local, predictor, (a - ry0, b - ry0, c - rx0, d - rx0))


_STRIP = 256  # rows finished at a time: keeps the float64 temporaries of a tile small


def _finish(
    acc: torch.Tensor,
    sacc: torch.Tensor | None,
    wsum: torch.Tensor,
    finite: np.ndarray,
    local: list[np.ndarray],
    predictor: Predictor,
    box: tuple[int, int, int, int],
) -> dict[str, np.ndarray]:
    """Normalise the accumulators over ``box`` (region coordinates) into the output arrays,
    a strip of rows at a time: probabilities, labels, confidence, uncertainty."""
    spec = predictor.spec
    y0, y1, x0, x1 = box
    n, k = acc.shape[0], acc.shape[1]
    h, w = y1 - y0, x1 - x0
    out = {
        "probabilities": np.empty((n, k, h, w), np.float32),
        spec.label_name: np.empty((n, h, w), np.uint8),
        "confidence": np.empty((n, h, w), np.float32),
    }
    if sacc is not None:
        out["uncertainty"] = np.empty((n, h, w), np.float32)
    for r0 in range(0, h, _STRIP):
        r1 = min(r0 + _STRIP, h)
        rows = slice(y0 + r0, y0 + r1)
        weight = wsum[rows, x0:x1]
        probs = (acc[:, :, rows, x0:x1] / weight).cpu().numpy()
        valid = np.stack([finite[idx][:, rows, x0:x1].any(axis=0) for idx in local])
        invalid = ~valid
        labels = probs.argmax(axis=1).astype(np.uint8)
        labels[invalid] = 0
        out[spec.label_name][:, r0:r1] = labels
        conf = entropy_confidence(probs, axis=1)
        if predictor.calibration_map is not None:
            conf = predictor.calibration_map(conf)
        conf[invalid] = np.nan
        out["confidence"][:, r0:r1] = conf
        probs[np.broadcast_to(invalid[:, None], probs.shape)] = np.nan
        out["probabilities"][:, :, r0:r1] = probs
        if sacc is not None:
            std = (sacc[:, rows, x0:x1] / weight).cpu().numpy()
            std[invalid] = np.nan
            out["uncertainty"][:, r0:r1] = std
    return out


# ----------------------------------------------------------------------------------- outputs
def _coords(ds: xr.Dataset, spec: InputSpec, preds: list[_Prediction]) -> dict[str, Any]:
    times = ds["time"].values
    coords: dict[str, Any] = {
        "time": ("time", np.array([p.time for p in preds], dtype="datetime64[ns]")),
        "time_first": (
            "time",
            np.array([times[p.dates[0]] for p in preds], dtype="datetime64[ns]"),
        ),
        "n_acquisitions": ("time", np.array([len(p.dates) for p in preds], dtype=np.int32)),
        "class": ("class", np.array(spec.class_names[: spec.num_classes], dtype=str)),
        "y": ds["y"].values,
        "x": ds["x"].values,
    }
    if spec.class_values is not None:
        coords["class_value"] = ("class", np.array(spec.class_values, dtype=np.int32))
    last = np.array([p.dates[-1] for p in preds])
    for name, coord in ds.coords.items():  # per-date metadata (sensor, orbit, …) of the last date
        if name in coords or coord.dims != ("time",) or coord.dtype.kind not in "biufUSO":
            continue
        values = np.asarray(coord.values)[last]
        coords[str(name)] = ("time", values.astype(str) if values.dtype.kind == "O" else values)
    return coords


def _attrs(predictor: Predictor, plan: _Plan, options: dict[str, Any]) -> dict[str, Any]:
    spec = predictor.spec
    label = spec.label_name
    return {
        "title": "glacier workbench scene prediction",
        "model": spec.model_name,
        "checkpoints": [c or "" for c in predictor.checkpoints],
        "members": int(predictor.n_members),
        "tta": list(predictor.transforms) if len(predictor.transforms) > 1 else [],
        "window_model_px": int(options["window"]),
        "window_scene_px": [plan.wy, plan.wx],
        "overlap": float(options["overlap"]),
        "weighting": str(options["weighting"]),
        "model_pixel_size": spec.pixel_size if spec.pixel_size else "scene",
        "temporal": str(options["temporal"]) if spec.temporal else "per date",
        "steps": int(options["steps"]) if options["steps"] else "all",
        "input_representation": spec.representation,
        "input_variables": list(spec.variables),
        "calibrated": int(predictor.calibration_map is not None),
        "label_variable": label,
        "nodata": "NaN probabilities, confidence and uncertainty; label 0",
    }


_VAR_ATTRS = {
    "probabilities": {"long_name": "mean class probability", "units": "1"},
    "zones": {"long_name": "calving-front zone class id (0 na, 1 rock, 2 glacier, 3 ocean)"},
    "mask": {"long_name": "glacier mask (1 glacier)"},
    "labels": {"long_name": "predicted class id"},
    "confidence": {
        "long_name": "entropy confidence 1 - H(p)/log2(K), calibrated when attrs['calibrated']",
        "units": "1",
    },
    "uncertainty": {
        "long_name": "std of the predicted class probability over ensemble "
        "members and test-time transforms",
        "units": "1",
    },
}


def _dataset(
    ds: xr.Dataset,
    spec: InputSpec,
    preds: list[_Prediction],
    arrays: dict[str, Any],
    attrs: dict[str, Any],
) -> xr.Dataset:
    dims = {"probabilities": ("time", "class", "y", "x")}
    data_vars = {
        name: (dims.get(name, ("time", "y", "x")), arr, _VAR_ATTRS.get(name, {}))
        for name, arr in arrays.items()
    }
    out = xr.Dataset(data_vars, coords=_coords(ds, spec, preds), attrs=attrs)
    if "spatial_ref" in ds.coords:
        out = out.assign_coords(spatial_ref=ds["spatial_ref"])
    crs = ds.rio.crs
    if crs is not None:
        out = out.rio.write_crs(crs)
        try:
            out = out.rio.write_transform(ds.rio.transform(recalc=True))
        except Exception:  # no evenly spaced coordinates: leave the transform to the coords
            pass
    for name in out.data_vars:
        out[name].attrs.pop("grid_mapping", None)
        out[name].encoding.pop("grid_mapping", None)
    return out


OUTPUTS: tuple[str, ...] = ("probabilities", "labels", "confidence", "uncertainty")
"""Names for ``outputs=``; ``labels`` is the ``zones`` / ``mask`` / ``labels`` variable."""


def _variables(predictor: Predictor, outputs: Sequence[str] | None) -> list[str]:
    """Dataset variable names of the requested outputs."""
    if outputs is None:
        outputs = OUTPUTS
    if isinstance(outputs, str):
        outputs = (outputs,)
    unknown = sorted(set(outputs) - set(OUTPUTS))
    if unknown or not outputs:
        raise ConfigError(
            f"has {unknown or 'nothing'}", variable="outputs", expected=f"some of {list(OUTPUTS)}"
        )
    names = []
    for name in OUTPUTS:
        if name not in outputs or (name == "uncertainty" and predictor.n_members < 2):
            continue
        names.append(predictor.spec.label_name if name == "labels" else name)
    return names


def _empty_arrays(
    predictor: Predictor,
    names: list[str],
    n: int,
    height: int,
    width: int,
    *,
    lazy: bool,
    chunk: int,
) -> dict[str, Any]:
    k = predictor.spec.num_classes
    out: dict[str, Any] = {}
    for name in names:
        shape = (n, k, height, width) if name == "probabilities" else (n, height, width)
        dtype = np.uint8 if name == predictor.spec.label_name else np.float32
        fill = 0 if dtype == np.uint8 else np.nan
        if lazy:
            import dask.array as da

            chunks = (1, k, chunk, chunk) if name == "probabilities" else (1, chunk, chunk)
            out[name] = da.full(shape, fill, dtype=dtype, chunks=chunks)
        else:
            out[name] = np.full(shape, fill, dtype=dtype)
    return out


# --------------------------------------------------------------------------------------- API
def _load_stack(stack: xr.Dataset | str | os.PathLike[str], validate: bool) -> xr.Dataset:
    if isinstance(stack, xr.Dataset):
        return stack
    if isinstance(stack, (str, os.PathLike)):
        return open_stack(Path(stack), chunks={}, validate=validate)
    raise DataError(
        f"is a {type(stack).__name__}",
        variable="stack",
        expected="an xarray.Dataset scene stack or the path of one",
    )


@dataclasses.dataclass
class _Job:
    ds: xr.Dataset
    predictor: Predictor
    plan: _Plan
    preds: list[_Prediction]
    layout: list[tuple[str, bool, int]]
    tile: int
    group: int
    attrs: dict[str, Any]
    names: list[str]
    sources: tuple[str, ...] | None = None


def _prepare(
    stack: Any,
    model: Any,
    *,
    window: int | None,
    overlap: float,
    weighting: str,
    tta: bool | Sequence[str],
    temporal: str,
    steps: int | None,
    device: Any,
    calibration: Any,
    tile: int | None,
    max_memory_mb: float,
    validate: bool,
    streaming: bool,
    outputs: Sequence[str] | None = None,
) -> _Job:
    check_window_options(window=window, overlap=overlap, weighting=weighting)
    predictor = as_predictor(model, tta=tta, device=device, calibration=calibration)
    spec = predictor.spec
    ds = _load_stack(stack, validate)
    if "time" not in ds.dims:
        raise StackValidationError(
            "has no time dimension",
            variable="time",
            expected="a scene stack with dims (time, y, x)",
        )
    if not ds.indexes["time"].is_monotonic_increasing:
        ds = ds.sortby("time")
    where = Path(stack) if isinstance(stack, (str, os.PathLike)) else ds.encoding.get("source")
    ds = _select_bands(ds, spec, where)
    layout, sources = _resolve(ds, spec, where)
    if temporal not in TEMPORAL_MODES:
        raise ConfigError(
            f"is {temporal!r}", variable="temporal", expected=f"one of {TEMPORAL_MODES}"
        )
    steps = steps if steps is not None else spec.time_steps
    schedule = prediction_schedule(
        ds["time"].values, temporal=spec.temporal, mode=temporal, steps=steps
    )
    times = ds["time"].values
    preds = [_Prediction(idx, times[idx[-1]]) for idx in schedule]
    window = int(window if window is not None else (spec.window or DEFAULT_WINDOW))
    try:
        plan = _plan(ds, spec, window, overlap, weighting)
    except StackValidationError as exc:  # name the file
        if exc.path is None and where is not None:
            raise StackValidationError(
                exc.message, path=where, variable=exc.variable, expected=exc.expected
            ) from None
        raise
    tile, group = _choose_tiles(
        plan, spec, predictor.n_members, preds, tile, max_memory_mb, streaming
    )
    attrs = _attrs(
        predictor,
        plan,
        dict(window=window, overlap=overlap, weighting=weighting, temporal=temporal, steps=steps),
    )
    if sources is not None:
        attrs["input_sources"] = list(sources)
    names = _variables(predictor, outputs)
    return _Job(ds, predictor, plan, preds, layout, tile, group, attrs, names, sources)


def _iterate(
    job: _Job, batch_size: int, progress: bool | str
) -> Iterator[tuple[int, int, tuple[int, int, int, int], dict[str, np.ndarray]]]:
    """Yield (first prediction, last prediction + 1, tile box, arrays) tile by tile."""
    from tqdm.auto import tqdm

    boxes = list(_tiles(job.plan, job.tile))
    groups = [(p, min(p + job.group, len(job.preds))) for p in range(0, len(job.preds), job.group)]
    bar = tqdm(
        total=len(boxes) * len(groups),
        disable=not progress,
        unit="tile",
        desc=progress if isinstance(progress, str) else "predict",
    )
    with bar:
        for box in boxes:
            for p0, p1 in groups:
                arrays = _run_tile(
                    job.ds,
                    job.layout,
                    job.predictor,
                    job.plan,
                    job.preds[p0:p1],
                    box,
                    batch_size,
                    job.sources,
                )
                bar.update()
                yield p0, p1, box, {k: v for k, v in arrays.items() if k in job.names}


def predict(
    stack: xr.Dataset | str | os.PathLike[str],
    model: Any,
    *,
    window: int | None = None,
    overlap: float = 0.5,
    weighting: Literal["gaussian", "cosine", "uniform"] = "gaussian",
    batch_size: int = 8,
    tta: bool | Sequence[str] = False,
    temporal: Literal["year", "window", "all"] = "year",
    steps: int | None = None,
    device: str | torch.device | None = None,
    calibration: Any = "checkpoint",
    tile: int | None = None,
    max_memory_mb: float = 1024.0,
    validate: bool = True,
    progress: bool | str = False,
    outputs: Sequence[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> xr.Dataset:
    """Predict a scene stack with overlapping, smoothly blended windows.

    Parameters
    ----------
    stack
        A scene stack (dims ``(time, y, x)``, CRS through rioxarray) or its path (opened
        lazily with :func:`workbench.data.open_stack`).
    model
        A model, a checkpoint path, a list of them (an ensemble), or a
        :class:`~workbench.inference.Predictor` (then ``tta``, ``device`` and ``calibration``
        are the predictor's own).
    window
        Window side in *model* pixels; default: the checkpoint's validation window, else
        :data:`DEFAULT_WINDOW` (384).
    overlap
        Fraction shared by neighbouring windows (0.5: stride = half a window).
    weighting
        Blending weights: ``"gaussian"`` (σ = window/8), ``"cosine"`` or ``"uniform"``.
    batch_size
        Windows per forward pass (windows of several dates are batched together).
    tta
        Test-time augmentation: ``True`` for the 4 rotations, or transform names.
    temporal, steps
        Time-series models only: ``"year"`` (default), ``"window"`` or ``"all"``, and the
        acquisitions per prediction (default: the checkpoint's ``time_steps``). See the
        module docstring.
    device
        Where the model runs (default: ``"auto"`` for checkpoints; a module stays where it is).
    calibration
        ``"checkpoint"`` (default), ``None``, or a calibration map (or its dict).
    tile, max_memory_mb
        Output tile side in scene pixels and the working-memory budget that chooses it when
        ``tile`` is None (the whole scene as one tile when it fits).
    validate
        Validate a stack opened from a path (:func:`workbench.data.validate_stack`).
    progress
        Show a progress bar (a string is its label).
    outputs
        Variables to return, some of :data:`OUTPUTS` (default: all; ``uncertainty`` only
        exists with several members), e.g. ``["labels", "confidence"]`` to leave out the
        class probabilities (a quarter of the bytes of a 4-class store).
    out, overwrite
        With ``out`` (a ``.zarr`` path), stream to that store with :func:`predict_to_file`
        and return it opened lazily.

    Returns
    -------
    xarray.Dataset
        On the input grid and CRS: ``probabilities``, ``zones``/``mask``, ``confidence`` and,
        with several members, ``uncertainty`` (module docstring).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from workbench.models import create_model
    >>> stack = xr.Dataset(
    ...     {"sigma0_db": (("time", "y", "x"), np.full((1, 24, 24), -12.0, np.float32)),
    ...      "coherence": (("time", "y", "x"), np.full((1, 24, 24), 0.5, np.float32))},
    ...     coords={"time": np.array(["2020-03-01"], "datetime64[ns]"),
    ...             "y": 100.0 - np.arange(24.0), "x": np.arange(24.0)},
    ... ).rio.write_crs("EPSG:32633")
    >>> res = predict(stack, create_model("icemapper3d", preset="small"), window=16, tta=True)
    >>> sorted(res.data_vars)
    ['confidence', 'mask', 'probabilities', 'uncertainty']
    """
    if out is not None:
        path = predict_to_file(
            stack,
            model,
            out,
            window=window,
            overlap=overlap,
            weighting=weighting,
            batch_size=batch_size,
            tta=tta,
            temporal=temporal,
            steps=steps,
            device=device,
            calibration=calibration,
            tile=tile,
            max_memory_mb=max_memory_mb,
            validate=validate,
            progress=progress,
            outputs=outputs,
            overwrite=overwrite,
        )
        return open_prediction(path)
    check_window_options(batch_size=batch_size)
    job = _prepare(
        stack,
        model,
        window=window,
        overlap=overlap,
        weighting=weighting,
        tta=tta,
        temporal=temporal,
        steps=steps,
        device=device,
        calibration=calibration,
        tile=tile,
        max_memory_mb=max_memory_mb,
        validate=validate,
        streaming=False,
        outputs=outputs,
    )
    arrays = _empty_arrays(
        job.predictor,
        job.names,
        len(job.preds),
        job.plan.height,
        job.plan.width,
        lazy=False,
        chunk=job.tile,
    )
    for p0, p1, (a, b, c, d), tile_arrays in _iterate(job, batch_size, progress):
        for name, arr in tile_arrays.items():
            arrays[name][p0:p1, ..., a:b, c:d] = arr
    return _dataset(job.ds, job.predictor.spec, job.preds, arrays, job.attrs)


def predict_to_file(
    stack: xr.Dataset | str | os.PathLike[str],
    model: Any,
    out: str | os.PathLike[str],
    *,
    window: int | None = None,
    overlap: float = 0.5,
    weighting: Literal["gaussian", "cosine", "uniform"] = "gaussian",
    batch_size: int = 8,
    tta: bool | Sequence[str] = False,
    temporal: Literal["year", "window", "all"] = "year",
    steps: int | None = None,
    device: str | torch.device | None = None,
    calibration: Any = "checkpoint",
    tile: int | None = None,
    max_memory_mb: float = 1024.0,
    validate: bool = True,
    progress: bool | str = False,
    outputs: Sequence[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Predict a scene of any size into a Zarr store, tile by tile, with bounded memory.

    The store is created with its full layout first (chunks = one prediction × one tile);
    each output tile is then computed from the windows that touch it (windows on a tile
    border are computed for both tiles, so every pixel gets exactly the windows, weights
    and value of :func:`predict`) and written into its region. Only the input region of
    one tile (plus a window of margin) and that tile's accumulators are in memory at any
    time: peak memory depends on ``tile`` / ``max_memory_mb``, not on the scene size.
    The input is read lazily, window region by window region (a chunked Zarr stack or a
    tiled GeoTIFF reads only what a tile touches).

    The store is written to a temporary path beside ``out`` and renamed when complete, so
    an interrupted run leaves no partial store.

    Parameters
    ----------
    stack, model, window, overlap, weighting, batch_size, tta, temporal, steps, device, calibration, validate, progress, outputs
        As for :func:`predict`.
    out
        Target ``.zarr`` store (Zarr format 2, consolidated metadata).
    tile
        Output tile side in scene pixels (the store's chunk size); default: the largest
        multiple of 256 up to 2048 whose working set fits ``max_memory_mb``.
    max_memory_mb
        Working-memory budget of one tile (inputs, accumulators, outputs), in MiB.
    overwrite
        Replace an existing ``out``; otherwise an existing store is an error.

    Returns
    -------
    pathlib.Path
        ``out``; read it with :func:`open_prediction`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, xarray as xr
    >>> from workbench.models import create_model
    >>> stack = xr.Dataset(
    ...     {"sigma0_db": (("time", "y", "x"), np.full((1, 60, 70), -12.0, np.float32))},
    ...     coords={"time": np.array(["2020-03-01"], "datetime64[ns]"),
    ...             "y": 100.0 - np.arange(60.0), "x": np.arange(70.0)},
    ... ).rio.write_crs("EPSG:32633")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pred.zarr"
    >>> _ = predict_to_file(stack, create_model("caffe_unet", preset="small"), path,
    ...                     window=32, tile=32)
    >>> res = open_prediction(path)
    >>> res.zones.chunks[1:], bool(res.confidence.notnull().all())
    (((32, 28), (32, 32, 6)), True)
    """
    out = Path(out)
    if out.suffix.lower() != ".zarr":
        raise ConfigError(
            f"{out} is not a .zarr path",
            variable="out",
            expected="a Zarr store path ending in .zarr",
        )
    if out.exists() and not overwrite:
        raise DataError("exists", path=out, expected="a new path, or overwrite=True")
    check_window_options(batch_size=batch_size)
    job = _prepare(
        stack,
        model,
        window=window,
        overlap=overlap,
        weighting=weighting,
        tta=tta,
        temporal=temporal,
        steps=steps,
        device=device,
        calibration=calibration,
        tile=tile,
        max_memory_mb=max_memory_mb,
        validate=validate,
        streaming=True,
        outputs=outputs,
    )
    lazy = _empty_arrays(
        job.predictor,
        job.names,
        len(job.preds),
        job.plan.height,
        job.plan.width,
        lazy=True,
        chunk=job.tile,
    )
    template = _dataset(job.ds, job.predictor.spec, job.preds, lazy, job.attrs)
    with atomic_path(out) as tmp:
        template.to_zarr(tmp, mode="w", compute=False, zarr_format=2, consolidated=True)
        for p0, p1, (a, b, c, d), arrays in _iterate(job, batch_size, progress):
            piece = xr.Dataset({name: (template[name].dims, arr) for name, arr in arrays.items()})
            piece.to_zarr(tmp, region={"time": slice(p0, p1), "y": slice(a, b), "x": slice(c, d)})
    return out


def open_prediction(path: str | os.PathLike[str]) -> xr.Dataset:
    """Open a prediction store written by :func:`predict_to_file`, lazily, with its CRS.

    Examples
    --------
    >>> open_prediction("missing.zarr")
    Traceback (most recent call last):
    ...
    workbench.errors.DataError: missing.zarr: does not exist (expected a prediction store written by predict_to_file)
    """
    path = Path(path)
    if not path.exists():
        raise DataError(
            "does not exist", path=path, expected="a prediction store written by predict_to_file"
        )
    return xr.open_zarr(path, decode_coords="all", consolidated=None)
