"""Evaluation: the ``evaluate`` command and its reports, on top of inference. The pure
metrics live in :mod:`workbench.metrics` and are re-exported here for older imports.

Everything public is importable from here; see the submodules for the definitions
(:mod:`~workbench.evaluation.fronts`, :mod:`~workbench.evaluation.segmentation`,
:mod:`~workbench.evaluation.calibration`, :mod:`~workbench.evaluation.ensembles`,
:mod:`~workbench.evaluation.report`).

Examples
--------
>>> import numpy as np
>>> from workbench.evaluation import zones_to_front, mean_distance_error
>>> zones = np.full((6, 8), 2); zones[:, 5:] = 3
>>> ref = np.zeros((6, 8), bool); ref[:, 4] = True
>>> mean_distance_error([zones], [ref], [7.0], from_zones=True, min_cluster_px=0).mde_m
7.0
"""

from __future__ import annotations

from workbench.evaluation.fronts import (
    CAFFE_MIN_FRONT_M,
    GROUP_KEYS,
    GroupMDE,
    ImageFrontError,
    MDEAccumulator,
    MDEResult,
    MultiAnnotatorResult,
    bbox_mask,
    front_distances,
    mask_front_with_bbox,
    mean_distance_error,
    multi_annotator_mde,
    zones_to_front,
)
from workbench.metrics.calibration import (
    CalibrationMap,
    ReliabilityCurve,
    TemperatureScaling,
    entropy_confidence,
    expected_calibration_error,
    reliability_curve,
)
from workbench.metrics.ensembles import (
    TTA_TRANSFORMS,
    apply_transform,
    ensemble_mean_std,
    ensemble_predict,
    invert_transform,
    tta_predict,
)
from workbench.metrics.segmentation import (
    OutlineCounts,
    ZoneMetrics,
    ZoneSummary,
    aggregate_zone_metrics,
    f1_iou_from_precision_recall,
    zone_metrics,
)

from .report import (
    markdown_table,
    plot_error_histogram,
    plot_mde_breakdown,
    plot_reliability_diagram,
    plot_worst_cases,
    write_report,
)

__all__ = [
    # fronts
    "CAFFE_MIN_FRONT_M",
    "GROUP_KEYS",
    "zones_to_front",
    "bbox_mask",
    "mask_front_with_bbox",
    "front_distances",
    "mean_distance_error",
    "MDEAccumulator",
    "MDEResult",
    "GroupMDE",
    "ImageFrontError",
    "multi_annotator_mde",
    "MultiAnnotatorResult",
    # segmentation
    "zone_metrics",
    "aggregate_zone_metrics",
    "ZoneMetrics",
    "ZoneSummary",
    "OutlineCounts",
    "f1_iou_from_precision_recall",
    # calibration
    "entropy_confidence",
    "reliability_curve",
    "ReliabilityCurve",
    "expected_calibration_error",
    "CalibrationMap",
    "TemperatureScaling",
    # ensembles
    "TTA_TRANSFORMS",
    "apply_transform",
    "invert_transform",
    "tta_predict",
    "ensemble_mean_std",
    "ensemble_predict",
    # reports
    "write_report",
    "markdown_table",
    "plot_error_histogram",
    "plot_mde_breakdown",
    "plot_reliability_diagram",
    "plot_worst_cases",
]
