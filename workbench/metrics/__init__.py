"""Pure metrics: calving fronts from zones, the CaFFe MDE, zone and outline metrics,
calibration, ensembles / test-time augmentation and the model-free baselines.

No training, inference or plotting here (numpy, scipy and, for ensembles, torch
tensors passed in); training, inference, geo and evaluation all build on this layer.
:mod:`workbench.evaluation` re-exports these names for older imports.

Examples
--------
>>> import numpy as np
>>> from workbench.metrics import zones_to_front, mean_distance_error
>>> zones = np.full((6, 8), 2); zones[:, 5:] = 3
>>> ref = np.zeros((6, 8), bool); ref[:, 4] = True
>>> mean_distance_error([zones], [ref], [7.0], from_zones=True, min_cluster_px=0).mde_m
7.0
"""

from __future__ import annotations

from .annotators import (
    MultiAnnotatorResult,
    multi_annotator_mde,
)
from .calibration import (
    CalibrationMap,
    ReliabilityCurve,
    TemperatureScaling,
    entropy_confidence,
    expected_calibration_error,
    reliability_curve,
)
from .distances import (
    front_distances,
)
from .ensembles import (
    TTA_TRANSFORMS,
    apply_transform,
    ensemble_mean_std,
    ensemble_predict,
    invert_transform,
    tta_predict,
)
from .fronts import (
    CAFFE_MIN_FRONT_M,
    GROUP_KEYS,
    bbox_mask,
    mask_front_with_bbox,
    zones_to_front,
)
from .mde import (
    GroupMDE,
    ImageFrontError,
    MDEAccumulator,
    MDEResult,
    mean_distance_error,
)
from .segmentation import (
    OutlineCounts,
    ZoneMetrics,
    ZoneSummary,
    aggregate_zone_metrics,
    f1_iou_from_precision_recall,
    zone_metrics,
)

__all__ = [
    "CalibrationMap",
    "ReliabilityCurve",
    "TemperatureScaling",
    "entropy_confidence",
    "expected_calibration_error",
    "reliability_curve",
    "TTA_TRANSFORMS",
    "apply_transform",
    "ensemble_mean_std",
    "ensemble_predict",
    "invert_transform",
    "tta_predict",
    "CAFFE_MIN_FRONT_M",
    "GROUP_KEYS",
    "GroupMDE",
    "ImageFrontError",
    "MDEAccumulator",
    "MDEResult",
    "MultiAnnotatorResult",
    "bbox_mask",
    "front_distances",
    "mask_front_with_bbox",
    "mean_distance_error",
    "multi_annotator_mde",
    "zones_to_front",
    "OutlineCounts",
    "ZoneMetrics",
    "ZoneSummary",
    "aggregate_zone_metrics",
    "f1_iou_from_precision_recall",
    "zone_metrics",
]
