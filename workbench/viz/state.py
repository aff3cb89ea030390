"""The explorer's state and logic, without Panel: param classes usable from notebooks and tests.

:class:`ExplorerState` holds what a view shows (dataset, glacier, date, overlays, contrast)
and answers every question the dashboard asks (the current image, fronts, outlines, the
retreat table, exports) by calling the package's functions; the dashboard only lays out
widgets bound to these parameters.

Model results are cached per (scene series, checkpoint fingerprint, TTA) in a module-level
dictionary shared by every session of a server, and models come from
:func:`workbench.inference.cached_predictor` (one copy per process).

Examples
--------
>>> import tempfile, pathlib
>>> from workbench.data.demo import make_demo_world
>>> root = pathlib.Path(tempfile.mkdtemp()) / "world"
>>> _ = make_demo_world(root, n_glaciers=1, years=0.1, size=64, pixel_size=80)
>>> state = ExplorerState.from_paths([root])
>>> state.glacier == state.series.glacier and state.date == str(state.series.times[0].date())
True
>>> state.date_index = 1
>>> state.date == str(state.series.times[1].date())
True
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import param
import xarray as xr

from workbench.errors import DataError
from workbench.viz.sources import (
    DataRoots,
    DatasetEntry,
    SceneSeries,
    checkpoints_in,
    discover,
    open_series,
)

__all__ = [
    "ExplorerState",
    "OVERLAYS",
    "RASTERS",
    "LINES",
    "predict_series",
    "clear_predictions",
    "checkpoint_applies",
]

OVERLAYS: tuple[str, ...] = (
    "front",
    "reference front",
    "zones",
    "outline",
    "reference outline",
    "confidence",
    "uncertainty",
)
"""Overlay names (the values kept in the URL)."""

RASTERS: tuple[str, ...] = ("zones", "confidence", "uncertainty")
"""Model layers that cover the image: at most one is shown at a time."""

LINES: tuple[str, ...] = ("reference outline", "outline", "reference front", "front")
"""Line overlays, in drawing order (always above the rasters)."""

UNCERTAIN_STD = 0.1
"""A pixel is uncertain when the members (TTA transforms, ensemble models) spread the
probability of its predicted class by more than this standard deviation."""

_PRED_LOCK = threading.RLock()
_PREDICTIONS: dict[tuple, dict[str, Any]] = {}


def clear_predictions() -> None:
    """Forget every cached prediction (tests)."""
    with _PRED_LOCK:
        _PREDICTIONS.clear()


def _pred_key(series: SceneSeries, checkpoint: Path, tta: bool) -> tuple:
    from workbench.inference import checkpoint_fingerprint

    return (series.key, series.glacier, len(series), checkpoint_fingerprint(checkpoint), bool(tta))


def predict_series(
    series: SceneSeries,
    checkpoint: str | os.PathLike[str],
    *,
    tta: bool = False,
    progress: Callable[[float, str], None] | None = None,
    chunk: int = 8,
    batch_size: int = 32,
    device: str = "auto",
) -> dict[str, Any]:
    """Run ``checkpoint`` on every date of ``series`` (cached per scene and checkpoint).

    Returns a dict with the prediction ``dataset`` (``zones`` or ``mask``, ``confidence``,
    ``uncertainty`` with TTA), its ``label`` variable name and ``fronts`` / ``outlines``
    filled lazily by :class:`ExplorerState`. ``progress(fraction, text)`` is called between
    chunks of ``chunk`` dates (per-date models) so a dashboard can show a bar; the windows of a
    chunk go through the model ``batch_size`` at a time (32: the 4 windows of 8 dates of a 512²
    scene in one pass; on 2 CPU cores about 1.5 times faster than batches of 8). ``device`` as
    in :func:`workbench.device.resolve_device` (``auto``: a GPU when the server has one).
    """
    from workbench.inference import cached_predictor, predict

    if series.stack is None:
        raise DataError(
            "cannot be predicted",
            path=series.key,
            expected="a dataset with a sigma0_db scene stack",
        )
    checkpoint = Path(checkpoint)
    key = _pred_key(series, checkpoint, tta)
    with _PRED_LOCK:
        hit = _PREDICTIONS.get(key)
    if hit is not None:
        if progress:
            progress(1.0, "cached")
        return hit
    predictor = cached_predictor([str(checkpoint)], tta=tta, device=device)
    stack = series.stack
    n = int(stack.sizes["time"])
    parts = []
    if predictor.spec.temporal:
        if progress:
            progress(0.05, "time-series model: one input per year")
        parts.append(
            predict(
                stack,
                predictor,
                validate=False,
                batch_size=batch_size,
                outputs=["labels", "confidence", "uncertainty"]
                if tta
                else ["labels", "confidence"],
            )
        )
    else:
        for a in range(0, n, chunk):
            if progress:
                progress(a / n, f"dates {a + 1}-{min(a + chunk, n)} of {n}")
            outputs = ["labels", "confidence", "uncertainty"] if tta else ["labels", "confidence"]
            parts.append(
                predict(
                    stack.isel(time=slice(a, a + chunk)),
                    predictor,
                    validate=False,
                    batch_size=batch_size,
                    outputs=outputs,
                )
            )
    ds = xr.concat(parts, dim="time") if len(parts) > 1 else parts[0]
    ds = ds.load()
    label = ds.attrs.get("label_variable") or ("zones" if "zones" in ds else "mask")
    result = {
        "dataset": ds,
        "label": label,
        "checkpoint": checkpoint,
        "fronts": {},
        "outlines": {},
        "model": ds.attrs.get("model", checkpoint.stem),
        "tta": bool(tta),
    }
    with _PRED_LOCK:
        _PREDICTIONS[key] = result
    if progress:
        progress(1.0, "done")
    return result


_INFO_LOCK = threading.Lock()
_INFO: dict[tuple[str, int], Any] = {}


def _checkpoint_info(path: Path) -> Any:
    """The checkpoint's metadata, read once per file version (None when unreadable)."""
    from workbench.models.checkpoint import read_checkpoint_info

    try:
        key = (str(path), path.stat().st_mtime_ns)
    except OSError:
        return None
    with _INFO_LOCK:
        if key not in _INFO:
            try:
                _INFO[key] = read_checkpoint_info(path)
            except Exception:  # noqa: BLE001 - a broken file is refused when it runs
                _INFO[key] = None
        return _INFO[key]


def checkpoint_applies(checkpoint: Path, series: SceneSeries) -> str | None:
    """Why ``checkpoint`` cannot predict ``series`` (None: it can).

    A series without a σ0 stack (the Harald Moltke Bræ basemap) cannot be predicted; CaFFe
    images (8-bit amplitudes in pixel coordinates) need a model trained on CaFFe data, and a
    model trained on CaFFe does not apply to σ0 in dB on a map grid.

    >>> from types import SimpleNamespace
    >>> checkpoint_applies(Path("any.pt"), SimpleNamespace(stack=None, kind="harald"))
    'these images have no σ0 stack to predict'
    """
    if series.stack is None:
        return "these images have no σ0 stack to predict"
    info = _checkpoint_info(Path(checkpoint))
    trained_on = ((getattr(info, "train_config", None) or {}).get("data") or {}).get("kind")
    if series.kind == "caffe" and trained_on != "caffe":
        return "trained on σ0 in dB on a map grid, not on CaFFe's 8-bit images in pixel coordinates"
    if series.kind != "caffe" and trained_on == "caffe":
        return "trained on CaFFe's 8-bit images, not on σ0 in dB on a map grid"
    return None


class ExplorerState(param.Parameterized):
    """What the explorer shows and everything it computes, independent of Panel.

    Parameters are plain values (names, an index, strings) so they can be kept in a URL:
    a dataset or checkpoint is picked by its catalogue *name*, never by a path.
    """

    dataset = param.Selector(
        default=None, objects=[], check_on_set=True, doc="dataset name from the catalogue"
    )
    glacier = param.Selector(
        default=None, objects=[], check_on_set=True, doc="glacier of the dataset"
    )
    date_index = param.Integer(default=0, bounds=(0, 0), doc="index of the current acquisition")
    date = param.String(default="", doc="current date YYYY-MM-DD (kept in the URL)")
    overlays = param.ListSelector(
        default=["front", "reference front", "outline", "reference outline"], objects=list(OVERLAYS)
    )
    zones_alpha = param.Number(default=0.35, bounds=(0.0, 1.0))
    clim = param.Range(default=(-25.0, 0.0), doc="contrast limits of the image")
    cmap = param.Selector(
        default="gray",
        objects=["gray", "kbc", "fire", "viridis"],
        doc="perceptually uniform maps (colorcet / matplotlib)",
    )
    checkpoint = param.Selector(default=None, objects=[], allow_None=True, check_on_set=True)
    tta = param.Boolean(default=False, doc="test-time augmentation (gives uncertainty)")
    status = param.String(default="")
    progress = param.Number(default=0.0, bounds=(0.0, 1.0))
    busy = param.Boolean(default=False)
    run_count = param.Integer(default=0, doc="bumped when a model run finishes")
    point = param.Tuple(
        default=None,
        length=2,
        allow_None=True,
        doc="(x, y) of the clicked point in the series' coordinates, or None",
    )
    point_window = param.Integer(
        default=5, bounds=(1, 51), doc="side of the point's averaging window [px]"
    )
    corrections_count = param.Integer(default=0, doc="bumped when a corrected front is saved")
    compare = param.String(
        default="", doc="second date YYYY-MM-DD shown beside the map ('': no comparison)"
    )

    def __init__(
        self,
        roots: DataRoots,
        catalogue: dict[str, DatasetEntry],
        checkpoints: dict[str, Path] | None = None,
        *,
        corrections: Any = None,
        editor: str | None = None,
        **params: Any,
    ) -> None:
        self.roots = roots
        self.catalogue = catalogue
        self.checkpoints = dict(checkpoints or {})
        self.corrections = corrections
        """A :class:`~workbench.viz.edits.FrontCorrections` (``workbench serve --edits DIR``) or None."""
        self.editor = editor
        """Who saves corrections (the signed-in user), or None."""
        if not catalogue:
            raise DataError(
                "holds no dataset",
                path=str(roots),
                expected="a demo world, a folder of scene stacks, a CaFFe folder or "
                "the Harald Moltke Bræ example",
            )
        super().__init__(
            **{
                k: v
                for k, v in params.items()
                if k
                not in (
                    "dataset",
                    "glacier",
                    "date",
                    "date_index",
                    "checkpoint",
                    "point",
                    "compare",
                )
            }
        )
        self.param.dataset.objects = list(catalogue)
        self.param.checkpoint.objects = [None, *self.checkpoints]
        self._syncing = False
        self.param.watch(self._one_raster, "overlays")
        self.dataset = (
            params.get("dataset") if params.get("dataset") in catalogue else next(iter(catalogue))
        )
        self._on_dataset()
        glacier = params.get("glacier")
        if glacier in self.param.glacier.objects:
            self.glacier = glacier
        ck = params.get("checkpoint")
        usable = self.usable_checkpoints()
        self.checkpoint = ck if ck in usable else next(iter(usable), None)
        if params.get("date"):
            self.date = params["date"]
        elif params.get("date_index") is not None:
            self.date_index = int(params["date_index"])
        if params.get("compare"):
            self.compare = str(params["compare"])
        if params.get("point") is not None:  # from a shared link: kept only inside the images
            try:
                x, y = (float(v) for v in params["point"])
                self.point_series((x, y), window=1)
                self.point = (x, y)
            except (DataError, TypeError, ValueError):
                pass

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_paths(
        cls,
        data: Sequence[str | os.PathLike[str]],
        *,
        checkpoints: Sequence[str | os.PathLike[str]] = (),
        edits: str | os.PathLike[str] | None = None,
        **params: Any,
    ) -> ExplorerState:
        """State over the data roots ``data`` (folders) and checkpoint files/folders; corrected
        fronts are saved in ``edits`` (a writable folder outside the data roots) when given."""
        from workbench.viz.edits import FrontCorrections

        roots = DataRoots(data)
        cks = checkpoints_in(checkpoints)
        corrections = FrontCorrections(edits, roots) if edits is not None else None
        return cls(roots, discover(roots), cks, corrections=corrections, **params)

    # ---------------------------------------------------------------- parameter logic
    @param.depends("dataset", watch=True)
    def _on_dataset(self) -> None:
        entry = self.entry
        self.param.glacier.objects = list(entry.glaciers)
        if self.glacier not in entry.glaciers:
            self.glacier = entry.glaciers[0]
        else:
            self._on_glacier()

    def _one_raster(self, event: param.parameterized.Event) -> None:
        """At most one of zones/confidence/uncertainty: the one just switched on wins."""
        rasters = [o for o in event.new if o in RASTERS]
        if len(rasters) < 2:
            return
        added = [o for o in rasters if o not in (event.old or [])]
        keep = added[-1] if added else rasters[-1]
        self.overlays = [o for o in event.new if o not in RASTERS or o == keep]

    @param.depends("glacier", watch=True)
    def _on_glacier(self) -> None:
        series = self.series
        if not self.busy:
            self.status = ""  # a finished run's line belongs to the glacier it ran on
            self.progress = 0.0
        self.point = None
        usable = self.usable_checkpoints()
        self.param.checkpoint.objects = [None, *usable]
        if self.checkpoint not in usable:
            self.checkpoint = next(iter(usable), None)
        self.param.date_index.bounds = (0, max(len(series) - 1, 0))
        lo, hi = series.clim
        self.param.clim.bounds = (min(lo, hi) - abs(hi - lo), max(lo, hi) + abs(hi - lo))
        self.clim = (round(lo, 1), round(hi, 1))
        old = self.date
        self._syncing = True
        try:
            self.date_index = series.nearest(old) if old else 0
        finally:
            self._syncing = False
        self.date = str(series.times[self.date_index].date())
        if self.compare:  # the second date snaps to this glacier's nearest acquisition
            self._on_compare()

    @param.depends("compare", watch=True)
    def _on_compare(self) -> None:
        if not self.compare:
            return
        try:
            i = self.series.nearest(self.compare)
        except (ValueError, TypeError):
            self.compare = ""
            return
        snapped = str(self.series.times[i].date()) if len(self.series) > 1 else ""
        if snapped != self.compare:
            self.compare = snapped

    @property
    def compare_index(self) -> int | None:
        """Index of the second date shown beside the map (None: no comparison).

        >>> import tempfile, pathlib
        >>> from workbench.data.demo import make_demo_world
        >>> root = pathlib.Path(tempfile.mkdtemp()) / "w"
        >>> _ = make_demo_world(root, n_glaciers=1, years=0.1, size=64, pixel_size=80)
        >>> s = ExplorerState.from_paths([root], compare="2000-01-01")
        >>> s.compare_index, s.compare == str(s.series.times[0].date())  # snapped to the first
        (0, True)
        """
        return self.series.nearest(self.compare) if self.compare else None

    def front_of(self, i: int) -> tuple[Any, str]:
        """The front of date ``i`` as the explorer draws it, and where it comes from: the
        corrected front (``corrected``), else the predicted one (``predicted``), else the
        reference front (``reference``), else ``(None, "none")``."""
        corrected = self.corrected_front(i)
        if corrected is not None:
            return corrected, "corrected"
        predicted = self.predicted_front(i)
        if predicted is not None and len(predicted):
            return predicted, "predicted"
        reference = self.series.ref_at("fronts", i)
        if reference is not None and len(reference):
            return reference, "reference"
        return None, "none"

    @param.depends("date_index", watch=True)
    def _on_index(self) -> None:
        if self._syncing:
            return
        new = str(self.series.times[self.date_index].date())
        if new != self.date:
            self._syncing = True
            try:
                self.date = new
            finally:
                self._syncing = False

    @param.depends("date", watch=True)
    def _on_date(self) -> None:
        if self._syncing or not self.date:
            return
        try:
            i = self.series.nearest(self.date)
        except (ValueError, TypeError):
            return
        self._syncing = True
        try:
            self.date_index = i
            self.date = str(self.series.times[i].date())  # snap to the acquisition
        finally:
            self._syncing = False

    # ---------------------------------------------------------------- data
    @property
    def entry(self) -> DatasetEntry:
        return self.catalogue[self.dataset]

    @property
    def series(self) -> SceneSeries:
        return open_series(self.entry, self.glacier, self.roots)

    @property
    def label(self) -> str:
        """``2019-01-13 · S1B · orbit 160`` of the current acquisition."""
        return self.series.label(self.date_index)

    def image(self, i: int | None = None) -> xr.DataArray:
        return self.series.image(self.date_index if i is None else i)

    def select_date(self, date: Any) -> int:
        """Jump to the acquisition nearest ``date`` (a click on the retreat curve)."""
        self.date_index = self.series.nearest(date)
        return self.date_index

    def step(self, n: int = 1) -> None:
        self.date_index = int(np.clip(self.date_index + n, 0, len(self.series) - 1))

    # ---------------------------------------------------------------- model
    @property
    def checkpoint_path(self) -> Path | None:
        return self.checkpoints.get(self.checkpoint) if self.checkpoint else None

    def usable_checkpoints(self) -> list[str]:
        """Names of the checkpoints that apply to the current series (:func:`checkpoint_applies`),
        zone models first (what a run is mostly for: fronts)."""
        series = self.series
        usable = [k for k, p in self.checkpoints.items() if checkpoint_applies(p, series) is None]

        def task(name: str) -> str:
            info = _checkpoint_info(self.checkpoints[name])
            return str((getattr(info, "train_config", None) or {}).get("task") or "")

        return sorted(usable, key=lambda name: task(name) != "zones")

    def model_note(self) -> str:
        """Why no model can run on the current series ("" when one can)."""
        if self.usable_checkpoints():
            return ""
        if self.series.stack is None:
            return "No model applies: these images have no σ0 stack to predict."
        if not self.checkpoints:
            return "No model checkpoint was given to the server (workbench serve --checkpoint)."
        by_reason: dict[str, list[str]] = {}
        for name, path in self.checkpoints.items():
            by_reason.setdefault(checkpoint_applies(path, self.series) or "", []).append(name)
        parts = [
            f"{', '.join(names)} {'was' if len(names) == 1 else 'were'} {why}"
            for why, names in by_reason.items()
        ]
        return "No model applies to these images: " + "; ".join(parts) + "."

    def layer_notes(self) -> dict[str, str]:
        """Overlays that cannot show anything now, each with the reason (shown beside them).

        >>> import tempfile, pathlib
        >>> from workbench.data.demo import make_demo_world
        >>> root = pathlib.Path(tempfile.mkdtemp()) / "w"
        >>> _ = make_demo_world(root, n_glaciers=1, years=0.1, size=64, pixel_size=80)
        >>> sorted(ExplorerState.from_paths([root]).layer_notes())  # before any model run
        ['confidence', 'front', 'outline', 'uncertainty', 'zones']
        """
        notes: dict[str, str] = {}
        series = self.series
        if not self.usable_checkpoints() and not self.results():
            for name in ("front", "zones", "outline", "confidence", "uncertainty"):
                notes[name] = (
                    "no model applies to this dataset (see Model), so there are no model results"
                )
        else:
            after_run = "predicted fronts, zones and confidence appear after Run model"
            if self.result("zones") is None:
                notes["front"] = notes["zones"] = after_run
            if self.result("mask") is None:
                notes["outline"] = (
                    "predicted outlines need a run of an outline model (demo_outlines.pt)"
                )
            if not any("confidence" in r["dataset"] for r in self.results()):
                notes["confidence"] = after_run
            if not any("uncertainty" in r["dataset"] for r in self.results()):
                notes["uncertainty"] = "uncertainty needs a model run with TTA ticked"
        if series.ref_fronts is None or len(series.ref_fronts) == 0:
            notes["reference front"] = "this dataset has no reference fronts"
        if series.ref_outlines is None or len(series.ref_outlines) == 0:
            notes["reference outline"] = "this dataset has no reference outlines"
        return notes

    def results(self) -> list[dict[str, Any]]:
        """Model results for the current series, newest last: products read with the dataset
        (``workbench predict`` output) first, then the cached runs of any checkpoint."""
        series = self.series
        with _PRED_LOCK:
            runs = [
                r for k, r in _PREDICTIONS.items() if k[0] == series.key and k[1] == series.glacier
            ]
        return ([series.products] if series.products is not None else []) + runs

    def result(self, label: str) -> dict[str, Any] | None:
        """The result of the chosen checkpoint if it predicts ``label`` (zones/mask), else the
        latest one that does."""
        found = [r for r in self.results() if r["label"] == label]
        chosen = self.checkpoint_path
        mine = [r for r in found if chosen is not None and r["checkpoint"] == chosen]
        for r in mine:  # the run with the TTA setting now ticked, else the other one
            if r.get("tta") == self.tta:
                return r
        if mine:
            return mine[0]
        return found[-1] if found else None

    def run_model(self, checkpoint: str | None = None) -> dict[str, Any]:
        """Predict the current glacier with the chosen checkpoint (progress in ``progress``)."""
        name = checkpoint or self.checkpoint
        if name not in self.checkpoints:
            raise DataError(
                f"is not a known checkpoint: {name!r}", expected=f"one of {list(self.checkpoints)}"
            )
        self.busy = True

        def report(frac: float, text: str) -> None:
            self.progress = float(np.clip(frac, 0, 1))
            self.status = f"{name}: {text}"

        try:
            res = predict_series(self.series, self.checkpoints[name], tta=self.tta, progress=report)
            if res["label"] == "zones":  # trace every front now, so the retreat curve is instant
                report(0.99, "tracing fronts")
                self.all_predicted_fronts()
                report(1.0, "done")
            self.status = f"{name}: {len(res['dataset'].time)} predictions ({res['label']})"
        finally:
            self.busy = False
        self.run_count += 1
        return res

    def _pred_index(self, res: dict[str, Any]) -> int | None:
        """Index of the prediction for the current date (per-date: same date; time-series
        models: the prediction whose year covers it)."""
        ds = res["dataset"]
        t = np.datetime64(self.series.times[self.date_index])
        times = ds["time"].values
        if "time_first" in ds.coords:
            first = ds["time_first"].values
            inside = np.nonzero((first <= t) & (t <= times))[0]
            if inside.size:
                return int(inside[0])
        d = np.abs(times - t)
        i = int(d.argmin())
        return i if d[i] <= np.timedelta64(200, "D") else None

    def prediction(self, var: str) -> xr.DataArray | None:
        """A predicted variable at the current date (``zones``, ``mask``, ``confidence``,
        ``uncertainty``), or None when not run."""
        labels = ["mask"] if var == "mask" else ["zones"] if var == "zones" else ["zones", "mask"]
        for label in labels:
            res = self.result(label)
            if res is not None and var in res["dataset"]:
                i = self._pred_index(res)
                return None if i is None else res["dataset"][var][i]
        return None

    def predicted_front(self, i: int | None = None) -> Any:
        """Predicted calving front of date ``i`` (GeoDataFrame row) via fronts_from_zones."""
        from workbench.geo import fronts_from_zones

        res = self.result("zones")
        if res is None:
            return None
        i = self.date_index if i is None else i
        if i not in res["fronts"]:
            ds = res["dataset"]
            zones = ds["zones"][i]
            if zones.rio.crs is None and self.series.crs is not None:
                zones = zones.rio.write_crs(self.series.crs)
            try:
                gdf = fronts_from_zones(
                    zones,
                    date=pd.Timestamp(ds.time.values[i]),
                    glacier=self.glacier,
                    model=str(res["model"]),
                    confidence=ds["confidence"][i].values,
                )
            except Exception:  # noqa: BLE001 - a date without a front is shown as none
                gdf = None
            res["fronts"][i] = gdf
        return res["fronts"][i]

    def predicted_outline(self) -> Any:
        """Predicted glacier outline of the year around the current date (outlines_from_mask)."""
        from workbench.geo import outlines_from_mask

        res = self.result("mask")
        if res is None:
            return None
        i = self._pred_index(res)
        if i is None:
            return None
        if i not in res["outlines"]:
            ds = res["dataset"]
            mask = ds["mask"][i]
            if mask.rio.crs is None and self.series.crs is not None:
                mask = mask.rio.write_crs(self.series.crs)
            try:
                gdf = outlines_from_mask(
                    mask,
                    date=pd.Timestamp(ds.time.values[i]),
                    glacier=self.glacier,
                    model=str(res["model"]),
                    confidence=ds["confidence"][i].values,
                )
            except Exception:  # noqa: BLE001
                gdf = None
            res["outlines"][i] = gdf
        return res["outlines"][i]

    def all_predicted_fronts(self) -> Any:
        """Every predicted front of the series (one row per date), or None."""
        res = self.result("zones")
        if res is None:
            return None
        import geopandas as gpd

        rows = [self.predicted_front(i) for i in range(len(res["dataset"].time))]
        rows = [r for r in rows if r is not None and len(r)]
        if not rows:
            return None
        return gpd.GeoDataFrame(pd.concat(rows, ignore_index=True), crs=rows[0].crs)

    def all_predicted_outlines(self) -> Any:
        res = self.result("mask")
        if res is None:
            return None
        import geopandas as gpd

        from workbench.geo import outlines_from_mask

        rows = []
        ds = res["dataset"]
        for i in range(len(ds.time)):
            if i not in res["outlines"]:
                mask = ds["mask"][i]
                if mask.rio.crs is None and self.series.crs is not None:
                    mask = mask.rio.write_crs(self.series.crs)
                try:
                    res["outlines"][i] = outlines_from_mask(
                        mask,
                        date=pd.Timestamp(ds.time.values[i]),
                        glacier=self.glacier,
                        model=str(res["model"]),
                    )
                except Exception:  # noqa: BLE001
                    res["outlines"][i] = None
            if res["outlines"][i] is not None:
                rows.append(res["outlines"][i])
        return (
            gpd.GeoDataFrame(pd.concat(rows, ignore_index=True), crs=rows[0].crs) if rows else None
        )

    # ---------------------------------------------------------------- point time series
    @property
    def static_images(self) -> bool:
        """True when every date shows the same image (the Harald Moltke Bræ basemap under dated
        front lines): a time series at a point says nothing there."""
        values = self.series.images.values
        return len(self.series) > 1 and getattr(values, "strides", (1,))[0] == 0

    def point_series(
        self, point: tuple[float, float] | None = None, window: int | None = None
    ) -> pd.DataFrame:
        """The image value at ``point`` (default: :attr:`point`) on every date, averaged over a
        ``window`` × ``window`` pixel square around it (default :attr:`point_window`).

        σ0 in dB is averaged as power (``10 log10(mean(10^(dB/10)))``), the way speckle is
        averaged; other values (a basemap, confidence) as they are. Columns ``date``, the value
        (``sigma0_db`` or ``value``) and ``n_pixels`` (finite pixels in the window); ``attrs``
        hold the point, its pixel row/column, longitude/latitude where the grid has a CRS, the
        window and the units.

        >>> import tempfile, pathlib
        >>> from workbench.data.demo import make_demo_world
        >>> root = pathlib.Path(tempfile.mkdtemp()) / "w"
        >>> _ = make_demo_world(root, n_glaciers=1, years=0.1, size=64, pixel_size=80)
        >>> s = ExplorerState.from_paths([root])
        >>> x, y = float(s.series.images.x[10]), float(s.series.images.y[20])
        >>> df = s.point_series((x, y), window=3)
        >>> list(df.columns), len(df) == len(s.series), int(df["n_pixels"].max())
        (['date', 'sigma0_db', 'n_pixels'], True, 9)
        """
        point = self.point if point is None else point
        if point is None:
            raise DataError(
                "no point chosen", variable="point", expected="(x, y): click on the map"
            )
        window = int(self.point_window if window is None else window)
        series = self.series
        xs, ys = series.images["x"].values, series.images["y"].values
        x, y = float(point[0]), float(point[1])
        dx = abs(float(xs[1] - xs[0])) if len(xs) > 1 else 1.0
        dy = abs(float(ys[1] - ys[0])) if len(ys) > 1 else 1.0
        if not (
            xs.min() - dx / 2 <= x <= xs.max() + dx / 2
            and ys.min() - dy / 2 <= y <= ys.max() + dy / 2
        ):
            raise DataError(
                f"point ({x:.1f}, {y:.1f}) lies outside the images of {self.glacier}",
                variable="point",
                expected=f"x in [{xs.min():.1f}, {xs.max():.1f}], y in [{ys.min():.1f}, {ys.max():.1f}]",
            )
        col, row = int(np.abs(xs - x).argmin()), int(np.abs(ys - y).argmin())
        h = window // 2
        block = np.asarray(
            series.images.values[:, max(row - h, 0) : row + h + 1, max(col - h, 0) : col + h + 1],
            dtype=np.float64,
        )
        finite = np.isfinite(block)
        n = finite.sum(axis=(1, 2))
        is_db = series.units.startswith("σ0 [dB]")
        with np.errstate(invalid="ignore", divide="ignore"):
            values = (
                np.where(finite, 10.0 ** (block / 10.0) if is_db else block, 0.0).sum(axis=(1, 2))
                / n
            )
            if is_db:
                values = 10.0 * np.log10(values)
        name = "sigma0_db" if is_db else "value"
        df = pd.DataFrame(
            {"date": series.times, name: np.where(n > 0, values, np.nan), "n_pixels": n}
        )
        df.attrs.update(
            glacier=self.glacier,
            x=float(xs[col]),
            y=float(ys[row]),
            row=row,
            col=col,
            window_px=window,
            units=series.units,
            averaging="power (linear), then dB" if is_db else "arithmetic mean",
        )
        if series.crs is not None:
            from pyproj import CRS, Transformer

            lon, lat = Transformer.from_crs(
                CRS.from_user_input(series.crs), "EPSG:4326", always_xy=True
            ).transform(float(xs[col]), float(ys[row]))
            df.attrs.update(
                crs=CRS.from_user_input(series.crs).to_string(),
                lon=float(lon),
                lat=float(lat),
                window_m=window * dx,
            )
        return df

    def export_point_csv(self) -> io.BytesIO:
        """The point time series as CSV, opened by ``# key: value`` lines (point, window, CRS,
        longitude/latitude) that ``pandas.read_csv(..., comment="#")`` skips."""
        df = self.point_series()
        head = "".join(f"# {k}: {v}\n" for k, v in df.attrs.items())
        buf = io.StringIO()
        buf.write(head)
        df.assign(date=df["date"].dt.strftime("%Y-%m-%d")).to_csv(buf, index=False)
        return io.BytesIO(buf.getvalue().encode())

    # ---------------------------------------------------------------- corrected fronts
    def corrected_fronts(self) -> Any:
        """Every corrected front of the glacier (GeoDataFrame in the grid's CRS), or None."""
        if self.corrections is None or self.series.crs is None:
            return None
        return self.corrections.for_glacier(self.glacier, crs=self.series.crs)

    def corrected_front(self, i: int | None = None) -> Any:
        """The corrected front of date ``i`` (default: the current date), or None."""
        gdf = self.corrected_fronts()
        if gdf is None:
            return None
        day = self.series.times[self.date_index if i is None else int(i)].normalize()
        rows = gdf[gdf["date"].dt.normalize() == day]
        return rows.reset_index(drop=True) if len(rows) else None

    def front_to_edit(self) -> tuple[Any, str]:
        """The front an edit of the current date starts from and its origin: the saved
        correction, else the predicted front (``edited_from`` = the model), else the reference
        front, else nothing (a new line is drawn)."""
        corrected = self.corrected_front()
        if corrected is not None:
            return corrected, str(corrected["edited_from"].iloc[0])
        predicted = self.predicted_front()
        if predicted is not None and len(predicted):
            return predicted, str(self.result("zones")["model"])
        reference = self.series.ref_at("fronts", self.date_index)
        if reference is not None:
            return reference, "reference"
        return None, "none"

    def save_corrected_front(self, lines: Sequence[Any]) -> Any:
        """Save ``lines`` (sequences of (x, y) in the grid's CRS; several make a
        MultiLineString) as the front of the current date; returns the saved row."""
        from shapely.geometry import LineString, MultiLineString

        if self.corrections is None:
            raise DataError(
                "no folder for corrected fronts",
                variable="--edits",
                expected="workbench serve DATA --edits DIR",
            )
        parts = [
            LineString(np.asarray(xy, float))
            for xy in lines
            if len(xy) >= 2 and np.isfinite(np.asarray(xy, float)).all()
        ]
        if not parts:
            raise DataError(
                "has no line with two or more points",
                variable="front",
                expected="the corrected front of this date",
            )
        geometry = parts[0] if len(parts) == 1 else MultiLineString(parts)
        _, origin = self.front_to_edit()
        row = self.corrections.save(
            self.glacier,
            self.series.times[self.date_index],
            geometry,
            crs=self.series.crs,
            edited_from=origin,
            editor=self.editor,
        )
        self.corrections_count += 1
        return row

    def export_corrections(self) -> io.BytesIO:
        """The GeoPackage of every corrected front (all glaciers) as saved."""
        if self.corrections is None or not self.corrections.path.is_file():
            raise DataError(
                "no corrected front saved yet",
                expected="a front corrected with Edit front, then Save",
            )
        return io.BytesIO(self.corrections.path.read_bytes())

    def fronts_with_corrections(self) -> Any:
        """The predicted fronts of every date with the corrected ones in their place (and on
        dates without a prediction), a ``corrected`` column saying which; None without either."""
        import geopandas as gpd

        predicted = self.all_predicted_fronts()
        corrected = self.corrected_fronts()
        if corrected is None:
            return None if predicted is None else predicted.assign(corrected=False)
        corrected = corrected.assign(corrected=True, model="manual")
        if predicted is None:
            return corrected
        days = set(corrected["date"].dt.normalize())
        keep = predicted[~pd.to_datetime(predicted["date"]).dt.normalize().isin(days)].assign(
            corrected=False
        )
        return (
            gpd.GeoDataFrame(
                pd.concat([keep, corrected], ignore_index=True),
                geometry="geometry",
                crs=predicted.crs,
            )
            .sort_values("date")
            .reset_index(drop=True)
        )

    # ---------------------------------------------------------------- retreat
    def retreat(self) -> pd.DataFrame:
        """Retreat table of the glacier: ``date``, ``position_m``, ``change_m``, ``source``
        (``predicted`` / ``reference``), ``flags``, ``corrected`` (a front corrected by hand
        took the prediction's place) by the box method (:func:`workbench.geo.retreat_box`),
        and ``low_m``/``high_m``, the uncertainty band of predicted positions where the model
        ran with TTA or an ensemble (:meth:`_uncertainty_band`; NaN elsewhere)."""
        from workbench.geo import retreat_box

        series = self.series
        frames = []
        if series.box is None:
            return pd.DataFrame(
                columns=[
                    "date",
                    "position_m",
                    "change_m",
                    "source",
                    "flags",
                    "corrected",
                    "low_m",
                    "high_m",
                ]
            )
        predicted = self.fronts_with_corrections()
        for source, fronts in (("reference", series.ref_fronts), ("predicted", predicted)):
            if fronts is None or len(fronts) == 0:
                continue
            key = ("retreat", source, id(fronts) if source == "predicted" else None)
            cache = getattr(series, "_retreat_cache", {})
            if source == "reference" and key in cache:
                df = cache[key]
            else:
                crs = fronts.crs if fronts.crs is not None else None
                df = retreat_box(
                    fronts[["date", "geometry"]], series.box, crs=crs, upstream=series.upstream
                )
                if source == "reference":
                    cache[key] = df
                    series._retreat_cache = cache  # type: ignore[attr-defined]
            df = df.copy()
            df["source"] = source
            df["corrected"] = False
            df["low_m"] = df["high_m"] = np.nan
            if source == "predicted":
                self._uncertainty_band(df)
            if source == "predicted" and "corrected" in fronts:
                days = set(pd.to_datetime(fronts.loc[fronts["corrected"], "date"]).dt.normalize())
                df["corrected"] = pd.to_datetime(df["date"]).dt.normalize().isin(days).to_numpy()
            frames.append(df)
        if not frames:
            return pd.DataFrame(
                columns=[
                    "date",
                    "position_m",
                    "change_m",
                    "source",
                    "flags",
                    "corrected",
                    "low_m",
                    "high_m",
                ]
            )
        out = pd.concat(frames, ignore_index=True)
        out["date"] = pd.to_datetime(out["date"])
        if "flags" in out:
            out["flags"] = out["flags"].map(
                lambda f: ";".join(f) if isinstance(f, (list, tuple)) else f
            )
        return out

    def _uncertainty_band(self, df: pd.DataFrame) -> None:
        """Fill ``low_m``/``high_m`` of the predicted positions where the model ran with TTA or
        an ensemble (an ``uncertainty`` layer): the box method's position moves by an area over
        the box width, so uncertain ice pixels inside the box (:data:`UNCERTAIN_STD`) could lower
        it by their area / width and uncertain ocean pixels raise it by theirs. Fronts
        corrected by hand get no band."""
        res = self.result("zones")
        box = self.series.box
        width = df.attrs.get("box_width_m")
        if res is None or "uncertainty" not in res["dataset"] or box is None or not width:
            return
        import shapely

        ds = res["dataset"]
        if "box_mask" not in res:
            geom = box.geometry.union_all() if hasattr(box, "geometry") else box
            xx, yy = np.meshgrid(ds["x"].values, ds["y"].values)
            res["box_mask"] = shapely.contains_xy(geom, xx, yy)
        inside = res["box_mask"]
        pixel = abs(float(ds["x"][1] - ds["x"][0]) * float(ds["y"][1] - ds["y"][0]))
        times = ds["time"].values
        for k, (day, position) in enumerate(zip(df["date"], df["position_m"], strict=True)):
            if df["corrected"].iloc[k] or not np.isfinite(position):
                continue
            i = int(np.abs(times - np.datetime64(pd.Timestamp(day))).argmin())
            unsure = inside & (ds["uncertainty"].values[i] > UNCERTAIN_STD)
            zones = ds["zones"].values[i]
            df.iloc[k, df.columns.get_loc("low_m")] = (
                position - (unsure & (zones == 2)).sum() * pixel / width
            )
            df.iloc[k, df.columns.get_loc("high_m")] = (
                position + (unsure & (zones == 3)).sum() * pixel / width
            )

    # ---------------------------------------------------------------- exports
    def _vectors(self, what: str) -> Any:
        series = self.series
        if what == "fronts":  # corrected by hand where a scientist did, else predicted
            gdf = self.fronts_with_corrections()
            ref = series.ref_fronts
        else:
            gdf = self.all_predicted_outlines()
            ref = series.ref_outlines
        if gdf is None and ref is not None and ref.crs is not None:
            gdf = ref.assign(model="reference")
        if gdf is None or len(gdf) == 0 or gdf.crs is None:
            raise DataError(
                f"no georeferenced {what} to export for {self.glacier}",
                expected="a model run (Run model) or reference lines",
            )
        if "glacier" not in gdf:
            gdf = gdf.assign(glacier=self.glacier)
        return gdf

    def export_vectors(self, what: str = "fronts", fmt: str = "geojson") -> io.BytesIO:
        """Fronts or outlines (predicted, else the reference) as GeoJSON or GeoPackage bytes,
        written by :func:`workbench.geo.write_vectors`."""
        from workbench.geo import write_vectors

        gdf = self._vectors(what)
        with tempfile.TemporaryDirectory() as tmp:
            path = write_vectors(gdf, Path(tmp) / f"{self.glacier}_{what}.{fmt}")
            return io.BytesIO(path.read_bytes())

    def export_retreat_csv(self) -> io.BytesIO:
        df = self.retreat()
        buf = io.StringIO()
        df.assign(glacier=self.glacier).to_csv(buf, index=False)
        return io.BytesIO(buf.getvalue().encode())

    def export_png(self, dpi: int = 110) -> io.BytesIO:
        """The current view (image and overlays) as a PNG, drawn with matplotlib."""
        from workbench.viz.figures import frame_figure

        fig = frame_figure(self)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(fig)
        buf.seek(0)
        return buf

    def filename(self, suffix: str) -> str:
        return f"{self.glacier}_{self.date}{suffix}"
