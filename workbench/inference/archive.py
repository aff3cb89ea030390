"""Archive-scale prediction: many scenes in parallel on Dask distributed, resumable.

:func:`predict_archive` (and ``workbench predict``) predicts every scene of an archive — a
folder, a list of paths, or glob patterns of scene stacks (:func:`find_scenes`) — and writes
per-scene products into ``out_dir/<scene>/``:

==================  ==============================================================
``zones.tif``       zones (CaFFe values 0/64/127/254, nodata 0) — 4-class zone models
``mask.tif``        glacier mask (0/1) — 2-class models (nodata pixels are 0)
``confidence.tif``  calibrated entropy confidence (float32, NaN nodata)
``uncertainty.tif`` ensemble / TTA standard deviation (only with ``tta`` or an ensemble)
``fronts.gpkg``     calving-front lines, one row per date (zone models)
``outlines.gpkg``   glacier outlines, one row per date (glacier zone or mask)
``prediction.zarr`` all outputs incl. class probabilities (only with product
                    ``"probabilities"``, and always for streamed scenes while writing)
``_SUCCESS``        JSON manifest, written last: scene, input, products, dates, model,
                    options, fingerprint, timing, worker (host, process id, model copies
                    that process has loaded)
==================  ==============================================================

Rasters are Cloud-Optimized GeoTIFFs with one band per prediction date (band descriptions
are the dates), written by :mod:`workbench.geo.rasters`; vectors by
:func:`workbench.geo.vectors.fronts_from_zones`, :func:`~workbench.geo.vectors.outlines_from_mask`
and :func:`~workbench.geo.vectors.write_vectors`.

**Parallelism.** One task per scene on a Dask ``distributed`` cluster: a ``LocalCluster`` by
default (``n_workers`` processes, one thread each; torch threads = cores / workers), or an
existing scheduler (``scheduler="tcp://host:8786"`` or a ``Client``) — the same code then runs
on a multi-node deployment, where every worker must import ``workbench`` and see the input
and output paths (a shared file system). Each worker process loads the model(s) once and
keeps them in a module-level cache keyed by checkpoint path, size and modification time.
With ``device="auto"`` a worker uses a GPU when it has one; on a machine with several GPUs
the workers of a ``LocalCluster`` (named 0, 1, …) take GPU ``name mod count``. Inside a task
the scene is read with Dask's synchronous scheduler (no nested tasks).

**Scenes larger than** ``stream_above_px`` pixels are predicted with
:func:`~workbench.inference.predict_to_file` (bounded memory) into ``prediction.zarr`` and the
products are written from that store: the COGs strip by strip
(:func:`workbench.geo.rasters.write_cog` streams a lazy raster, so their memory does not grow
with the scene), the vectors one date at a time (one date's labels and confidence in memory).

**Resumable and atomic.** A scene's folder is written under a temporary name
(``.<scene>.*.tmp``) and renamed into place only when every product and the ``_SUCCESS``
manifest are written, so a killed run leaves no half-written scene. A scene is skipped when
its ``_SUCCESS`` exists, its fingerprint (checkpoints' path/size/mtime, window, overlap,
weighting, TTA, temporal mode, steps, products, torch thread count) matches, its input is unchanged
(path, total size, modification time and file count, recorded before the scene was read) and
every product it lists has the recorded size and SHA-256; otherwise it is predicted again and
replaced, and the summary says why (``ArchiveSummary.redone``). Temporary leftovers of killed runs
are removed when a run starts (so two runs must not share an ``out_dir`` at once). A scene
that fails is reported with its reason and does not stop the others.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np, xarray as xr
>>> from workbench.data.stack import write_stack
>>> from workbench.models import create_model, save_checkpoint
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> stack = xr.Dataset(
...     {"sigma0_db": (("time", "y", "x"), np.full((1, 32, 32), -12.0, np.float32))},
...     coords={"time": np.array(["2020-03-01"], "datetime64[ns]"),
...             "y": 8.7e6 - 10 - 20 * np.arange(32.0), "x": 5e5 + 10 + 20 * np.arange(32.0)},
... ).rio.write_crs("EPSG:32633")
>>> _ = write_stack(stack, root / "scenes" / "a.zarr")
>>> ckpt = save_checkpoint(create_model("caffe_unet", preset="small"), root / "m.pt")
>>> summary = predict_archive(root / "scenes", ckpt, root / "out", processes=False,
...                           n_workers=1, window=16, progress=False)
>>> summary.done, sorted(p.name for p in (root / "out" / "a").iterdir())
(['a'], ['_SUCCESS', 'confidence.tif', 'fronts.gpkg', 'outlines.gpkg', 'zones.tif'])
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench._io import atomic_path, ensure_dir
from workbench.checkpoints import resolve_checkpoint
from workbench.errors import ConfigError, DataError
from workbench.inference.scene import check_window_options
from workbench.models import load_model

__all__ = [
    "SUCCESS",
    "PRODUCTS",
    "DEFAULT_PRODUCTS",
    "Scene",
    "SceneError",
    "ArchiveSummary",
    "find_scenes",
    "cached_predictor",
    "predict_archive",
]

SUCCESS = "_SUCCESS"
"""Name of the per-scene manifest, written last: its presence marks a complete scene."""

PRODUCTS: tuple[str, ...] = (
    "labels",
    "confidence",
    "uncertainty",
    "fronts",
    "outlines",
    "probabilities",
)
"""Product names for ``products=``: ``labels`` is ``zones.tif`` or ``mask.tif``;
``uncertainty`` is written only with TTA or an ensemble; ``fronts`` only for zone models;
``probabilities`` keeps ``prediction.zarr``."""

DEFAULT_PRODUCTS: tuple[str, ...] = ("labels", "confidence", "uncertainty", "fronts", "outlines")

_STACK_SUFFIXES = (".zarr", ".nc", ".nc4", ".tif", ".tiff")
_TIFFS = (".tif", ".tiff")
_GLOB_CHARS = set("*?[")


# ------------------------------------------------------------------------------------ scenes
@dataclasses.dataclass(frozen=True)
class Scene:
    """One scene of an archive: its id (the output folder name) and its stack path."""

    id: str
    path: Path


def _scene_id(path: Path) -> str:
    name = path.name
    for suffix in _STACK_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _has_tiffs(folder: Path) -> bool:
    return any(p.suffix.lower() in _TIFFS and not p.name.startswith(".") for p in folder.iterdir())


def _scenes_in(folder: Path) -> list[Path]:
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    found = []
    for p in entries:
        suffix = p.suffix.lower()
        if suffix == ".zarr" or (p.is_file() and suffix in (".nc", ".nc4")):
            found.append(p)
        elif p.is_file() and suffix in _TIFFS and p.with_name(p.stem + ".dates.csv").exists():
            found.append(p)
        elif p.is_dir() and _has_tiffs(p):
            found.append(p)
    # a demo world keeps each stack twice: X.zarr and its GeoTIFF export X.tif (+ dates.csv);
    # one scene each, the Zarr store (lossless, chunked)
    zarr_ids = {_scene_id(p) for p in found if p.suffix.lower() == ".zarr"}
    found = [p for p in found if p.suffix.lower() not in _TIFFS or _scene_id(p) not in zarr_ids]
    if found:
        return found
    if _has_tiffs(folder):
        return [folder]  # the folder is itself a stack of per-date GeoTIFFs
    raise DataError(
        "holds no scene stacks",
        path=folder,
        expected="*.zarr, *.nc, multi-band *.tif with a .dates.csv sidecar, or "
        "folders of per-date GeoTIFFs",
    )


def find_scenes(inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Scene]:
    """The scenes of an archive, sorted by id.

    Each input is a glob pattern (``"/data/*.zarr"``, ``**`` allowed), a scene stack
    (``.zarr``, ``.nc``, ``.tif``, or a folder of per-date GeoTIFFs), or a folder of scene
    stacks: its ``*.zarr``, ``*.nc``, multi-band ``*.tif`` that have a ``<stem>.dates.csv``
    sidecar, and sub-folders holding GeoTIFFs (a folder holding only per-date GeoTIFFs is
    one scene). Where a folder holds ``X.zarr`` and ``X.tif`` (a demo world's GeoTIFF export
    of the same stack), ``X.zarr`` is the scene. A scene's id is its file or folder name
    without the suffix; two scenes with one id from different places are refused.

    Raises
    ------
    DataError
        An input that does not exist, a pattern that matches nothing, a folder without stacks.
    ConfigError
        Two scenes with the same id.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.zarr", "a.zarr"):
    ...     (root / name).mkdir()
    >>> [s.id for s in find_scenes(root)], [s.id for s in find_scenes(str(root / "b*"))]
    (['a', 'b'], ['b'])
    """
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    if not items:
        raise DataError(
            "no inputs given",
            variable="inputs",
            expected="scene stacks, folders of stacks or glob patterns",
        )
    paths: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if _GLOB_CHARS & set(text) and not Path(text).exists():
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise DataError("matches nothing", path=text, expected="a pattern matching stacks")
            candidates = [Path(m) for m in matches]
        else:
            candidates = [Path(text)]
        for path in candidates:
            if not path.exists():
                raise DataError("does not exist", path=path, expected="a scene stack or a folder")
            is_stack = path.suffix.lower() in _STACK_SUFFIXES
            paths.extend([path] if is_stack else _scenes_in(path) if path.is_dir() else [path])
    scenes: dict[str, Scene] = {}
    for path in paths:
        try:
            str(path).encode("utf-8")
        except UnicodeEncodeError:  # bytes that are not UTF-8 (surrogate escapes)
            raise DataError(
                "has a name that is not valid UTF-8 (shown with \\udcXX escapes); "
                "products, manifests and GeoPackages need UTF-8 names",
                path=ascii(str(path)),
                expected="the scene renamed, e.g. with convmv -f latin1 -t utf8",
            ) from None
        scene = Scene(_scene_id(path), path.resolve())
        other = scenes.get(scene.id)
        if other is not None and other.path != scene.path:
            raise ConfigError(
                f"is the id of both {other.path} and {scene.path}",
                variable=scene.id,
                expected="scenes with distinct names",
            )
        scenes[scene.id] = scene
    return [scenes[k] for k in sorted(scenes)]


# --------------------------------------------------------------------------------- summary
@dataclasses.dataclass
class ArchiveSummary:
    """What an archive run did.

    Attributes
    ----------
    out_dir
        The output folder.
    done, skipped
        Scene ids predicted in this run / skipped because complete.
    failed
        Scene id → reason (exception type and message).
    seconds
        Wall time of the run.
    """

    out_dir: Path
    done: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    redone: dict[str, str] = dataclasses.field(default_factory=dict)
    """Scenes that had a ``_SUCCESS`` but were predicted again, with the reason."""

    @property
    def ok(self) -> bool:
        """True when no scene failed."""
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (written to ``out_dir/_summary.json``)."""
        return {
            "out_dir": str(self.out_dir),
            "done": self.done,
            "skipped": self.skipped,
            "failed": self.failed,
            "redone": self.redone,
            "seconds": round(self.seconds, 3),
        }

    def report(self) -> str:
        """A few lines for the terminal.

        Examples
        --------
        >>> print(ArchiveSummary(Path("out"), done=["a"], failed={"b": "DataError: bad"}).report())
        1 scene done, 0 skipped, 1 failed in 0.0 s -> out
          failed b: DataError: bad
        """
        n = len(self.done)
        lines = [
            f"{n} scene{'s' if n != 1 else ''} done, {len(self.skipped)} skipped, "
            f"{len(self.failed)} failed in {self.seconds:.1f} s -> {self.out_dir}"
        ]
        lines += [f"  predicted again {k}: {v}" for k, v in sorted(self.redone.items())]
        lines += [f"  failed {k}: {v}" for k, v in sorted(self.failed.items())]
        return "\n".join(lines)


# ------------------------------------------------------------------------------ worker side
_CACHE: dict[tuple[Any, ...], Any] = {}
_CACHE_LOCK = threading.Lock()
_LOADS = {"count": 0}  # models loaded by this process (for tests and logs)


def _worker_device(device: str) -> str:
    """'auto' → the GPU of this worker when a machine has several (by worker name)."""
    if device != "auto":
        return device
    import torch

    n = torch.cuda.device_count()
    if n <= 1:
        return device
    try:
        from distributed import get_worker

        name = get_worker().name
        index = int(name) if str(name).isdigit() else abs(hash(str(name)))
        return f"cuda:{index % n}"
    except (ImportError, ValueError):
        return device


def cached_predictor(
    checkpoints: Sequence[str],
    *,
    tta: bool | Sequence[str] = False,
    device: str = "auto",
    calibration: Any = "checkpoint",
) -> Any:
    """The :class:`~workbench.inference.Predictor` of ``checkpoints``, loaded once per process.

    Keyed by each checkpoint's resolved path, size and modification time (a rewritten file
    is loaded again), the TTA transforms and the device.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from workbench.models import create_model, save_checkpoint
    >>> p = save_checkpoint(create_model("caffe_unet", preset="small"),
    ...                     pathlib.Path(tempfile.mkdtemp()) / "m.pt")
    >>> cached_predictor([str(p)], device="cpu") is cached_predictor([str(p)], device="cpu")
    True
    """
    from workbench.inference.predictor import Predictor

    device = _worker_device(device)
    ident = []
    for c in checkpoints:
        path = Path(c).resolve()
        st = path.stat()
        ident.append((str(path), st.st_size, st.st_mtime_ns))
    key = (
        tuple(ident),
        tta if isinstance(tta, bool) else tuple(tta),
        str(device),
        json.dumps(calibration, sort_keys=True, default=str),
    )
    with _CACHE_LOCK:
        predictor = _CACHE.get(key)
        if predictor is None:
            predictor = Predictor(
                [str(c) for c in checkpoints], tta=tta, device=device, calibration=calibration
            )
            _CACHE[key] = predictor
            _LOADS["count"] += len(checkpoints)
    return predictor


def _band_names(res: Any) -> list[str]:
    return [str(np.datetime_as_string(t, unit="D")) for t in res["time"].values]


def _write_products(
    res: Any,
    folder: Path,
    *,
    scene_id: str,
    glacier: str,
    products: Sequence[str],
    tags: dict[str, Any],
) -> list[str]:
    """Write the requested products of one prediction dataset into ``folder``."""
    import geopandas as gpd
    import pandas as pd

    from workbench.data.encoding import GLACIER, OCEAN
    from workbench.geo.rasters import (
        write_confidence_cog,
        write_mask_cog,
        write_uncertainty_cog,
        write_zones_cog,
    )
    from workbench.geo.vectors import fronts_from_zones, outlines_from_mask, write_vectors

    crs, transform = res.rio.crs, res.rio.transform()
    names = _band_names(res)
    label = str(res.attrs.get("label_variable", "zones" if "zones" in res else "mask"))
    model = str(res.attrs.get("model", "unknown")) or "unknown"
    written: list[str] = []
    # DataArrays as they are: a lazy (streamed) prediction is written strip by strip
    labels = res[label] if label in res else None
    conf = res["confidence"] if "confidence" in res else None
    if "labels" in products and labels is not None and label in ("zones", "mask"):
        writer = write_zones_cog if label == "zones" else write_mask_cog
        writer(
            labels,
            folder / f"{label}.tif",
            crs=crs,
            transform=transform,
            band_descriptions=names,
            tags=tags,
        )
        written.append(f"{label}.tif")
    if "confidence" in products and conf is not None:
        write_confidence_cog(
            conf,
            folder / "confidence.tif",
            crs=crs,
            transform=transform,
            band_descriptions=names,
            tags=tags,
        )
        written.append("confidence.tif")
    if "uncertainty" in products and "uncertainty" in res:
        write_uncertainty_cog(
            res["uncertainty"],
            folder / "uncertainty.tif",
            crs=crs,
            transform=transform,
            band_descriptions=names,
            tags=tags,
        )
        written.append("uncertainty.tif")
    dates = pd.DatetimeIndex(res["time"].values)
    sensors = res["sensor"].values.astype(str) if "sensor" in res.coords else [None] * len(dates)
    want_fronts = "fronts" in products and labels is not None and label == "zones"
    want_outlines = "outlines" in products and labels is not None and label in ("zones", "mask")
    front_rows, outline_rows = [], []
    for i, d in enumerate(dates if want_fronts or want_outlines else []):
        lab = np.asarray(labels[i].values)  # one date at a time
        cf = None if conf is None else np.asarray(conf[i].values)
        if want_fronts:
            front_rows.append(
                fronts_from_zones(
                    lab,
                    transform,
                    crs,
                    date=d,
                    glacier=glacier,
                    model=model,
                    sensor=sensors[i],
                    confidence=cf,
                )
            )
        if want_outlines:
            glacier_px = lab == (GLACIER if label == "zones" else 1)
            ocean = lab == OCEAN if label == "zones" else None
            outline_rows.append(
                outlines_from_mask(
                    glacier_px,
                    transform,
                    crs,
                    date=d,
                    glacier=glacier,
                    model=model,
                    ocean=ocean,
                    confidence=cf,
                )
            )
    if want_fronts:
        write_vectors(
            gpd.GeoDataFrame(pd.concat(front_rows, ignore_index=True), crs=front_rows[0].crs),
            folder / "fronts.gpkg",
        )
        written.append("fronts.gpkg")
    if want_outlines:
        write_vectors(
            gpd.GeoDataFrame(pd.concat(outline_rows, ignore_index=True), crs=outline_rows[0].crs),
            folder / "outlines.gpkg",
        )
        written.append("outlines.gpkg")
    return written


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


class SceneError(DataError):
    """A scene failed; the message is the original error's type and message.

    Raised by the worker task instead of the original exception, whose chained causes
    (from third-party libraries) cannot always be sent back from a worker process.
    """


def _scene_task(
    scene_id: str,
    scene_path: str,
    out_dir: str,
    checkpoints: list[str],
    options: dict[str, Any],
    fingerprint: str,
    torch_threads: int | None,
) -> dict[str, Any]:
    """Predict one scene and write its folder atomically (runs on a Dask worker)."""
    try:
        return _predict_scene(
            scene_id, scene_path, out_dir, checkpoints, options, fingerprint, torch_threads
        )
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the run
        reason = f"{type(exc).__name__}: {exc}"
    # raised outside the handler: no chained context that a worker process could not pickle
    raise SceneError(reason)


def _predict_scene(
    scene_id: str,
    scene_path: str,
    out_dir: str,
    checkpoints: list[str],
    options: dict[str, Any],
    fingerprint: str,
    torch_threads: int | None,
) -> dict[str, Any]:
    import dask

    start = time.perf_counter()
    if not torch_threads:
        return _predict_scene_now(
            scene_id, scene_path, out_dir, checkpoints, options, fingerprint, dask
        )
    import torch

    # the same intra-op thread count in every execution mode: float sums of the convolutions
    # depend on it, so products are bit-identical in and out of worker processes
    before = torch.get_num_threads()
    torch.set_num_threads(int(torch_threads))
    try:
        return _predict_scene_now(
            scene_id, scene_path, out_dir, checkpoints, options, fingerprint, dask, start
        )
    finally:
        torch.set_num_threads(before)


def _predict_scene_now(
    scene_id: str,
    scene_path: str,
    out_dir: str,
    checkpoints: list[str],
    options: dict[str, Any],
    fingerprint: str,
    dask: Any,
    start: float | None = None,
) -> dict[str, Any]:
    from workbench.data.stack import open_stack
    from workbench.inference.scene import open_prediction, predict, predict_to_file

    start = time.perf_counter() if start is None else start
    predictor = cached_predictor(
        checkpoints,
        tta=options["tta"],
        device=options["device"],
        calibration=options["calibration"],
    )
    products = list(options["products"])
    run_opts = {
        k: options[k]
        for k in (
            "window",
            "overlap",
            "weighting",
            "batch_size",
            "temporal",
            "steps",
            "max_memory_mb",
        )
    }
    target = Path(out_dir) / scene_id
    identity = input_identity(scene_path)  # before reading: a later change is noticed
    with dask.config.set(scheduler="synchronous"), atomic_path(target) as tmp:
        tmp.mkdir()
        ds = open_stack(scene_path, chunks={}, validate=options["validate"])
        pixels = int(ds.sizes["y"]) * int(ds.sizes["x"])
        streamed = pixels > int(options["stream_above_px"]) or "probabilities" in products
        outputs = {"labels", "confidence"} | ({"uncertainty"} & set(products))
        if "probabilities" in products:
            outputs.add("probabilities")
        if streamed:
            store = predict_to_file(
                ds, predictor, tmp / "prediction.zarr", outputs=sorted(outputs), **run_opts
            )
            res = open_prediction(store)
        else:
            res = predict(ds, predictor, outputs=sorted(outputs), **run_opts)
        glacier = str(ds.attrs.get("glacier") or scene_id)
        tags = {"scene": scene_id, "model": res.attrs.get("model", ""), "glacier": glacier}
        written = _write_products(
            res, tmp, scene_id=scene_id, glacier=glacier, products=products, tags=tags
        )
        if streamed:
            res.close()
            if "probabilities" in products:
                written.append("prediction.zarr")
            else:
                shutil.rmtree(tmp / "prediction.zarr")
        manifest = {
            "scene": scene_id,
            "input": scene_path,
            "input_identity": identity,
            "products": written,
            "product_checksums": {p: _checksum(tmp / p) for p in written},
            "dates": _band_names(res),
            "model": res.attrs.get("model", ""),
            "checkpoints": checkpoints,
            "label_variable": res.attrs.get("label_variable"),
            "options": {k: v for k, v in options.items() if k != "calibration"},
            "streamed": streamed,
            "shape": [int(ds.sizes["y"]), int(ds.sizes["x"])],
            "fingerprint": fingerprint,
            "seconds": round(time.perf_counter() - start, 3),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            # which process ran it, and how many model copies that process had loaded
            "worker": {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "models_loaded": _LOADS["count"],
            },
        }
        (tmp / SUCCESS).write_text(json.dumps(manifest, indent=2, default=_json_default))
    return manifest


# ------------------------------------------------------------------------------ client side
def _fingerprint(checkpoints: Sequence[str], options: dict[str, Any]) -> str:
    from workbench.inference.predictor import checkpoint_fingerprint

    keys = ("window", "overlap", "weighting", "tta", "temporal", "steps", "products", "execution")
    payload = {
        "checkpoints": [checkpoint_fingerprint(c) for c in checkpoints],
        **{k: options[k] for k in keys},
    }
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def input_identity(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What identifies a scene's input without reading it: resolved path, total size, latest
    modification time (ns) and file count (a Zarr store or a folder of GeoTIFFs is walked).

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "a.tif"; _ = f.write_bytes(b"1234")
    >>> ident = input_identity(f); (ident["size"], ident["files"])
    (4, 1)
    """
    p = Path(path).resolve()
    files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
    stats = [q.stat() for q in files]
    return {
        "path": str(p),
        "size": sum(st.st_size for st in stats),
        "mtime_ns": max((st.st_mtime_ns for st in stats), default=0),
        "files": len(files),
    }


def _checksum(path: Path) -> dict[str, Any]:
    """Size and SHA-256 of a product file (a folder product: of its files, in path order)."""
    h = hashlib.sha256()
    size = 0
    files = [path] if path.is_file() else sorted(q for q in path.rglob("*") if q.is_file())
    for q in files:
        if q != path:
            h.update(str(q.relative_to(path)).encode())
        with open(q, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
                size += len(block)
    return {"size": size, "sha256": h.hexdigest()}


def _incomplete_reason(
    folder: Path, fingerprint: str, scene_path: str | os.PathLike[str]
) -> str | None:
    """Why the scene in ``folder`` must be predicted (again), or None when it is complete:
    no manifest, other checkpoints/options, a changed input, a missing or damaged product."""
    try:
        manifest = json.loads((folder / SUCCESS).read_text())
    except OSError:
        return "new"
    except ValueError:
        return f"its {SUCCESS} is damaged"
    if manifest.get("fingerprint") != fingerprint:
        return "other checkpoints or options"
    recorded = manifest.get("input_identity")
    if recorded is None:
        return "its manifest predates input checks"
    now = input_identity(scene_path)
    changed = [k for k in ("path", "size", "mtime_ns", "files") if recorded.get(k) != now[k]]
    if changed:
        return f"the input changed ({', '.join(changed)}: {scene_path})"
    sums = manifest.get("product_checksums") or {}
    for product in manifest.get("products", []):
        p = folder / product
        if not p.exists():
            return f"product {product} is missing"
        if product not in sums or _checksum(p) != sums[product]:
            return f"product {product} is damaged (size or checksum differs)"
    return None


def _clean_leftovers(out_dir: Path) -> list[Path]:
    """Remove temporary files/folders of interrupted runs (``.name.*.tmp``, ``.name.old-*``)."""
    removed = []
    for p in out_dir.iterdir():
        if p.name.startswith(".") and (".tmp" in p.name or ".old-" in p.name):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _client(
    scheduler: Any, n_workers: int, threads_per_worker: int, processes: bool
) -> tuple[Any, Any, bool]:
    """(client, local cluster or None, whether we own the client and must close it).

    Clients made here are not set as Dask's default, so they never capture computations
    of the caller (or of later code) once closed."""
    from distributed import Client, LocalCluster

    if scheduler is None:
        cluster = LocalCluster(
            n_workers=int(n_workers),
            threads_per_worker=int(threads_per_worker),
            processes=bool(processes),
            dashboard_address=None,
        )
        return Client(cluster, set_as_default=False), cluster, True
    if isinstance(scheduler, Client):
        return scheduler, None, False
    if isinstance(scheduler, str):
        try:
            return Client(scheduler, timeout="30s", set_as_default=False), None, True
        except OSError as exc:
            raise ConfigError(
                f"cannot be reached ({exc})",
                variable="scheduler",
                expected="the address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786",
            ) from None
    raise ConfigError(
        f"is a {type(scheduler).__name__}",
        variable="scheduler",
        expected="None, a scheduler address or a distributed.Client",
    )


def predict_archive(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    checkpoint: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    scheduler: Any = None,
    n_workers: int = 2,
    threads_per_worker: int = 1,
    processes: bool = True,
    torch_threads: int | None = None,
    tta: bool | Sequence[str] = False,
    window: int | None = None,
    overlap: float = 0.5,
    weighting: str = "gaussian",
    batch_size: int = 8,
    temporal: str = "year",
    steps: int | None = None,
    device: str = "auto",
    calibration: Any = "checkpoint",
    products: Sequence[str] = DEFAULT_PRODUCTS,
    stream_above_px: int = 4096 * 4096,
    max_memory_mb: float = 1024.0,
    validate: bool = True,
    overwrite: bool = False,
    progress: bool = True,
) -> ArchiveSummary:
    """Predict every scene of an archive in parallel on Dask; write per-scene products.

    See the module docstring for the products, the parallelism, and resuming.

    Parameters
    ----------
    inputs
        Folder(s), stack path(s) or glob pattern(s) (:func:`find_scenes`).
    checkpoint
        A checkpoint path, or several (an ensemble).
    out_dir
        Output folder; ``out_dir/<scene>/`` per scene and ``out_dir/_summary.json``.
    scheduler
        None: a ``LocalCluster`` of ``n_workers`` (closed at the end); an address
        (``"tcp://host:8786"``) or a ``distributed.Client`` of an existing cluster.
    n_workers, threads_per_worker, processes
        The local cluster: worker count, threads per worker, processes (True) or threads
        in this process (False, lighter; the model is then loaded once for all workers).
    torch_threads
        Intra-op threads of each scene's prediction (default: cores / ``n_workers``); the
        same count gives bit-identical products in worker processes and in this process.
    tta, window, overlap, weighting, batch_size, temporal, steps, calibration, max_memory_mb
        As for :func:`~workbench.inference.predict`.
    device
        ``"auto"``: each worker's GPU when it has one, else its CPU.
    products
        Subset of :data:`PRODUCTS`.
    stream_above_px
        Scenes with more pixels are predicted with bounded memory into a Zarr store.
    validate
        Validate each stack when opening it (one pass over its data).
    overwrite
        Predict every scene again, even complete ones.
    progress
        A progress bar over scenes as they finish.

    Returns
    -------
    ArchiveSummary
        Scenes done, skipped and failed (with reasons); also written to
        ``out_dir/_summary.json``.
    """
    from tqdm.auto import tqdm

    start = time.perf_counter()
    check_window_options(
        window=window,
        overlap=overlap,
        batch_size=batch_size,
        weighting=weighting,
        steps=steps,
        max_memory_mb=max_memory_mb,
    )
    for name, value in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"is {value!r}", variable=name, expected="an integer ≥ 1")
    scenes = find_scenes(inputs)
    checkpoints = [checkpoint] if isinstance(checkpoint, (str, os.PathLike)) else list(checkpoint)
    if not checkpoints:
        raise ConfigError(
            "no checkpoint given", variable="checkpoint", expected="a checkpoint path"
        )
    checkpoints = [str(resolve_checkpoint(c).resolve()) for c in checkpoints]
    for c in checkpoints:
        if not Path(c).is_file():
            raise DataError("is not a file", path=c, expected="a model checkpoint (.pt)")
        load_model(c, device="cpu")  # a bad checkpoint stops the run here, not in every scene
    unknown = sorted(set(products) - set(PRODUCTS))
    if unknown or not products:
        raise ConfigError(
            f"has {unknown or 'nothing'}", variable="products", expected=f"some of {list(PRODUCTS)}"
        )
    options = {
        "tta": tta if isinstance(tta, bool) else list(tta),
        "window": window,
        "overlap": float(overlap),
        "weighting": weighting,
        "batch_size": int(batch_size),
        "temporal": temporal,
        "steps": steps,
        "device": device,
        "calibration": calibration,
        "products": sorted(products),
        "stream_above_px": int(stream_above_px),
        "max_memory_mb": float(max_memory_mb),
        "validate": bool(validate),
    }
    if torch_threads is not None and not (isinstance(torch_threads, int) and torch_threads >= 1):
        raise ConfigError(
            f"is {torch_threads!r}", variable="torch_threads", expected="an integer ≥ 1"
        )
    if torch_threads is None and scheduler is None:
        torch_threads = max(1, (os.cpu_count() or 1) // max(1, int(n_workers)))
    # float sums depend on the intra-op thread count, not on the execution mode: with the same
    # count in worker processes and in this process the products are bit-identical, so only
    # the count is part of the fingerprint (an external scheduler's workers keep their own)
    options["execution"] = (
        f"torch threads {int(torch_threads)}" if torch_threads is not None else "external scheduler"
    )
    fingerprint = _fingerprint(checkpoints, options)
    out = ensure_dir(out_dir)
    _clean_leftovers(out)
    summary = ArchiveSummary(out)
    todo = []
    for scene in scenes:
        reason = (
            "--overwrite"
            if overwrite
            else _incomplete_reason(out / scene.id, fingerprint, scene.path)
        )
        if reason is None:
            summary.skipped.append(scene.id)
            continue
        if reason != "new":
            summary.redone[scene.id] = reason
        todo.append(scene)
    if todo:
        client, cluster, owned = _client(scheduler, n_workers, threads_per_worker, processes)
        futures = {}
        try:
            for scene in todo:
                fut = client.submit(
                    _scene_task,
                    scene.id,
                    str(scene.path),
                    str(out.resolve()),
                    checkpoints,
                    options,
                    fingerprint,
                    torch_threads,
                    key=f"predict-{scene.id}-{fingerprint}-{time.time_ns()}",
                    pure=False,
                )
                futures[fut] = scene.id
            from distributed import as_completed

            with tqdm(
                total=len(futures), disable=not progress, unit="scene", desc="predict"
            ) as bar:
                for fut in as_completed(list(futures), loop=client.loop):
                    sid = futures[fut]
                    if fut.status == "finished":
                        summary.done.append(sid)
                    else:
                        exc = fut.exception()
                        summary.failed[sid] = (
                            exc.message
                            if isinstance(exc, SceneError)
                            else f"{type(exc).__name__}: {exc}"
                        )
                    bar.set_postfix(done=len(summary.done), failed=len(summary.failed))
                    bar.update()
                    fut.release()
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
        finally:
            if owned:
                client.close()
            if cluster is not None:
                cluster.close()
    summary.done.sort()
    summary.seconds = time.perf_counter() - start
    with atomic_path(out / "_summary.json") as tmp:
        tmp.write_text(json.dumps(summary.to_dict(), indent=2))
    return summary
