"""Moved to :mod:`workbench.metrics` (pure metrics): :mod:`~workbench.metrics.fronts`
(zones → front, bounding boxes), :mod:`~workbench.metrics.distances`,
:mod:`~workbench.metrics.mde` and :mod:`~workbench.metrics.annotators`.

This module keeps every name it had (private ones included) for older imports.

>>> from workbench.evaluation.fronts import zones_to_front, mean_distance_error
>>> zones_to_front.__module__, mean_distance_error.__module__
('workbench.metrics.fronts', 'workbench.metrics.mde')
"""

from __future__ import annotations

from workbench.metrics.annotators import (  # noqa: F401
    MultiAnnotatorResult,
    _pooled_mean,
    multi_annotator_mde,
)
from workbench.metrics.distances import (  # noqa: F401
    _NN_BIG,
    _NN_BLOCK,
    _NN_LEAF,
    _NN_LOAD_PAIRS,
    _NN_LOAD_TOTAL,
    _NN_MAX_SIDE,
    _NN_STATE,
    _check_pair,
    _flat_coords,
    _flat_distances,
    _front_coords,
    _kdtree_distances,
    _nn_distances,
    _nn_kernel,
    _tree,
    front_distances,
)
from workbench.metrics.fronts import (  # noqa: F401
    _STRUCT4,
    _STRUCT8,
    _ZF_LOAD_PX,
    _ZF_LOAD_TOTAL,
    _ZF_MAX_PX,
    _ZF_STATE,
    BBOX_MODES,
    CAFFE_MIN_FRONT_M,
    GROUP_KEYS,
    _as_mask,
    _as_zones,
    _largest_label,
    _structure,
    _to_numpy,
    _zf_detect,
    _zf_gaps,
    _zf_kernels,
    _zf_kernels_for,
    _zf_link,
    _zf_paint,
    _zf_runs,
    _zf_signatures,
    _zones_to_front_ndimage,
    _zones_to_front_runs,
    bbox_mask,
    mask_front_with_bbox,
    zones_to_front,
)
from workbench.metrics.mde import (  # noqa: F401
    GroupMDE,
    ImageFrontError,
    MDEAccumulator,
    MDEResult,
    _clean,
    _describe,
    _group_stats,
    _sort_key,
    mean_distance_error,
)

__all__ = [
    "CAFFE_MIN_FRONT_M",
    "GROUP_KEYS",
    "zones_to_front",
    "BBOX_MODES",
    "bbox_mask",
    "mask_front_with_bbox",
    "front_distances",
    "ImageFrontError",
    "GroupMDE",
    "MDEResult",
    "mean_distance_error",
    "MDEAccumulator",
    "MultiAnnotatorResult",
    "multi_annotator_mde",
]
