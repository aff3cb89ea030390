"""The calving front a user sees: CaFFe's front with the artefacts a glaciologist rejects removed.

Benchmark numbers always use CaFFe's own post-processing
(:func:`workbench.metrics.fronts.zones_to_front`, unchanged). Products (front lines in
GeoPackages, the dashboard) may instead use :func:`product_front`, which differs in three ways
(issue #13 §3, "a cleaner front product"):

1. **Open sea only.** The ocean kept is the largest ocean component that touches the edge of
   the data (the image border or a no-data pixel, class 0: the sea enters the scene from
   outside). An ocean blob inside the glacier, which CaFFe keeps when it is the largest,
   would draw a closed loop; here it becomes glacier. Where no ocean reaches the edge, the
   largest ocean is kept as CaFFe does (``require_open_sea=True`` gives no front instead:
   on the SI fold of caffe256 that left 19 of 121 predictions frontless, against 6).
2. **Icebergs, not headlands.** Non-ocean components that do not touch the border (icebergs,
   mis-classified mélange floes) become ocean; CaFFe floods every non-ocean component but the
   largest, including a headland on the far side of the fjord.
3. **No front along the frame.** Front pixels within ``border_px`` of the edge of the data
   (image border or no-data pixels) are dropped (a line along the edge is the crop, not a
   front); then clusters at or under CaFFe's minimum length are removed again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from workbench.errors import ConfigError

from .fronts import CAFFE_MIN_FRONT_M, _as_zones, front_cluster_threshold, zones_to_front

__all__ = ["product_front", "open_sea_zones"]

_EIGHT = np.ones((3, 3), dtype=bool)
NODATA, GLACIER, OCEAN = 0, 2, 3


def _data_edge(zones: np.ndarray, width: int) -> np.ndarray:
    """Pixels within ``width`` of the image border or of a no-data pixel (class 0)."""
    edge = np.zeros(zones.shape, dtype=bool)
    if width <= 0:
        return edge
    edge[:width], edge[-width:], edge[:, :width], edge[:, -width:] = True, True, True, True
    nodata = zones == NODATA
    if nodata.any():
        edge |= ndimage.binary_dilation(nodata, structure=_EIGHT, iterations=width)
    return edge


def _touching(labels: np.ndarray, edge: np.ndarray) -> np.ndarray:
    """Labels (> 0) of the components with a pixel in ``edge``."""
    hit = labels[edge]
    return np.unique(hit[hit > 0])


def open_sea_zones(zones_classes: Any, *, require_open_sea: bool = False) -> np.ndarray | None:
    """Zones with only the open sea as ocean and icebergs flooded.

    Without ocean, or (with ``require_open_sea``) without ocean touching the edge of the
    data, there is no sea to keep: ``None``. Otherwise, where no ocean reaches the edge, the
    largest ocean component is the sea (CaFFe's rule).

    Examples
    --------
    >>> z = np.full((6, 6), 2); z[3:, :] = 3; z[1, 1] = 3   # sea at the bottom, a lake
    >>> open_sea_zones(z)[1, 1], open_sea_zones(z)[5, 0]    # the lake becomes glacier
    (np.uint8(2), np.uint8(3))
    >>> z = np.full((6, 6), 2); z[2:4, 2:4] = 3             # ocean only inside
    >>> open_sea_zones(z, require_open_sea=True) is None, int((open_sea_zones(z) == 3).sum())
    (True, 4)
    """
    zones = _as_zones(zones_classes).copy()
    edge = _data_edge(zones, 1)
    ocean_labels, n = ndimage.label(zones == OCEAN, structure=_EIGHT)
    open_sea = _touching(ocean_labels, edge)
    if n == 0 or (open_sea.size == 0 and require_open_sea):
        return None
    if open_sea.size == 0:
        open_sea = np.arange(1, n + 1)
    sizes = ndimage.sum_labels(np.ones_like(ocean_labels), ocean_labels, open_sea)
    sea = int(open_sea[int(np.argmax(sizes))])
    zones[(ocean_labels > 0) & (ocean_labels != sea)] = GLACIER
    land_labels, _ = ndimage.label(zones != OCEAN, structure=_EIGHT)
    ashore = np.isin(land_labels, _touching(land_labels, edge))
    zones[(land_labels > 0) & ~ashore] = OCEAN
    return zones


def product_front(
    zones_classes: Any,
    resolution_m: float | None,
    *,
    min_cluster_m: float = CAFFE_MIN_FRONT_M,
    min_cluster_px: float | None = None,
    border_px: int = 2,
    require_open_sea: bool = False,
) -> np.ndarray:
    """The front mask for products (see the module docstring); NOT for benchmark numbers.

    Parameters are those of :func:`~workbench.metrics.fronts.zones_to_front`, plus
    ``border_px``, the width of the frame in which no front is drawn, and
    ``require_open_sea`` (see :func:`open_sea_zones`).

    Examples
    --------
    >>> z = np.full((10, 10), 2); z[:, 7:] = 3          # the sea (30 px) on the right
    >>> z[1:9, 1:5] = 3                                  # a larger "lake" (32 px) inside
    >>> caffe = zones_to_front(z, None, min_cluster_px=0)
    >>> int(caffe[1:9, 1:5].sum()), int(caffe[:, 7].sum())   # CaFFe: a loop, no front
    (20, 0)
    >>> product_front(z, None, min_cluster_px=0).astype(int)[:, 7]  # the sea's front
    array([0, 0, 1, 1, 1, 1, 1, 1, 0, 0])
    """
    if not isinstance(border_px, int | np.integer) or border_px < 0:
        raise ConfigError(f"is {border_px!r}", variable="border_px", expected="an integer ≥ 0")
    zones = open_sea_zones(zones_classes, require_open_sea=require_open_sea)
    if zones is None:
        return np.zeros(np.shape(zones_classes), dtype=bool)
    front = zones_to_front(
        zones, resolution_m, min_cluster_m=min_cluster_m, min_cluster_px=min_cluster_px
    )
    front &= ~_data_edge(zones, int(border_px))
    threshold = front_cluster_threshold(resolution_m, min_cluster_m, min_cluster_px)
    labels, n = ndimage.label(front, structure=_EIGHT)
    if n:
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        small = sizes <= threshold
        small[0] = False
        front[small[labels]] = False
    return front
