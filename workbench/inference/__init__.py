"""Inference: sliding-window prediction of scenes, ensembles / TTA, archive runs on Dask.

* :func:`predict` — a scene stack (any size, any grid) → an :class:`xarray.Dataset` of class
  probabilities, the argmax (``zones`` or ``mask``), calibrated ``confidence`` and, with
  test-time augmentation or an ensemble, ``uncertainty``; on the input grid and CRS.
* :func:`predict_to_file` — the same, streamed tile by tile into a Zarr store with memory
  that does not grow with the scene (for scenes larger than memory).
* :func:`predict_archive` — many scenes in parallel on Dask distributed (a local cluster or
  an existing scheduler), one model copy per worker, per-scene products (COGs, vectors)
  written atomically, resumable; ``workbench predict`` on the command line.
* :class:`Predictor` / :class:`InputSpec` — the model side: what a checkpoint expects
  (variables, normalisation, pixel size, classes, calibration) and the ensemble × TTA call.
* :func:`blend_windows`, :func:`window_weights`, :func:`window_starts` — the window grid and
  its smooth blending.

Examples
--------
>>> import numpy as np, xarray as xr
>>> from workbench.inference import predict
>>> from workbench.models import create_model
>>> stack = xr.Dataset(
...     {"sigma0_db": (("time", "y", "x"), np.full((1, 32, 32), -12.0, np.float32))},
...     coords={"time": np.array(["2020-03-01"], "datetime64[ns]"),
...             "y": 100.0 - np.arange(32.0), "x": np.arange(32.0)},
... ).rio.write_crs("EPSG:32633")
>>> predict(stack, create_model("caffe_unet", preset="small"), window=16).zones.shape
(1, 32, 32)
"""

from workbench.inference.archive import (
    PRODUCTS,
    SUCCESS,
    ArchiveSummary,
    cached_predictor,
    find_scenes,
    predict_archive,
)
from workbench.inference.blending import WEIGHTINGS, blend_windows, window_starts, window_weights
from workbench.inference.predictor import (
    TIME_SERIES_MODELS,
    TTA_ROTATIONS,
    InputSpec,
    Predictor,
    as_predictor,
    checkpoint_fingerprint,
)
from workbench.inference.scene import (
    DEFAULT_WINDOW,
    OUTPUTS,
    TEMPORAL_MODES,
    open_prediction,
    predict,
    predict_to_file,
    prediction_schedule,
)
from workbench.inference.tiling import SIGMA_SCALE, predict_tiled

__all__ = [
    "predict",
    "predict_to_file",
    "open_prediction",
    "prediction_schedule",
    "predict_archive",
    "find_scenes",
    "ArchiveSummary",
    "SUCCESS",
    "PRODUCTS",
    "cached_predictor",
    "Predictor",
    "InputSpec",
    "as_predictor",
    "checkpoint_fingerprint",
    "blend_windows",
    "predict_tiled",
    "SIGMA_SCALE",
    "window_weights",
    "window_starts",
    "WEIGHTINGS",
    "DEFAULT_WINDOW",
    "OUTPUTS",
    "TEMPORAL_MODES",
    "TIME_SERIES_MODELS",
    "TTA_ROTATIONS",
]
