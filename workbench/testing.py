"""Reference oracles for tests and benchmarks only: slow, literal re-statements that the
fast paths of :mod:`workbench.metrics` are checked against (never used by the package).

* :func:`zones_to_front_reference` — the CaFFe post-processing (zones → front) as it was
  before the run-length kernels; :func:`workbench.metrics.zones_to_front` must match it.
* :func:`zones_to_front_loops` — the same rule once more, pixel by pixel with skimage.
* :func:`front_distances_bruteforce` / :func:`pixel_distances_bruteforce` — CaFFe's public
  MDE code: the dense N × M distance matrix and its row / column minima.

Examples
--------
>>> import numpy as np
>>> from workbench.metrics import front_distances
>>> a = np.zeros((5, 5), bool); a[0, 0] = True
>>> b = np.zeros((5, 5), bool); b[3, 0:3] = True
>>> bool(np.array_equal(front_distances_bruteforce(a, b), front_distances(a, b)))
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from workbench.data.encoding import GLACIER, OCEAN
from workbench.metrics.distances import _check_pair, _front_coords
from workbench.metrics.fronts import (
    _STRUCT8,
    CAFFE_MIN_FRONT_M,
    _as_zones,
    _structure,
    front_cluster_threshold,
)

__all__ = [
    "front_distances_bruteforce",
    "largest_label_reference",
    "pixel_distances_bruteforce",
    "zones_to_front_loops",
    "zones_to_front_reference",
]

# The implementation of zones_to_front before the run-length kernels, verbatim (docstrings
# shortened): the straightforward definition that tests/metrics/test_zones_to_front_fast.py
# and benchmarks/postprocess.py compare the fast paths with. Do not "fix" or speed it up: it
# defines the expected output.


def largest_label_reference(labels: np.ndarray, n: int) -> int:
    """Label of the largest component (first in raster order on ties, like ``argmax``)."""
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    return int(np.argmax(sizes))


def zones_to_front_reference(
    zones_classes: Any,
    resolution_m: float | None,
    *,
    min_cluster_m: float = CAFFE_MIN_FRONT_M,
    min_cluster_px: float | None = None,
    nonocean_connectivity: int = 8,
) -> np.ndarray:
    """The previous ``zones_to_front`` (CaFFe post-processing), verbatim."""
    zones = _as_zones(zones_classes)
    threshold = front_cluster_threshold(resolution_m, min_cluster_m, min_cluster_px)
    struct_fill = _structure(nonocean_connectivity, "nonocean_connectivity")

    ocean = zones == OCEAN
    # 1. every non-ocean component except the largest becomes ocean
    labels, n = ndimage.label(~ocean, structure=struct_fill)
    if n > 1:
        keep = largest_label_reference(labels, n)
        ocean = ocean | ((labels > 0) & (labels != keep))
    # 2. keep the largest 8-connected ocean component; the rest becomes glacier
    labels, n = ndimage.label(ocean, structure=_STRUCT8)
    if n == 0:
        return np.zeros(zones.shape, dtype=bool)
    main_ocean = labels == largest_label_reference(labels, n) if n > 1 else ocean
    glacier = (zones == GLACIER) & ~ocean  # original glacier not flooded in step 1
    glacier |= ocean & ~main_ocean  # small ocean patches become glacier
    # 3. ocean pixels with a 4-neighbour glacier pixel (outside the image counts as nothing)
    near = np.zeros_like(glacier)
    near[1:, :] |= glacier[:-1, :]
    near[:-1, :] |= glacier[1:, :]
    near[:, 1:] |= glacier[:, :-1]
    near[:, :-1] |= glacier[:, 1:]
    front = main_ocean & near
    # 4. remove short 8-connected clusters (size <= threshold)
    labels, n = ndimage.label(front, structure=_STRUCT8)
    if n:
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        keep = sizes > threshold
        keep[0] = False
        front = keep[labels]
    return front


def front_distances_bruteforce(pred_mask: Any, ref_mask: Any) -> np.ndarray:
    """Reference implementation of :func:`front_distances` with a dense N × M matrix.

    Same definition and output order, O(N·M) time: :func:`pixel_distances_bruteforce` on the
    front pixels. For tests and benchmarks only.

    Examples
    --------
    >>> a = np.zeros((5, 5), bool); a[0, 0] = True
    >>> b = np.zeros((5, 5), bool); b[3, 0:3] = True
    >>> from workbench.metrics import front_distances
    >>> bool(np.array_equal(front_distances_bruteforce(a, b), front_distances(a, b)))
    True
    """
    p, r = _check_pair(pred_mask, ref_mask)
    return pixel_distances_bruteforce(_front_coords(p), _front_coords(r))


def pixel_distances_bruteforce(pc: np.ndarray, rc: np.ndarray) -> np.ndarray:
    """Dense pairwise distances (``scipy.spatial.distance.cdist``) and their minima.

    What CaFFe's public code does: the full N × M Euclidean distance matrix, its row minima
    (predicted → reference) and column minima (reference → predicted). The matrix is computed
    in blocks of predicted pixels (at most ``_BRUTE_BLOCK`` entries at a time) to bound the
    memory; the minima are exact either way. For tests and benchmarks only.

    Examples
    --------
    >>> a, b = np.array([[0, 0]]), np.array([[3, 0], [3, 1], [3, 2]])
    >>> pixel_distances_bruteforce(a, b).round(4).tolist()
    [3.0, 3.0, 3.1623, 3.6056]
    """
    from scipy.spatial.distance import cdist

    pc = np.asarray(pc, dtype=np.float64).reshape(-1, 2)
    rc = np.asarray(rc, dtype=np.float64).reshape(-1, 2)
    if len(pc) == 0 or len(rc) == 0:
        return np.empty(0, dtype=np.float64)
    rows = max(1, _BRUTE_BLOCK // len(rc))
    d_pr = np.empty(len(pc))
    d_rp = np.full(len(rc), np.inf)
    for start in range(0, len(pc), rows):
        d = cdist(pc[start : start + rows], rc)
        d_pr[start : start + rows] = d.min(axis=1)
        np.minimum(d_rp, d.min(axis=0), out=d_rp)
    return np.concatenate([d_pr, d_rp])


_BRUTE_BLOCK = 4_000_000  # matrix entries per block of the brute-force reference (32 MB)


def zones_to_front_loops(z: Any, threshold: float, connectivity: int = 2) -> np.ndarray:
    """Slow, literal re-statement of docs/science.md §1.2 with skimage and Python loops.

    >>> z = np.full((4, 6), GLACIER); z[:, 3:] = OCEAN
    >>> zones_to_front_loops(z, 0).sum(axis=1).tolist()
    [1, 1, 1, 1]
    """
    from skimage.measure import label

    z = np.array(z, dtype=np.int64)
    # every non-ocean component except the largest becomes ocean
    lab = label(z != OCEAN, connectivity=connectivity)
    sizes = [(lab == i).sum() for i in range(1, lab.max() + 1)]
    if sizes:
        biggest = 1 + int(np.argmax(sizes))
        for i in range(1, lab.max() + 1):
            if i != biggest:
                z[lab == i] = OCEAN
    # keep the largest 8-connected ocean component; other ocean → glacier
    lab = label(z == OCEAN, connectivity=2)
    if lab.max() == 0:
        return np.zeros(z.shape, bool)
    sizes = [(lab == i).sum() for i in range(1, lab.max() + 1)]
    biggest = 1 + int(np.argmax(sizes))
    z[(z == OCEAN) & (lab != biggest)] = GLACIER
    # ocean pixels with a glacier 4-neighbour
    h, w = z.shape
    front = np.zeros(z.shape, bool)
    for y in range(h):
        for x in range(w):
            if z[y, x] != OCEAN:
                continue
            for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                yy, xx = y + dy, x + dx
                if 0 <= yy < h and 0 <= xx < w and z[yy, xx] == GLACIER:
                    front[y, x] = True
    # remove 8-connected clusters with size <= threshold
    lab = label(front, connectivity=2)
    for i in range(1, lab.max() + 1):
        if (lab == i).sum() <= threshold:
            front[lab == i] = False
    return front
