"""Calving fronts from zones and the CaFFe mean distance error (MDE).

Implements docs/science.md §1.2 (zones to front) and §1.3 (the mean distance error):

1. :func:`zones_to_front` turns a zone map (class ids 0 NA, 1 rock, 2 glacier, 3 ocean) into a
   one-pixel front line exactly as the CaFFe benchmark's post-processing does;
2. :func:`mask_front_with_bbox` optionally clears predicted front pixels outside the image's
   bounding box (the reference line is never masked);
3. :func:`front_distances` gives, for one image, the distances from every predicted front
   pixel to the nearest reference pixel followed by those from every reference pixel to the
   nearest predicted pixel (an exact compiled nearest-neighbour search; bit-identical to
   the dense pairwise :func:`_front_distances_bruteforce`);
4. :func:`mean_distance_error` pools the distances of ALL images (times each image's pixel
   size) into one mean, counts images without a predicted front, and breaks the result down
   by glacier, season, sensor and resolution. :class:`MDEAccumulator` does the same one
   image at a time, keeping only the distances (for long evaluation runs).

:func:`multi_annotator_mde` compares a prediction with several human annotations and the
annotators with each other.

Examples
--------
>>> import numpy as np
>>> zones = np.full((6, 8), 2); zones[:, 5:] = 3          # glacier left, ocean right
>>> front = zones_to_front(zones, 1.0, min_cluster_px=0)
>>> np.argwhere(front)[:, 1].tolist()                     # column 5, every row
[5, 5, 5, 5, 5, 5]
>>> ref = np.zeros((6, 8), bool); ref[:, 3] = True
>>> res = mean_distance_error([front], [ref], [7.0])
>>> res.mde_px, res.mde_m, res.n_no_front
(2.0, 14.0, 0)
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import itertools
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from workbench.data.encoding import GLACIER, OCEAN
from workbench.errors import ConfigError, DataError, LabelEncodingError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

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

#: CaFFe removes front clusters with at most this many metres of pixels (750 m / resolution).
CAFFE_MIN_FRONT_M = 750.0

#: The breakdowns :func:`mean_distance_error` reports, in this order.
GROUP_KEYS: tuple[str, ...] = ("glacier", "season", "sensor", "resolution")

_STRUCT8 = np.ones((3, 3), dtype=bool)
_STRUCT4 = ndimage.generate_binary_structure(2, 1)


# --------------------------------------------------------------------------- helpers


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _as_mask(x: Any, name: str) -> np.ndarray:
    arr = _to_numpy(x)
    if arr.ndim != 2:
        raise DataError(f"has shape {arr.shape}", variable=name, expected="a 2-D mask")
    return arr.astype(bool, copy=False) if arr.dtype == bool else arr != 0


def _as_zones(x: Any, name: str = "zones") -> np.ndarray:
    arr = _to_numpy(x)
    if arr.ndim != 2:
        raise DataError(f"has shape {arr.shape}", variable=name, expected="a 2-D zone map")
    if arr.dtype.kind not in "biuf":
        raise LabelEncodingError(
            f"has dtype {arr.dtype}", variable=name, expected="integer class ids 0..3"
        )
    if arr.size and (
        arr.min() < 0
        or arr.max() > 3
        or (arr.dtype.kind == "f" and not np.all(arr == np.round(arr)))
    ):
        raise LabelEncodingError(
            f"holds values outside the class ids 0..3 (min {arr.min()}, max {arr.max()})",
            variable=name,
            expected="class ids 0 NA, 1 rock, 2 glacier, 3 ocean "
            "(convert CaFFe PNG values with workbench.data.encoding.zones_to_classes)",
        )
    return arr.astype(np.uint8, copy=False)


def _structure(connectivity: int, name: str) -> np.ndarray:
    if connectivity == 8:
        return _STRUCT8
    if connectivity == 4:
        return _STRUCT4
    raise ConfigError(
        f"connectivity {connectivity!r} is not supported", variable=name, expected="4 or 8"
    )


def _largest_label(labels: np.ndarray, n: int) -> int:
    """Label of the largest component (first in raster order on ties, like ``argmax``).

    Counts with :func:`numpy.bincount` on slices of the flat labels, so that only a slice
    at a time is cast to ``intp`` (the same counts as one call on the whole image, faster).
    """
    flat = labels.ravel()
    step = max(1 << 16, 4 * (n + 1))
    sizes = np.zeros(n + 1, dtype=np.int64)
    for start in range(0, flat.size, step):
        sizes += np.bincount(flat[start : start + step], minlength=n + 1)
    sizes[0] = 0
    return int(np.argmax(sizes))


# --------------------------------------------------------------------------- zones → front


def zones_to_front(
    zones_classes: Any,
    resolution_m: float | None,
    *,
    min_cluster_m: float = CAFFE_MIN_FRONT_M,
    min_cluster_px: float | None = None,
    nonocean_connectivity: int = 8,
) -> np.ndarray:
    """Extract the calving front from a zone map exactly as CaFFe does (docs/science.md §1.2).

    Steps, in this order:

    1. Fill holes in the ocean: label the NON-ocean pixels (NA, rock and glacier together)
       into connected components; every component except the largest becomes ocean.
    2. Label the ocean pixels into 8-connected components; keep the largest as ocean and turn
       every other ocean pixel into glacier.
    3. The front is every ocean pixel with a glacier pixel among its 4 neighbours (up, down,
       left, right). Rock/NA boundaries and the image border never count.
    4. Remove 8-connected front clusters with ``size <= threshold`` pixels, where
       ``threshold = min_cluster_px`` if given, else ``min_cluster_m / resolution_m``
       (a float, not rounded: 750 m at 7 m/px removes clusters of ≤ 107 px).

    Connectivity of step 1 (a deliberate choice): CaFFe's public post-processing code
    (``postprocess_zone_segmenation`` in ``Nora-Go/Calving_Fronts_and_Where_to_Find_Them``)
    labels the non-ocean mask with 8-connectivity, and so does this function by default, so
    that fronts and MDEs match the published benchmark. Note that 8-connectivity for both
    the non-ocean step and the ocean step is not topologically complementary: two land
    regions touching only at a corner count as one (the smaller is NOT flooded) although the
    ocean may also pass diagonally between them. ``nonocean_connectivity=4`` gives the
    complementary (digital-topology) definition, in which such corner-touching land
    patches are separate and the smaller ones are flooded; it changes results only in those
    corner cases. Ties between equally large components go to the first one in raster
    order (row-major), as ``argmax`` does in CaFFe's code.

    Implementation: connected components of horizontal pixel runs, compiled with numba
    (:func:`_zones_to_front_runs`, about 20-40× faster than labelling every pixel on
    CaFFe-sized images, ``benchmarks/postprocess.py``); small images seen before the
    kernels are loaded, images of 2**30 pixels or more and installs without numba use
    ``scipy.ndimage.label`` (:func:`_zones_to_front_ndimage`). Both give exactly the same
    pixels as the straightforward labelling (``tests/evaluation/
    test_zones_to_front_fast.py``).

    Parameters
    ----------
    zones_classes
        2-D class ids (0 NA, 1 rock, 2 glacier, 3 ocean); NumPy array or torch tensor.
        Convert CaFFe PNG values (0/64/127/254) with
        :func:`workbench.data.encoding.zones_to_classes` first.
    resolution_m
        Pixel size in metres, used for the cluster threshold. May be ``None`` when
        ``min_cluster_px`` is given (e.g. for resized sets such as caffe256).
    min_cluster_m
        Front clusters with at most this length in metres (counted as pixels × resolution)
        are removed. CaFFe: 750 m.
    min_cluster_px
        Threshold in pixels; takes precedence over ``min_cluster_m``/``resolution_m``.
        ``0`` keeps every cluster.
    nonocean_connectivity
        8 (CaFFe, default) or 4, see above.

    Returns
    -------
    numpy.ndarray
        Boolean front mask of the same shape.

    Raises
    ------
    LabelEncodingError
        Values outside 0..3.
    ConfigError
        Neither a resolution nor ``min_cluster_px``; a non-positive resolution.

    Examples
    --------
    >>> z = np.full((5, 6), 2); z[:, 3:] = 3; z[0, 4] = 1     # a rock pixel in the ocean
    >>> zones_to_front(z, None, min_cluster_px=0).astype(int)
    array([[0, 0, 0, 1, 0, 0],
           [0, 0, 0, 1, 0, 0],
           [0, 0, 0, 1, 0, 0],
           [0, 0, 0, 1, 0, 0],
           [0, 0, 0, 1, 0, 0]])
    >>> int(zones_to_front(z, 250.0).sum())                   # 5 px ≤ 750 m / 250 m? no: kept
    5
    >>> int(zones_to_front(z, 150.0).sum())                   # 5 px ≤ 750 / 150 = 5: removed
    0
    """
    zones = _as_zones(zones_classes)
    if min_cluster_px is not None:
        threshold = float(min_cluster_px)
    else:
        if resolution_m is None:
            raise ConfigError(
                "needs a pixel size to turn the minimum front length into pixels",
                variable="resolution_m",
                expected="a resolution in metres, or min_cluster_px for images of unknown "
                "pixel size (e.g. resized sets such as caffe256)",
            )
        if not (
            isinstance(resolution_m, int | float | np.number)
            and resolution_m > 0
            and math.isfinite(resolution_m)
        ):
            raise ConfigError(
                f"resolution {resolution_m!r} is not a pixel size",
                variable="resolution_m",
                expected="a positive number of metres",
            )
        threshold = float(min_cluster_m) / float(resolution_m)
    struct_fill = _structure(nonocean_connectivity, "nonocean_connectivity")
    if zones.size == 0:
        return np.zeros(zones.shape, dtype=bool)
    kernels = _zf_kernels_for(zones.size)
    if kernels is not None:
        return _zones_to_front_runs(zones, threshold, nonocean_connectivity == 8, kernels)
    return _zones_to_front_ndimage(zones, threshold, struct_fill)


def _zones_to_front_ndimage(
    zones: np.ndarray, threshold: float, struct_fill: np.ndarray
) -> np.ndarray:
    """:func:`zones_to_front` with :func:`scipy.ndimage.label` (the fallback path).

    ``zones``: non-empty uint8 class ids; ``threshold``: clusters of ``size <= threshold``
    pixels are removed; ``struct_fill``: the structure of step 1. The same pixels as the
    compiled :func:`_zones_to_front_runs`.
    """
    ocean = zones == OCEAN
    # 1. every non-ocean component except the largest becomes ocean (label 0 is the ocean)
    labels, n = ndimage.label(~ocean, structure=struct_fill)
    if n > 1:
        ocean = labels != _largest_label(labels, n)
    # 2. keep the largest 8-connected ocean component
    labels, n = ndimage.label(ocean, structure=_STRUCT8)
    if n == 0:
        return np.zeros(zones.shape, dtype=bool)
    main_ocean = labels == _largest_label(labels, n) if n > 1 else ocean
    del labels
    # 3. main-ocean pixels with a 4-neighbour glacier pixel. The other ocean components,
    # which become glacier, never touch the main one (4-neighbours are 8-connected), so
    # only the original glacier that was not flooded in step 1 counts.
    glacier = zones == GLACIER
    glacier &= ~ocean
    near = np.zeros_like(glacier)
    near[1:, :] |= glacier[:-1, :]
    near[:-1, :] |= glacier[1:, :]
    near[:, 1:] |= glacier[:, :-1]
    near[:, :-1] |= glacier[:, 1:]
    near &= main_ocean
    # 4. remove short 8-connected clusters (size <= threshold), labelled on the bounding
    # box of the front pixels; every cluster is at least 1 px, so threshold < 1 keeps all
    if not threshold < 1.0:
        rows = np.flatnonzero(near.any(axis=1))
        if rows.size:
            cols = np.flatnonzero(near.any(axis=0))
            box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
            labels, n = ndimage.label(near[box], structure=_STRUCT8)
            keep = np.bincount(labels.ravel(), minlength=n + 1) > threshold
            keep[0] = False
            near[box] = keep[labels]
    return near


# ------------------------------------------------------------------- zones → front kernels
#
# :func:`_zones_to_front_runs` does the four steps of :func:`zones_to_front` on horizontal
# RUNS of pixels (maximal row segments of one kind) instead of on pixels: connected
# components are found by a union-find over the runs of consecutive rows, so no label image
# is written, nothing is flooded in place (a flooded run is only marked) and the output is
# the only full-size array. Five small functions compiled with numba on first use
# (:func:`_zf_kernels`), as the nearest-neighbour kernel above.
#
# Run ids follow raster order (row, then start column), and the union keeps the SMALLER id as
# the root, so a component's root is the run holding its first pixel in raster order: the
# largest component with the smallest root is the one ``scipy.ndimage.label`` + ``argmax``
# pick on ties. Run coordinates and ids are int32 (images under 2**30 pixels).

_ZF_LOAD_PX = 1 << 21  # an image of this many pixels loads the kernels (scipy: ~0.1 s)
_ZF_LOAD_TOTAL = 1 << 24  # or this many pixels in all (about 0.5-1 s of scipy work)
_ZF_MAX_PX = 1 << 30  # larger images use scipy (int32 run ids and coordinates)


def _zf_runs(
    z: np.ndarray, value: int, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """Runs of pixels ``!= value`` in the given rows (ascending) of a uint8 image.

    Returns int32 (row, start, end) per run, end exclusive, in raster order. Two passes: a
    vectorised count of the run starts, then a scan that skips 64-pixel blocks holding no
    run boundary.
    """
    w = z.shape[1]
    v = np.uint8(value)  # compare bytes with bytes (no widening: vectorised)
    n = 0
    for i in range(rows.shape[0]):
        row = z[rows[i]]
        if w:
            n += np.int64(row[0] != v)
        for c in range(1, w):
            n += np.int64((row[c] != v) & (row[c - 1] == v))
    rr = np.empty(n, np.int32)
    rs = np.empty(n, np.int32)
    re = np.empty(n, np.int32)
    k = 0
    for i in range(rows.shape[0]):
        r = rows[i]
        row = z[r]
        outside = True  # the pixel before is == value (column -1 counts as such)
        c = 0
        while c < w:
            stop = c + 64
            if stop <= w:
                block = row[c:stop]
                same = 0
                for j in range(64):
                    same += np.int64(block[j] == v)
                if same == (64 if outside else 0):
                    c = stop
                    continue
            else:
                stop = w
            for j in range(c, stop):
                o = row[j] == v
                if o != outside:
                    if o:
                        re[k - 1] = j
                    else:
                        rr[k] = r
                        rs[k] = j
                        k += 1
                    outside = o
            c = stop
        if not outside:
            re[k - 1] = w
    return rr, rs, re


def _zf_link(
    rr: np.ndarray, rs: np.ndarray, re: np.ndarray, slack: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """Connected components of runs in raster order (from :func:`_zf_runs`).

    Runs of consecutive rows are connected when ``start_a < end_b + slack`` and
    ``start_b < end_a + slack``: ``slack`` 1 for 8-connectivity, 0 for 4. Returns the root
    (smallest run id) of every run's component and the pixel count of each component at its
    root (0 elsewhere), so ``argmax`` of the counts is the largest component, first in raster
    order on ties.
    """
    n = rr.shape[0]
    par = np.empty(n, np.int32)
    for k in range(n):
        par[k] = k
    p0 = 0
    p1 = 0
    prev_row = -2
    k = 0
    while k < n:
        r = rr[k]
        g = k + 1
        while g < n and rr[g] == r:
            g += 1
        if prev_row == r - 1:  # merge runs [p0, p1) of row r - 1 with runs [k, g) of row r
            i = p0
            j = k
            while i < p1 and j < g:
                if rs[i] < re[j] + slack and rs[j] < re[i] + slack:
                    a = i
                    while par[a] != a:
                        par[a] = par[par[a]]
                        a = par[a]
                    b = j
                    while par[b] != b:
                        par[b] = par[par[b]]
                        b = par[b]
                    if a < b:
                        par[b] = a
                    elif b < a:
                        par[a] = b
                if re[i] < re[j]:
                    i += 1
                else:
                    j += 1
        p0 = k
        p1 = g
        prev_row = r
        k = g
    size = np.zeros(n, np.int64)
    for k in range(n):  # par[k] <= k: one ascending pass finds every root
        par[k] = par[par[k]]
        size[par[k]] += re[k] - rs[k]
    return par, size


def _zf_gaps(
    rr: np.ndarray, rs: np.ndarray, re: np.ndarray, keep: np.ndarray, h: int, w: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """Runs (row, start, end) of an ``h × w`` image NOT covered by the runs with ``keep``."""
    n = rr.shape[0]
    cap = h
    for k in range(n):
        if keep[k]:
            cap += 1
    orr = np.empty(cap, np.int32)
    ors = np.empty(cap, np.int32)
    ore = np.empty(cap, np.int32)
    m = 0
    k = 0
    for r in range(h):
        c = 0
        while k < n and rr[k] == r:
            if keep[k]:
                if rs[k] > c:
                    orr[m] = r
                    ors[m] = c
                    ore[m] = rs[k]
                    m += 1
                c = re[k]
            k += 1
        if c < w:
            orr[m] = r
            ors[m] = c
            ore[m] = w
            m += 1
    return orr[:m].copy(), ors[:m].copy(), ore[:m].copy()


def _zf_detect(
    z: np.ndarray,
    glacier: int,
    lrow0: np.ndarray,
    ls: np.ndarray,
    le: np.ndarray,
    keep: np.ndarray,
    orr: np.ndarray,
    ors: np.ndarray,
    ore: np.ndarray,
    sel: np.ndarray,
    out: np.ndarray,
    rows: np.ndarray,
) -> int:  # pragma: no cover - numba
    """Set ``out`` on the pixels of the selected ocean runs with a 4-neighbour kept glacier.

    ``z``: the zones as given; a pixel of class ``glacier`` counts only when its land run
    (``ls``/``le``, row ``q``'s runs starting at ``lrow0[q]``) has ``keep`` (flooded land is
    ocean). The ocean runs (``orr``/``ors``/``ore``) are the gaps between kept land runs, so
    inside a run the horizontal neighbours are ocean and the pixels just outside its two
    ends are kept land. Marks ``rows[r]`` for rows with a front pixel; returns the number of
    runs holding one.
    """
    h, w = z.shape
    g = np.uint8(glacier)
    hits = 0
    for k in range(orr.shape[0]):
        if not sel[k]:
            continue
        r = np.int64(orr[k])
        s = np.int64(ors[k])
        e = np.int64(ore[k])
        o = out[r]
        hit = False
        for side in range(2):
            q = r - 1 if side == 0 else r + 1
            if q < 0 or q >= h:
                continue
            above = z[q, s:e]
            cnt = 0
            for c in range(above.shape[0]):  # (a slice and int64 counts: vectorised)
                cnt += np.int64(above[c] == g)
            if cnt == 0:
                continue
            nb = z[q]
            # the kept land runs of row q that overlap [s, e): first the one ending after s
            lo = lrow0[q]
            hi = lrow0[q + 1]
            while lo < hi:
                mid = (lo + hi) // 2
                if le[mid] <= s:
                    lo = mid + 1
                else:
                    hi = mid
            j = lo
            while j < lrow0[q + 1] and ls[j] < e:
                if keep[j]:
                    for c in range(max(ls[j], s), min(le[j], e)):
                        if nb[c] == g:
                            o[c] = True
                            hit = True
                j += 1
        if s > 0 and z[r, s - 1] == g:
            o[s] = True
            hit = True
        if e < w and z[r, e] == g:
            o[e - 1] = True
            hit = True
        if hit:
            rows[r] = True
            hits += 1
    return hits


def _zf_paint(
    z: np.ndarray, rr: np.ndarray, rs: np.ndarray, re: np.ndarray, sel: np.ndarray, value: int
) -> None:  # pragma: no cover - numba
    """Set the pixels of the selected runs to ``value``."""
    for k in range(rr.shape[0]):
        if sel[k]:
            z[rr[k], rs[k] : re[k]] = value


def _zf_signatures(t: Any) -> dict[str, Any]:
    """The numba signatures of the ``_zf_*`` kernels (``t``: ``numba.types``).

    The zones are typed as a READ-ONLY array, which also accepts writable ones, so that
    read-only inputs (``np.asarray`` of a PIL image, memory maps) need no copy.
    """
    zones = t.Array(t.uint8, 2, "C", readonly=True)
    image = t.Array(t.uint8, 2, "C")
    i32, i64, flags = (t.Array(d, 1, "C") for d in (t.int32, t.int64, t.boolean))
    runs = t.UniTuple(i32, 3)
    return {
        "_zf_runs": runs(zones, t.int64, i64),
        "_zf_link": t.Tuple((i32, i64))(i32, i32, i32, t.int64),
        "_zf_gaps": runs(i32, i32, i32, flags, t.int64, t.int64),
        "_zf_detect": t.int64(
            zones,
            t.int64,
            i64,
            i32,
            i32,
            flags,
            i32,
            i32,
            i32,
            flags,
            t.Array(t.boolean, 2, "C"),
            flags,
        ),
        "_zf_paint": t.void(image, i32, i32, i32, flags, t.int64),
    }


_ZF_STATE: dict[str, Any] = {}


def _zf_kernels() -> dict[str, Any] | None:
    """The compiled ``_zf_*`` functions by name (loaded once), or ``None`` without numba.

    Compiled for fixed argument types and cached on disk by numba like :func:`_nn_kernel`
    (a few seconds the first time, then a fraction of a second per process). ``None`` makes
    :func:`zones_to_front` use :func:`_zones_to_front_ndimage` (the same pixels).

    Examples
    --------
    >>> k = _zf_kernels()
    >>> k is None or sorted(k) == ["_zf_detect", "_zf_gaps", "_zf_link", "_zf_paint", "_zf_runs"]
    True
    """
    if "kernels" not in _ZF_STATE:
        _ZF_STATE["kernels"] = None
        try:
            import numba
        except ImportError:  # pragma: no cover - numba comes with datashader
            return None
        if numba.config.DISABLE_JIT:  # pragma: no cover - the kernels would run in Python
            return None
        compiled: dict[str, Any] = {}
        try:
            for name, sig in _zf_signatures(numba.types).items():
                try:
                    compiled[name] = numba.njit(sig, nogil=True, cache=True)(globals()[name])
                except RuntimeError:  # no writable cache location: compile without caching
                    compiled[name] = numba.njit(sig, nogil=True)(globals()[name])
        except Exception as exc:  # pragma: no cover - a numba that cannot compile them
            _ZF_STATE["error"] = repr(exc)
            return None
        _ZF_STATE["kernels"] = compiled
    return _ZF_STATE["kernels"]


def _zf_kernels_for(n_px: int) -> dict[str, Any] | None:
    """The kernels for an image of ``n_px`` pixels, or ``None`` for the scipy path.

    Until they are loaded, small images go to scipy (milliseconds each); the first image of
    ``_ZF_LOAD_PX`` pixels, or ``_ZF_LOAD_TOTAL`` pixels in all, loads them.
    """
    kernels = _ZF_STATE.get("kernels")
    if "kernels" not in _ZF_STATE:
        _ZF_STATE["px"] = _ZF_STATE.get("px", 0) + n_px
        if n_px >= _ZF_LOAD_PX or _ZF_STATE["px"] >= _ZF_LOAD_TOTAL:
            kernels = _zf_kernels()
    return kernels if n_px < _ZF_MAX_PX else None


def _zones_to_front_runs(
    zones: np.ndarray, threshold: float, conn8: bool, kernels: dict[str, Any]
) -> np.ndarray:
    """:func:`zones_to_front` on runs with the compiled kernels (:func:`_zf_kernels`).

    ``zones``: non-empty uint8 class ids under ``_ZF_MAX_PX`` pixels; ``threshold`` as in
    :func:`_zones_to_front_ndimage`; ``conn8``: 8-connectivity in step 1 (else 4). The same
    pixels as :func:`_zones_to_front_ndimage`.
    """
    zones = np.ascontiguousarray(zones, dtype=np.uint8)
    h, w = zones.shape
    out = np.zeros((h, w), dtype=bool)
    runs, link, paint = kernels["_zf_runs"], kernels["_zf_link"], kernels["_zf_paint"]
    # 1. non-ocean runs; every component except the largest (``keep``) becomes ocean
    lr, ls, le = runs(zones, OCEAN, np.arange(h, dtype=np.int64))
    keep = np.zeros(0, dtype=bool)
    if lr.size:
        root, size = link(lr, ls, le, 1 if conn8 else 0)
        keep = root == np.argmax(size)
    # 2. the ocean runs are the gaps between the kept land runs; the largest 8-connected
    # component is the main ocean (the others, which become glacier, never touch it)
    orr, ors, ore = kernels["_zf_gaps"](lr, ls, le, keep, h, w)
    if orr.size == 0:
        return out
    oroot, osize = link(orr, ors, ore, 1)
    main = oroot == np.argmax(osize)
    # 3. main-ocean pixels with a 4-neighbour glacier pixel of a kept land run
    rows = np.zeros(h, dtype=bool)
    lrow0 = np.searchsorted(lr, np.arange(h + 1, dtype=np.int64)).astype(np.int64)
    if (
        not kernels["_zf_detect"](
            zones, GLACIER, lrow0, ls, le, keep, orr, ors, ore, main, out, rows
        )
        or threshold < 1.0
    ):  # every cluster has at least 1 px > threshold
        return out
    # 4. remove 8-connected front clusters with size <= threshold
    u8 = out.view(np.uint8)
    fr, fs, fe = runs(u8, 0, np.flatnonzero(rows).astype(np.int64))
    froot, fsize = link(fr, fs, fe, 1)
    drop = ~(fsize[froot] > threshold)
    if drop.any():
        paint(u8, fr, fs, fe, drop, 0)
    return out


# --------------------------------------------------------------------------- bounding boxes


BBOX_MODES = ("caffe", "polygon", "box")
"""How a bounding box masks a predicted front (see :func:`bbox_mask`)."""


def bbox_mask(
    shape: tuple[int, int],
    corners: Any,
    *,
    mode: Literal["caffe", "polygon", "box"] = "polygon",
) -> np.ndarray:
    """Boolean mask of the pixels inside an image's bounding box.

    Parameters
    ----------
    shape
        ``(H, W)`` of the image.
    corners
        Four ``(x, y)`` corners (column, row), e.g. from :func:`workbench.data.caffe.read_bbox`.
    mode
        ``"caffe"``: exactly the CaFFe benchmark's evaluation code (its
        ``mask_prediction_with_bounding_box``): ``corners`` are the box file's upper-left,
        lower-left, lower-right and upper-right corners in that order; the upper-left and
        lower-left x below 0 become 0, the right corners' x beyond the width become width − 1,
        the upper corners' y beyond the height become height − 1, the lower-right and
        lower-left y below 0 become 0; then rows ``[y_lower_right, y_upper_left)`` and
        columns ``[x_upper_left, x_lower_right)`` are kept, with Python's slicing rules
        (a negative index counts from the end, as there). Use this for benchmark numbers.
        ``"polygon"`` (default): pixels whose centre lies inside or on the
        polygon through the corners in the given order. ``"box"``: the axis-aligned,
        half-open extent ``[min_y, max_y) × [min_x, max_x)`` of the corners, clipped to the
        image, which is what CaFFe's public evaluation code keeps for its (axis-aligned)
        boxes. The two differ only on the last row/column of an axis-aligned box.

    Returns
    -------
    numpy.ndarray
        Boolean ``(H, W)`` mask.

    Examples
    --------
    >>> bbox_mask((4, 5), [(1, 1), (3, 1), (3, 2), (1, 2)]).astype(int)
    array([[0, 0, 0, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 0, 0, 0]])
    >>> bbox_mask((4, 5), [(1, 1), (3, 1), (3, 2), (1, 2)], mode="box").astype(int)
    array([[0, 0, 0, 0, 0],
           [0, 1, 1, 0, 0],
           [0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0]])
    """
    pts = np.asarray(_to_numpy(corners), dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3:
        raise DataError(
            f"bounding box has shape {pts.shape}", variable="bbox", expected="4 (x, y) corners"
        )
    h, w = int(shape[0]), int(shape[1])
    if mode == "caffe":
        if len(pts) != 4:
            raise DataError(
                f"bounding box has {len(pts)} corners",
                variable="bbox",
                expected="the 4 corners of a CaFFe box file (UL, LL, LR, UR)",
            )
        (ulx, uly), (llx, lly), (lrx, lry), (urx, ury) = (
            (int(round(x)), int(round(y))) for x, y in pts.tolist()
        )
        ulx, llx = max(ulx, 0), max(llx, 0)
        urx, lrx = (w - 1 if v > w else v for v in (urx, lrx))
        uly, ury = (h - 1 if v > h else v for v in (uly, ury))
        lly, lry = max(lly, 0), max(lry, 0)
        out = np.ones((h, w), dtype=bool)
        out[:lry, :] = False
        out[uly:, :] = False
        out[:, :ulx] = False
        out[:, lrx:] = False
        return out
    if mode == "box":
        x0, x1 = (int(round(v)) for v in (pts[:, 0].min(), pts[:, 0].max()))
        y0, y1 = (int(round(v)) for v in (pts[:, 1].min(), pts[:, 1].max()))
        out = np.zeros((h, w), dtype=bool)
        out[max(y0, 0) : max(min(y1, h), 0), max(x0, 0) : max(min(x1, w), 0)] = True
        return out
    if mode != "polygon":
        raise ConfigError(
            f"unknown bounding-box mode {mode!r}", variable="mode", expected=f"one of {BBOX_MODES}"
        )
    from skimage.draw import polygon2mask, polygon_perimeter

    rc = pts[:, ::-1]
    out = polygon2mask((h, w), rc)
    rr, cc = polygon_perimeter(np.round(rc[:, 0]), np.round(rc[:, 1]), shape=(h, w), clip=False)
    ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    out[rr[ok], cc[ok]] = True
    return out


def mask_front_with_bbox(
    front: Any, corners: Any, *, mode: Literal["caffe", "polygon", "box"] = "polygon"
) -> np.ndarray:
    """Set predicted front pixels outside the bounding box to 0 (reference fronts: never).

    Examples
    --------
    >>> f = np.ones((3, 4), bool)
    >>> mask_front_with_bbox(f, [(0, 0), (1, 0), (1, 2), (0, 2)]).sum(axis=0).tolist()
    [3, 3, 0, 0]
    """
    mask = _as_mask(front, "front")
    return mask & bbox_mask(mask.shape, corners, mode=mode)


# --------------------------------------------------------------------------- distances


def _check_pair(pred: Any, ref: Any) -> tuple[np.ndarray, np.ndarray]:
    p = _as_mask(pred, "pred_front")
    r = _as_mask(ref, "ref_front")
    if p.shape != r.shape:
        raise DataError(
            f"predicted front has shape {p.shape} but the reference {r.shape}",
            variable="front",
            expected="masks of the same shape",
        )
    return p, r


def front_distances(pred_mask: Any, ref_mask: Any) -> np.ndarray:
    """Symmetric nearest-neighbour distances between two front masks, in pixels.

    Returns the distance from every predicted front pixel to the nearest reference pixel
    (predicted pixels in row-major order), followed by the distance from every reference
    pixel to the nearest predicted pixel: ``n_pred + n_ref`` values (docs/science.md §1.3 step 3).

    The search is exact: each distance is the square root of the smallest integer squared
    distance ``dr² + dc²`` over ALL pixels of the other front, so the numbers are
    bit-identical to the dense pairwise :func:`_front_distances_bruteforce` (integers below
    2**53 are exact in float64 and IEEE-754 ``sqrt`` is correctly rounded, in ``cdist`` as
    here). A compiled kernel (numba, :func:`_nn_kernel`) does the search: each front's
    pixels are sorted along a Z-order curve and cut into leaves of 64 with bounding boxes;
    every 16 consecutive query pixels share the list of leaves whose box can hold something
    nearer than an upper bound, and each query pixel scans only the leaves of that list whose
    box is nearer than its best distance so far (int32 arithmetic, vectorised). Memory is
    O(N + M) instead of the N × M matrix (0.5 GB for two 8,000-px fronts). Small pairs seen
    before the kernel is loaded, images over 32,768 px a side, and installs without numba use
    two :class:`scipy.spatial.cKDTree` queries instead: the same numbers, more slowly.
    Speed against the dense matrix: ``benchmarks/metrics.py`` and ``docs/mde_speed.md``.

    Parameters
    ----------
    pred_mask, ref_mask
        2-D masks of the same shape (bool, 0/1, 0/255; NumPy or torch).

    Returns
    -------
    numpy.ndarray
        float64 distances in pixels; EMPTY when either mask has no front pixel (the caller
        decides how to count such an image, see :func:`mean_distance_error`).

    Examples
    --------
    >>> a = np.zeros((5, 5), bool); a[0, 0] = True
    >>> b = np.zeros((5, 5), bool); b[3, 0:3] = True
    >>> front_distances(a, b).round(4).tolist()
    [3.0, 3.0, 3.1623, 3.6056]
    """
    p, r = _check_pair(pred_mask, ref_mask)
    return _flat_distances(np.flatnonzero(p), np.flatnonzero(r), p.shape)


def _flat_distances(p_flat: np.ndarray, r_flat: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """:func:`front_distances` of two fronts given as flat (row-major) pixel indices.

    The distance step on its own. It uses the compiled kernel once that is loaded. Loading
    it costs about a second once per process (a compilation when numba's cache is cold), so
    it is loaded by the first pair of at least ``_NN_LOAD_PAIRS`` pixel pairs (a realistic
    front) or once the pairs seen add up to ``_NN_LOAD_TOTAL`` (many small fronts); until
    then the KD-tree does the few small pairs (milliseconds each). Same numbers either way.

    Examples
    --------
    >>> _flat_distances(np.array([0]), np.array([15, 16, 17]), (5, 5)).round(4).tolist()
    [3.0, 3.0, 3.1623, 3.6056]
    """
    if p_flat.size == 0 or r_flat.size == 0:
        return np.empty(0, dtype=np.float64)
    h, w = int(shape[0]), int(shape[1])
    kernel = _NN_STATE.get("kernel")
    if "kernel" not in _NN_STATE:
        pairs = p_flat.size * r_flat.size
        _NN_STATE["pairs"] = _NN_STATE.get("pairs", 0) + pairs
        if pairs >= _NN_LOAD_PAIRS or _NN_STATE["pairs"] >= _NN_LOAD_TOTAL:
            kernel = _nn_kernel()
    if kernel is None or max(h, w) > _NN_MAX_SIDE:
        return _kdtree_distances(_flat_coords(p_flat, w), _flat_coords(r_flat, w))
    out = np.empty(p_flat.size + r_flat.size, dtype=np.float64)
    kernel(
        np.ascontiguousarray(p_flat, dtype=np.int64),
        np.ascontiguousarray(r_flat, dtype=np.int64),
        w,
        out,
    )
    return out


def _flat_coords(flat: np.ndarray, width: int) -> np.ndarray:
    """(N, 2) float64 (row, col) of flat row-major pixel indices."""
    rows, cols = np.divmod(flat, width) if width else (flat, flat)
    return np.column_stack([rows, cols]).astype(np.float64)


def _front_coords(mask: np.ndarray) -> np.ndarray:
    """(N, 2) float64 (row, col) of the True pixels, row-major order (like ``np.argwhere``)."""
    return _flat_coords(np.flatnonzero(mask), mask.shape[1])


def _tree(points: np.ndarray) -> cKDTree:
    # sliding-midpoint tree without compaction: the fastest build for thin fronts; exact
    return cKDTree(points, leafsize=32, balanced_tree=False, compact_nodes=False)


def _kdtree_distances(pc: np.ndarray, rc: np.ndarray) -> np.ndarray:
    """The fallback of :func:`_flat_distances`: two exact ``cKDTree`` queries (float64 coords).

    Examples
    --------
    >>> a, b = np.array([[0.0, 0.0]]), np.array([[3.0, 0.0], [3.0, 1.0], [3.0, 2.0]])
    >>> _kdtree_distances(a, b).round(4).tolist()
    [3.0, 3.0, 3.1623, 3.6056]
    """
    if len(pc) == 0 or len(rc) == 0:
        return np.empty(0, dtype=np.float64)
    d_pr, _ = _tree(rc).query(pc, k=1)
    d_rp, _ = _tree(pc).query(rc, k=1)
    return np.concatenate([d_pr, d_rp])


# --------------------------------------------------------------------------- reference
# The implementation of zones_to_front before the run-length kernels, verbatim (docstrings
# shortened): the straightforward definition that tests/evaluation/test_zones_to_front_fast.py
# and benchmarks/postprocess.py compare the fast paths with. Do not "fix" or speed it up: it
# defines the expected output.


def _largest_label_reference(labels: np.ndarray, n: int) -> int:
    """Label of the largest component (first in raster order on ties, like ``argmax``)."""
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    return int(np.argmax(sizes))


def _zones_to_front_reference(
    zones_classes: Any,
    resolution_m: float | None,
    *,
    min_cluster_m: float = CAFFE_MIN_FRONT_M,
    min_cluster_px: float | None = None,
    nonocean_connectivity: int = 8,
) -> np.ndarray:
    """The previous ``zones_to_front`` (CaFFe post-processing), verbatim."""
    zones = _as_zones(zones_classes)
    if min_cluster_px is not None:
        threshold = float(min_cluster_px)
    else:
        if resolution_m is None:
            raise ConfigError(
                "needs a pixel size to turn the minimum front length into pixels",
                variable="resolution_m",
                expected="a resolution in metres, or min_cluster_px for images of unknown "
                "pixel size (e.g. resized sets such as caffe256)",
            )
        if not (
            isinstance(resolution_m, int | float | np.number)
            and resolution_m > 0
            and math.isfinite(resolution_m)
        ):
            raise ConfigError(
                f"resolution {resolution_m!r} is not a pixel size",
                variable="resolution_m",
                expected="a positive number of metres",
            )
        threshold = float(min_cluster_m) / float(resolution_m)
    struct_fill = _structure(nonocean_connectivity, "nonocean_connectivity")

    ocean = zones == OCEAN
    # 1. every non-ocean component except the largest becomes ocean
    labels, n = ndimage.label(~ocean, structure=struct_fill)
    if n > 1:
        keep = _largest_label_reference(labels, n)
        ocean = ocean | ((labels > 0) & (labels != keep))
    # 2. keep the largest 8-connected ocean component; the rest becomes glacier
    labels, n = ndimage.label(ocean, structure=_STRUCT8)
    if n == 0:
        return np.zeros(zones.shape, dtype=bool)
    main_ocean = labels == _largest_label_reference(labels, n) if n > 1 else ocean
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


def _front_distances_bruteforce(pred_mask: Any, ref_mask: Any) -> np.ndarray:
    """Reference implementation of :func:`front_distances` with a dense N × M matrix.

    Same definition and output order, O(N·M) time: :func:`_pixel_distances_bruteforce` on the
    front pixels. For tests and benchmarks only.

    Examples
    --------
    >>> a = np.zeros((5, 5), bool); a[0, 0] = True
    >>> b = np.zeros((5, 5), bool); b[3, 0:3] = True
    >>> bool(np.array_equal(_front_distances_bruteforce(a, b), front_distances(a, b)))
    True
    """
    p, r = _check_pair(pred_mask, ref_mask)
    return _pixel_distances_bruteforce(_front_coords(p), _front_coords(r))


def _pixel_distances_bruteforce(pc: np.ndarray, rc: np.ndarray) -> np.ndarray:
    """Dense pairwise distances (``scipy.spatial.distance.cdist``) and their minima.

    What CaFFe's public code does: the full N × M Euclidean distance matrix, its row minima
    (predicted → reference) and column minima (reference → predicted). The matrix is computed
    in blocks of predicted pixels (at most ``_BRUTE_BLOCK`` entries at a time) to bound the
    memory; the minima are exact either way. For tests and benchmarks only.

    Examples
    --------
    >>> a, b = np.array([[0, 0]]), np.array([[3, 0], [3, 1], [3, 2]])
    >>> _pixel_distances_bruteforce(a, b).round(4).tolist()
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


# --------------------------------------------------------------------------- exact NN kernel
#
# A plain Python function compiled with numba on first use (:func:`_nn_kernel`), so that
# importing this module does not import numba. All arithmetic is on int32 pixel coordinates
# below 2**15, so every squared distance (< 2 · 32767² < 2**31) is exact.

_NN_LEAF = 64  # pixels per leaf (four AVX-512 / eight AVX2 int32 vectors)
_NN_BLOCK = 16  # consecutive query pixels that share one list of candidate leaves
_NN_MAX_SIDE = 32768  # images up to this many rows and columns use the kernel
_NN_BIG = 2147483647  # int32 "infinity", larger than every squared distance
_NN_LOAD_PAIRS = 1 << 20  # n_pred · n_ref from which a pair loads the kernel
_NN_LOAD_TOTAL = 1 << 26  # or this many pixel pairs in all (about 0.5 s of KD-tree work)


def _nn_distances(
    p_flat: np.ndarray, r_flat: np.ndarray, width: int, out: np.ndarray
) -> None:  # pragma: no cover - compiled by numba
    """The exact symmetric nearest-neighbour distances of two fronts (numba kernel).

    ``p_flat``, ``r_flat``: flat row-major pixel indices (int64, non-empty) of an image
    ``width`` pixels wide and at most ``_NN_MAX_SIDE`` pixels a side. Writes the distance of
    each predicted pixel to the nearest reference pixel to ``out[:len(p_flat)]`` and of each
    reference pixel to the nearest predicted pixel to ``out[len(p_flat):]``, in input order.
    """

    def prepare(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        # Z-order sort the pixels and cut them into leaves of _NN_LEAF with bounding boxes.
        # Returns sorted rows and columns (int32, padded to whole leaves with copies of the
        # last pixel, which changes no minimum), the boxes (row min, row max, col min, col
        # max) and the permutation sorted position -> input position.
        n = flat.shape[0]
        rows = np.empty(n, np.int32)
        cols = np.empty(n, np.int32)
        key = np.empty(n, np.uint32)
        inv = 1.0 / width
        kmax = np.uint32(0)
        for i in range(n):
            r = np.int64(flat[i] * inv)  # flat < 2**30: off by at most one
            if r * width > flat[i]:
                r -= 1
            elif (r + 1) * width <= flat[i]:
                r += 1
            c = flat[i] - r * width
            rows[i] = r
            cols[i] = c
            x = np.uint32(c)
            y = np.uint32(r)
            x = (x | (x << np.uint32(8))) & np.uint32(0x00FF00FF)
            x = (x | (x << np.uint32(4))) & np.uint32(0x0F0F0F0F)
            x = (x | (x << np.uint32(2))) & np.uint32(0x33333333)
            x = (x | (x << np.uint32(1))) & np.uint32(0x55555555)
            y = (y | (y << np.uint32(8))) & np.uint32(0x00FF00FF)
            y = (y | (y << np.uint32(4))) & np.uint32(0x0F0F0F0F)
            y = (y | (y << np.uint32(2))) & np.uint32(0x33333333)
            y = (y | (y << np.uint32(1))) & np.uint32(0x55555555)
            k = x | (y << np.uint32(1))
            key[i] = k
            kmax = max(kmax, k)
        # least-significant-digit radix sort of the keys, 8 bits per pass, as many passes
        # as the largest key has bytes
        order = np.arange(n)
        tmp = np.empty(n, np.int64)
        key2 = np.empty(n, np.uint32)
        count = np.empty(257, np.int64)
        shift = np.uint32(0)
        while shift < np.uint32(32) and (kmax >> shift) > np.uint32(0):
            count[:] = 0
            for i in range(n):
                count[((key[i] >> shift) & np.uint32(255)) + 1] += 1
            for b in range(256):
                count[b + 1] += count[b]
            for i in range(n):
                d = (key[i] >> shift) & np.uint32(255)
                p = count[d]
                count[d] = p + 1
                tmp[p] = order[i]
                key2[p] = key[i]
            order, tmp = tmp, order
            key, key2 = key2, key
            shift += np.uint32(8)
        n_leaves = (n + _NN_LEAF - 1) // _NN_LEAF
        pr = np.empty(n_leaves * _NN_LEAF, np.int32)
        pc = np.empty(n_leaves * _NN_LEAF, np.int32)
        for i in range(n):
            pr[i] = rows[order[i]]
            pc[i] = cols[order[i]]
        for i in range(n, n_leaves * _NN_LEAF):
            pr[i] = pr[n - 1]
            pc[i] = pc[n - 1]
        box = np.empty((4, n_leaves), np.int32)
        for j in range(n_leaves):
            base = j * _NN_LEAF
            r0 = pr[base]
            r1 = r0
            c0 = pc[base]
            c1 = c0
            for i in range(1, _NN_LEAF):
                k = np.uint64(base + i)
                r0 = min(r0, pr[k])
                r1 = max(r1, pr[k])
                c0 = min(c0, pc[k])
                c1 = max(c1, pc[k])
            box[0, j] = r0
            box[1, j] = r1
            box[2, j] = c0
            box[3, j] = c1
        return pr, pc, box, order

    def query(
        qr: np.ndarray,
        qc: np.ndarray,
        q_order: np.ndarray,
        offset: int,
        pr: np.ndarray,
        pc: np.ndarray,
        box: np.ndarray,
    ) -> None:
        # For blocks of _NN_BLOCK consecutive (Z-ordered) query pixels: an upper bound from
        # the leaf that held the previous nearest pixel, the list of leaves whose box is
        # nearer to the block's box than that bound, then per query only the leaves of the
        # list whose box is nearer than its best so far. A skipped leaf provably holds no
        # pixel nearer than the one found.
        nq = q_order.shape[0]
        n_leaves = box.shape[1]
        rmin = box[0]
        rmax = box[1]
        cmin = box[2]
        cmax = box[3]
        init = np.empty(_NN_BLOCK, np.int32)
        cand = np.empty(n_leaves, np.int64)
        zero = np.int32(0)
        prev = 0
        for s in range(0, nq, _NN_BLOCK):
            e = min(nq, s + _NN_BLOCK)
            br0 = qr[s]
            br1 = br0
            bc0 = qc[s]
            bc1 = bc0
            for t in range(s + 1, e):
                br0 = min(br0, qr[t])
                br1 = max(br1, qr[t])
                bc0 = min(bc0, qc[t])
                bc1 = max(bc1, qc[t])
            first = prev
            base = first * _NN_LEAF
            ub = zero
            for t in range(s, e):
                q_r = qr[t]
                q_c = qc[t]
                m = np.int32(_NN_BIG)
                for i in range(_NN_LEAF):
                    k = np.uint64(base + i)
                    dr = pr[k] - q_r
                    dc = pc[k] - q_c
                    m = min(m, np.int32(dr * dr + dc * dc))
                init[t - s] = m
                ub = max(ub, m)
            n_cand = 0
            for j in range(n_leaves):
                dr = np.int32(max(max(np.int32(rmin[j] - br1), np.int32(br0 - rmax[j])), zero))
                dc = np.int32(max(max(np.int32(cmin[j] - bc1), np.int32(bc0 - cmax[j])), zero))
                cand[n_cand] = j
                n_cand += (np.int32(dr * dr + dc * dc) < ub) & (j != first)
            for t in range(s, e):
                q_r = qr[t]
                q_c = qc[t]
                best = init[t - s]
                for c in range(n_cand):
                    j = cand[c]
                    dr = np.int32(max(max(np.int32(rmin[j] - q_r), np.int32(q_r - rmax[j])), zero))
                    dc = np.int32(max(max(np.int32(cmin[j] - q_c), np.int32(q_c - cmax[j])), zero))
                    if np.int32(dr * dr + dc * dc) < best:
                        base = j * _NN_LEAF
                        m = np.int32(_NN_BIG)
                        for i in range(_NN_LEAF):
                            k = np.uint64(base + i)
                            dr = pr[k] - q_r
                            dc = pc[k] - q_c
                            m = min(m, np.int32(dr * dr + dc * dc))
                        if m < best:
                            best = m
                            prev = j
                out[offset + q_order[t]] = np.sqrt(np.float64(best))

    pr, pc, pbox, porder = prepare(p_flat)
    rr, rc, rbox, rorder = prepare(r_flat)
    query(pr, pc, porder, 0, rr, rc, rbox)
    query(rr, rc, rorder, p_flat.shape[0], pr, pc, pbox)


_NN_STATE: dict[str, Any] = {}


def _nn_kernel() -> Any | None:
    """The compiled :func:`_nn_distances` (loaded once), or ``None`` without a working numba.

    Compiled once per process for fixed argument types and cached on disk by numba (in the
    package's ``__pycache__``, or the user cache when that is read-only; without either it is
    compiled in every process), so later processes only load it. ``None`` makes
    :func:`front_distances` use the KD-tree fallback (the same numbers).

    Examples
    --------
    >>> k = _nn_kernel()
    >>> k is None or callable(k)
    True
    """
    if "kernel" not in _NN_STATE:
        _NN_STATE["kernel"] = None
        try:
            import numba
        except ImportError:  # pragma: no cover - numba comes with datashader
            return None
        if numba.config.DISABLE_JIT:  # pragma: no cover - the kernel would run in Python
            return None
        sig = "void(int64[::1], int64[::1], int64, float64[::1])"
        try:
            try:
                kernel = numba.njit(sig, nogil=True, cache=True)(_nn_distances)
            except RuntimeError:  # no writable cache location: compile without caching
                kernel = numba.njit(sig, nogil=True)(_nn_distances)
        except Exception as exc:  # pragma: no cover - a numba that cannot compile it
            _NN_STATE["error"] = repr(exc)
            return None
        _NN_STATE["kernel"] = kernel
    return _NN_STATE["kernel"]


# --------------------------------------------------------------------------- MDE


@dataclasses.dataclass(frozen=True)
class ImageFrontError:
    """Front error of one image.

    Attributes
    ----------
    index
        Position in the input lists.
    name
        Stem or name of the image ("" when unknown).
    glacier, season, sensor, resolution
        Group labels (``"unknown"`` when not given). ``resolution`` is the nominal
        resolution from the metadata as a string (``"7"``), used only for grouping.
    resolution_m
        Pixel size used to turn pixels into metres (``None``: unknown).
    n_pred, n_ref
        Front pixels in the (masked) prediction and in the reference.
    status
        ``"ok"``, ``"no_front"`` (no predicted front pixel; excluded and counted) or
        ``"no_reference"`` (prediction present but no reference pixel; excluded and counted).
    mde_px, mde_m
        Mean of this image's distances (NaN unless ``status == "ok"``; ``mde_m`` NaN when the
        resolution is unknown).
    """

    index: int
    name: str
    glacier: str
    season: str
    sensor: str
    resolution: str
    resolution_m: float | None
    n_pred: int
    n_ref: int
    status: str
    mde_px: float
    mde_m: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict; NaN becomes ``None``."""
        return {k: _clean(v) for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass(frozen=True)
class GroupMDE:
    """Pooled MDE of one group of images (a glacier, a season, …, or ``all``).

    Attributes
    ----------
    by
        Grouping key: ``"all"``, ``"glacier"``, ``"season"``, ``"sensor"``, ``"resolution"``.
    value
        Group label (``"all"`` for the whole set).
    mde_m, std_m
        Mean and (population) standard deviation of the pooled distances in metres
        (NaN when a resolution is unknown or nothing was evaluated).
    mde_px, std_px
        The same in pixels.
    n_images, n_evaluated, n_no_front, n_no_reference
        Images in the group, images that contributed distances, images without a predicted
        front and images without a reference front.
    n_distances
        Number of pooled distances.
    """

    by: str
    value: str
    mde_m: float
    std_m: float
    mde_px: float
    std_px: float
    n_images: int
    n_evaluated: int
    n_no_front: int
    n_no_reference: int
    n_distances: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict; NaN becomes ``None``."""
        return {k: _clean(v) for k, v in dataclasses.asdict(self).items()}


def _clean(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


@dataclasses.dataclass(frozen=True)
class MDEResult:
    """Result of :func:`mean_distance_error`.

    Attributes
    ----------
    mde_m
        Mean of ALL distances of ALL evaluated images in metres (each image's pixel
        distances times its pixel size), NaN when a pixel size is unknown.
    mde_px
        Mean of all distances in pixels.
    std_m, std_px
        Population standard deviation of the pooled distances (metres, pixels). (The
        "± 76 m" in published tables is a spread over training runs, not this.)
    n_images
        Images given.
    n_evaluated
        Images with both a predicted and a reference front.
    n_no_front
        Images without a predicted front: excluded and counted.
    n_no_reference
        Images with a prediction but without a reference front: excluded and counted
        (CaFFe's public code lumps these into its no-front count; every CaFFe image has a
        reference front, so the published numbers are unaffected).
    n_distances
        Number of pooled distances.
    resolution_known
        Whether every evaluated image had a pixel size (otherwise metres are NaN).
    note
        Human-readable remarks (e.g. "pixel size unknown: reporting pixels only").
    groups
        ``{by: [GroupMDE, …]}`` for ``by`` in :data:`GROUP_KEYS`, each group with its own
        pooled MDE and counts.
    per_image
        One :class:`ImageFrontError` per input image.
    distances_px, distances_m
        The pooled distances (pixels, metres; metres all-NaN when unknown), in image order.
    """

    mde_m: float
    mde_px: float
    std_m: float
    std_px: float
    n_images: int
    n_evaluated: int
    n_no_front: int
    n_no_reference: int
    n_distances: int
    resolution_known: bool
    note: str
    groups: dict[str, list[GroupMDE]]
    per_image: list[ImageFrontError]
    distances_px: np.ndarray = dataclasses.field(repr=False)
    distances_m: np.ndarray = dataclasses.field(repr=False)

    @property
    def overall(self) -> GroupMDE:
        """The whole set as a :class:`GroupMDE` (``by == value == "all"``)."""
        return GroupMDE(
            "all",
            "all",
            self.mde_m,
            self.std_m,
            self.mde_px,
            self.std_px,
            self.n_images,
            self.n_evaluated,
            self.n_no_front,
            self.n_no_reference,
            self.n_distances,
        )

    def group(self, by: str, value: str) -> GroupMDE:
        """One group's result, e.g. ``result.group("glacier", "JAC")``.

        Raises
        ------
        KeyError
            No such group.
        """
        for g in self.groups.get(by, []):
            if g.value == str(value):
                return g
        raise KeyError(
            f"no group {by}={value!r}; have {[g.value for g in self.groups.get(by, [])]}"
        )

    def worst(self, k: int = 5, *, unit: Literal["px", "m"] = "px") -> list[ImageFrontError]:
        """The ``k`` evaluated images with the largest per-image mean distance."""
        ok = [r for r in self.per_image if r.status == "ok"]
        key = (lambda r: r.mde_m) if unit == "m" and self.resolution_known else (lambda r: r.mde_px)
        return sorted(ok, key=key, reverse=True)[:k]

    def to_dict(self, *, per_image: bool = True) -> dict[str, Any]:
        """JSON-ready dict: summary, breakdowns (``{by: {value: {...}}}``), per image.

        NaN values become ``None``; the raw distances are left out.
        """
        out: dict[str, Any] = {
            k: _clean(getattr(self, k))
            for k in (
                "mde_m",
                "mde_px",
                "std_m",
                "std_px",
                "n_images",
                "n_evaluated",
                "n_no_front",
                "n_no_reference",
                "n_distances",
                "resolution_known",
                "note",
            )
        }
        out["unit"] = "m" if self.resolution_known else "px"
        out["groups"] = {
            by: {
                g.value: {k: v for k, v in g.to_dict().items() if k not in ("by", "value")}
                for g in gs
            }
            for by, gs in self.groups.items()
        }
        if per_image:
            out["per_image"] = [r.to_dict() for r in self.per_image]
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row for the whole set (``by == "all"``) and one per group.

        Columns: ``by, value, mde_m, std_m, mde_px, std_px, n_images, n_evaluated,
        n_no_front, n_no_reference, n_distances``.
        """
        import pandas as pd

        rows = [dataclasses.asdict(self.overall)]
        for gs in self.groups.values():
            rows.extend(dataclasses.asdict(g) for g in gs)
        return pd.DataFrame(rows)

    def per_image_frame(self) -> pd.DataFrame:
        """One row per image (:class:`ImageFrontError` fields)."""
        import pandas as pd

        return pd.DataFrame([dataclasses.asdict(r) for r in self.per_image])


def _describe(item: Any, index: int) -> dict[str, Any]:
    """Group labels and pixel size of one image from metadata, a dict, a number or None."""
    info: dict[str, Any] = {
        "name": "",
        "glacier": "unknown",
        "season": "unknown",
        "sensor": "unknown",
        "resolution_m": None,
    }
    if item is None:
        return info
    if isinstance(item, int | float | np.number) and not isinstance(item, bool):
        info["resolution_m"] = float(item)
        return info
    if isinstance(item, str):
        from workbench.data.caffe import parse_caffe_name

        item = parse_caffe_name(item)
    if isinstance(item, Mapping):
        get = item.get
    elif hasattr(item, "glacier") or hasattr(item, "resolution_m"):

        def get(k: str, default: Any = None) -> Any:
            return getattr(item, k, default)
    else:
        raise ConfigError(
            f"image {index}: cannot read metadata from {type(item).__name__}",
            variable="metas_or_resolutions",
            expected="CaffeMetadata, a mapping, a CaFFe stem, a number or None",
        )
    info["name"] = str(get("stem", None) or get("name", None) or "")
    for key in ("glacier", "sensor", "season"):
        if get(key, None) is not None:
            info[key] = str(get(key))
    res = get("resolution_m", None)
    if res is None:
        res = get("resolution", None)
    info["resolution_m"] = None if res is None else float(res)
    if info["season"] == "unknown" and get("date", None) is not None and get("glacier", None):
        from workbench.data.caffe import GLACIER_HEMISPHERES, season_of

        date = get("date")
        if isinstance(date, str):
            date = _dt.date.fromisoformat(date[:10])
        hemi = get("hemisphere", None) or GLACIER_HEMISPHERES.get(
            str(get("glacier")).upper(), "north"
        )
        info["season"] = season_of(date, hemi)
    return info


def _group_stats(
    by: str, value: str, recs: list[ImageFrontError], dpx: list[np.ndarray], dm: list[np.ndarray]
) -> GroupMDE:
    px = np.concatenate(dpx) if dpx else np.empty(0)
    m = np.concatenate(dm) if dm else np.empty(0)
    n_eval = sum(r.status == "ok" for r in recs)

    def stats(a: np.ndarray) -> tuple[float, float]:
        if a.size == 0 or not np.all(np.isfinite(a)):
            return math.nan, math.nan
        return float(a.mean()), float(a.std())

    mde_m, std_m = stats(m)
    mde_px, std_px = stats(px)
    return GroupMDE(
        by,
        value,
        mde_m,
        std_m,
        mde_px,
        std_px,
        len(recs),
        n_eval,
        sum(r.status == "no_front" for r in recs),
        sum(r.status == "no_reference" for r in recs),
        int(px.size),
    )


def mean_distance_error(
    preds: Sequence[Any],
    refs: Sequence[Any],
    metas_or_resolutions: Sequence[Any] | None = None,
    *,
    bboxes: Sequence[Any] | None = None,
    bbox_mode: Literal["caffe", "polygon", "box"] = "polygon",
    resolution_m: float | None | Literal["meta"] = "meta",
    from_zones: bool = False,
    min_cluster_m: float = CAFFE_MIN_FRONT_M,
    min_cluster_px: float | None = None,
    merge_tsx_tdx: bool = True,
) -> MDEResult:
    """CaFFe mean distance error, pooled over all distances of all images (docs/science.md §1.3).

    For each image with both a predicted and a reference front, the distances of
    :func:`front_distances` are multiplied by the image's pixel size; the MDE is the mean of
    ALL those distances of ALL images together (not a mean of per-image means). Images
    without a predicted front are excluded and counted in ``n_no_front``. Every group of the
    breakdowns (glacier, season, sensor, resolution) is pooled the same way and has its own
    counts. Only the distances of each image are kept, not its masks; to feed images one at a
    time (e.g. from a prediction loop), use :class:`MDEAccumulator`, which gives the same
    result.

    Parameters
    ----------
    preds
        Predicted front masks (2-D, bool or 0/1 or 0/255), or zone maps (class ids 0..3)
        with ``from_zones=True``, which turns them into fronts with :func:`zones_to_front`.
    refs
        Reference front masks, one-pixel lines (thin resized labels with
        :func:`workbench.data.caffe.thin_front` first). Never masked by the bounding box.
    metas_or_resolutions
        One item per image: :class:`workbench.data.caffe.CaffeMetadata`, a CaFFe stem, a
        mapping with any of ``glacier, season, sensor, resolution_m, date, stem``, a pixel
        size in metres, or ``None`` (nothing known). ``None`` for the whole argument: nothing
        known about any image.
    bboxes
        Optional per-image bounding boxes (4 ``(x, y)`` corners, or ``None`` for an image
        without one): predicted front pixels outside are set to 0 (:func:`mask_front_with_bbox`).
    bbox_mode
        ``"caffe"`` (the benchmark's own masking), ``"polygon"`` or ``"box"``, see
        :func:`bbox_mask`.
    resolution_m
        ``"meta"`` (default): each image's pixel size from ``metas_or_resolutions``.
        A number: that pixel size for every image. ``None``: the pixel size is unknown
        (e.g. caffe256, resized without keeping the pixel size): metres are NaN and a note
        says so; pixel values and all counts are still reported. Group labels
        (``resolution``) always come from the metadata.
    from_zones
        ``preds`` are zone maps; fronts are extracted with ``min_cluster_m`` /
        ``min_cluster_px`` and each image's pixel size.
    min_cluster_m, min_cluster_px
        Passed to :func:`zones_to_front` when ``from_zones=True``.
    merge_tsx_tdx
        Group TSX and TDX as one sensor ``"TSX/TDX"``, as CaFFe's evaluation does.

    Returns
    -------
    MDEResult

    Raises
    ------
    DataError
        Lists of different lengths, masks of different shapes.

    Examples
    --------
    >>> p = np.zeros((8, 8), bool); p[2, :] = True
    >>> r = np.zeros((8, 8), bool); r[5, :] = True
    >>> metas = [{"glacier": "JAC", "sensor": "TSX", "resolution_m": 6.0, "season": "winter"},
    ...          {"glacier": "SI", "sensor": "ERS", "resolution_m": 20.0, "season": "summer"}]
    >>> res = mean_distance_error([p, np.zeros((8, 8), bool)], [r, r], metas)
    >>> res.mde_px, res.mde_m, res.n_evaluated, res.n_no_front
    (3.0, 18.0, 1, 1)
    >>> res.group("glacier", "SI").n_no_front
    1
    >>> mean_distance_error([p], [r], resolution_m=None).mde_m
    nan
    """
    preds = list(preds)
    refs = list(refs)
    n = len(preds)
    if len(refs) != n:
        raise DataError(
            f"got {n} predictions but {len(refs)} references",
            variable="refs",
            expected="one reference front per prediction",
        )
    metas = [None] * n if metas_or_resolutions is None else list(metas_or_resolutions)
    if len(metas) != n:
        raise DataError(
            f"got {n} predictions but {len(metas)} metadata items",
            variable="metas_or_resolutions",
            expected="one item per image",
        )
    boxes = [None] * n if bboxes is None else list(bboxes)
    if len(boxes) != n:
        raise DataError(
            f"got {n} predictions but {len(boxes)} bounding boxes",
            variable="bboxes",
            expected="one item (or None) per image",
        )
    acc = MDEAccumulator(
        bbox_mode=bbox_mode,
        resolution_m=resolution_m,
        from_zones=from_zones,
        min_cluster_m=min_cluster_m,
        min_cluster_px=min_cluster_px,
        merge_tsx_tdx=merge_tsx_tdx,
    )
    for pred, ref, meta, box in zip(preds, refs, metas, boxes, strict=True):
        acc.add(pred, ref, meta, bbox=box)
    return acc.result()


class MDEAccumulator:
    """:func:`mean_distance_error` fed one image at a time.

    Keeps, per image, its :class:`ImageFrontError` and its distances in pixels (float64,
    ``n_pred + n_ref`` values), never the masks, so memory grows only with the number of
    front pixels (about 24 kB for a 1,500-px front pair) and not with image size. Metres are
    made from the pixel distances only in :meth:`result`, with the same multiplication, so
    :meth:`result` is exactly (bit for bit) :func:`mean_distance_error` of the same images.

    Parameters
    ----------
    bbox_mode, resolution_m, from_zones, min_cluster_m, min_cluster_px, merge_tsx_tdx
        As in :func:`mean_distance_error`.

    Examples
    --------
    >>> p = np.zeros((8, 8), bool); p[2, :] = True
    >>> r = np.zeros((8, 8), bool); r[5, :] = True
    >>> acc = MDEAccumulator()
    >>> acc.add(p, r, {"glacier": "JAC", "resolution_m": 6.0}).mde_m
    18.0
    >>> acc.add(np.zeros((8, 8), bool), r, 20.0).status
    'no_front'
    >>> res = acc.result()
    >>> res.mde_m, res.n_images, res.n_no_front, len(acc)
    (18.0, 2, 1, 2)
    """

    def __init__(
        self,
        *,
        bbox_mode: Literal["caffe", "polygon", "box"] = "polygon",
        resolution_m: float | None | Literal["meta"] = "meta",
        from_zones: bool = False,
        min_cluster_m: float = CAFFE_MIN_FRONT_M,
        min_cluster_px: float | None = None,
        merge_tsx_tdx: bool = True,
    ) -> None:
        if not (
            resolution_m is None
            or (isinstance(resolution_m, str) and resolution_m == "meta")
            or (
                isinstance(resolution_m, numbers.Real)
                and math.isfinite(resolution_m)
                and resolution_m > 0
            )
        ):
            raise ConfigError(
                f"resolution_m={resolution_m!r}",
                variable="resolution_m",
                expected="'meta', None, or a positive pixel size in metres",
            )
        self.bbox_mode = bbox_mode
        self.resolution_m = resolution_m
        self.from_zones = from_zones
        self.min_cluster_m = min_cluster_m
        self.min_cluster_px = min_cluster_px
        self.merge_tsx_tdx = merge_tsx_tdx
        self._records: list[ImageFrontError] = []
        self._d_px: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._records)

    def add(self, pred: Any, ref: Any, meta: Any = None, *, bbox: Any = None) -> ImageFrontError:
        """Evaluate one image and keep its distances; returns its :class:`ImageFrontError`.

        ``pred``, ``ref``, ``meta`` and ``bbox`` are one item of the lists of
        :func:`mean_distance_error`.
        """
        i = len(self._records)
        info = _describe(meta, i)
        nominal = info["resolution_m"]
        res = nominal if isinstance(self.resolution_m, str) else self.resolution_m
        res = None if res is None else float(res)
        if self.from_zones:
            pred = zones_to_front(
                pred, res, min_cluster_m=self.min_cluster_m, min_cluster_px=self.min_cluster_px
            )
        p, r = _check_pair(pred, ref)
        if bbox is not None:
            p = p & bbox_mask(p.shape, bbox, mode=self.bbox_mode)
        p_flat, r_flat = np.flatnonzero(p), np.flatnonzero(r)
        n_pred, n_ref = int(p_flat.size), int(r_flat.size)
        sensor = info["sensor"]
        if self.merge_tsx_tdx and sensor.upper() in ("TSX", "TDX"):
            sensor = "TSX/TDX"
        status = "no_front" if n_pred == 0 else "no_reference" if n_ref == 0 else "ok"
        mde_px = mde_m = math.nan
        if status == "ok":
            dist = _flat_distances(p_flat, r_flat, p.shape)
            mde_px = float(dist.mean())
            mde_m = float((dist * res).mean()) if res is not None else math.nan
        else:
            dist = np.empty(0)
        rec = ImageFrontError(
            index=i,
            name=info["name"],
            glacier=info["glacier"],
            season=info["season"],
            sensor=sensor,
            resolution="unknown" if nominal is None else f"{nominal:g}",
            resolution_m=res,
            n_pred=n_pred,
            n_ref=n_ref,
            status=status,
            mde_px=mde_px,
            mde_m=mde_m,
        )
        self._records.append(rec)
        self._d_px.append(dist)
        return rec

    def result(self) -> MDEResult:
        """The pooled MDE, its breakdowns and counts over every image added so far."""
        records, d_px = self._records, self._d_px
        d_m = [
            d * r.resolution_m if r.resolution_m is not None else np.full(d.shape, np.nan)
            for d, r in zip(d_px, records, strict=True)
        ]
        notes: list[str] = []
        evaluated = [r for r in records if r.status == "ok"]
        known = all(r.resolution_m is not None for r in evaluated)
        if self.resolution_m is None:
            notes.append("pixel size unknown (resolution_m=None): reporting pixels only")
        elif not known:
            missing = sum(r.resolution_m is None for r in evaluated)
            notes.append(
                f"{missing} evaluated image(s) have no pixel size: metres are NaN, "
                "pixels are reported"
            )
        if not evaluated:
            notes.append("no image has both a predicted and a reference front")
        overall = _group_stats("all", "all", records, d_px, d_m)
        groups: dict[str, list[GroupMDE]] = {}
        for by in GROUP_KEYS:
            values: dict[str, list[int]] = {}
            for r in records:
                values.setdefault(getattr(r, by), []).append(r.index)
            groups[by] = [
                _group_stats(
                    by, v, [records[i] for i in idx], [d_px[i] for i in idx], [d_m[i] for i in idx]
                )
                for v, idx in sorted(values.items(), key=lambda kv: _sort_key(by, kv[0]))
            ]
        return MDEResult(
            mde_m=overall.mde_m,
            mde_px=overall.mde_px,
            std_m=overall.std_m,
            std_px=overall.std_px,
            n_images=len(records),
            n_evaluated=overall.n_evaluated,
            n_no_front=overall.n_no_front,
            n_no_reference=overall.n_no_reference,
            n_distances=overall.n_distances,
            resolution_known=bool(known and evaluated and self.resolution_m is not None),
            note="; ".join(notes),
            groups=groups,
            per_image=list(records),
            distances_px=np.concatenate(d_px) if d_px else np.empty(0),
            distances_m=np.concatenate(d_m) if d_m else np.empty(0),
        )


def _sort_key(by: str, value: str) -> tuple[int, float, str]:
    if by == "resolution":
        try:
            return (0, float(value), "")
        except ValueError:
            return (1, 0.0, value)
    return (1 if value == "unknown" else 0, 0.0, value)


# --------------------------------------------------------------------------- annotators


@dataclasses.dataclass(frozen=True)
class MultiAnnotatorResult:
    """Model-vs-annotator and annotator-vs-annotator distance errors.

    Every value is a pooled MDE (mean over all distances of all images) in ``unit``.

    Attributes
    ----------
    unit
        ``"m"`` or ``"px"`` (no pixel size given).
    model_vs_annotator
        ``{annotator: MDE of the prediction against that annotator}``.
    model_mde
        Distances of the prediction against ALL annotators pooled together.
    model_mde_mean
        Unweighted mean of ``model_vs_annotator``.
    pairwise
        ``{"a|b": MDE between annotators a and b}`` for every unordered pair (the measure
        is symmetric: both directions are in the distances).
    annotator_mde
        Distances of all annotator pairs pooled together (the "human" MDE).
    annotator_mde_mean
        Unweighted mean of ``pairwise``.
    n_images, n_no_front
        Images, and images where the prediction has no front (excluded from the model
        values and counted).
    """

    unit: str
    model_vs_annotator: dict[str, float]
    model_mde: float
    model_mde_mean: float
    pairwise: dict[str, float]
    annotator_mde: float
    annotator_mde_mean: float
    n_images: int
    n_no_front: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (NaN → ``None``)."""
        out = dataclasses.asdict(self)
        for key in ("model_vs_annotator", "pairwise"):
            out[key] = {k: _clean(v) for k, v in out[key].items()}
        return {k: (_clean(v) if not isinstance(v, dict) else v) for k, v in out.items()}


def _pooled_mean(parts: Iterable[np.ndarray]) -> float:
    parts = [p for p in parts if p.size]
    return float(np.concatenate(parts).mean()) if parts else math.nan


def multi_annotator_mde(
    pred_front: Any,
    annotator_fronts: Mapping[str, Any] | Sequence[Any],
    resolution: float | Sequence[float | None] | None = None,
) -> MultiAnnotatorResult:
    """MDE of a prediction against each annotator, and of the annotators against each other.

    Parameters
    ----------
    pred_front
        One 2-D predicted front mask, or a list of them (one per image).
    annotator_fronts
        ``{name: mask or list of masks}`` (or a sequence, named ``annotator_0``, …): each
        annotator's front for the same image(s).
    resolution
        Pixel size in metres (one number, or one per image); ``None`` reports pixels.

    Returns
    -------
    MultiAnnotatorResult

    Examples
    --------
    >>> p = np.zeros((9, 9), bool); p[4, :] = True
    >>> a = np.zeros((9, 9), bool); a[3, :] = True
    >>> b = np.zeros((9, 9), bool); b[6, :] = True
    >>> r = multi_annotator_mde(p, {"a": a, "b": b}, resolution=10.0)
    >>> r.model_vs_annotator, r.pairwise, r.model_mde
    ({'a': 10.0, 'b': 20.0}, {'a|b': 30.0}, 15.0)
    """
    if isinstance(annotator_fronts, Mapping):
        ann = {str(k): v for k, v in annotator_fronts.items()}
    else:
        ann = {f"annotator_{i}": v for i, v in enumerate(annotator_fronts)}
    if len(ann) < 1:
        raise ConfigError(
            "no annotator fronts given",
            variable="annotator_fronts",
            expected="at least one annotator",
        )
    single = _to_numpy(pred_front).ndim == 2 if not isinstance(pred_front, list | tuple) else False
    preds = [pred_front] if single else list(pred_front)
    ann_lists = {k: ([v] if single else list(v)) for k, v in ann.items()}
    n = len(preds)
    for k, v in ann_lists.items():
        if len(v) != n:
            raise DataError(
                f"annotator {k!r} has {len(v)} fronts for {n} images",
                variable="annotator_fronts",
                expected="one front per image",
            )
    if resolution is None or isinstance(resolution, int | float | np.number):
        res = [None if resolution is None else float(resolution)] * n
    else:
        res = [None if r is None else float(r) for r in resolution]
        if len(res) != n:
            raise DataError(
                f"got {len(res)} resolutions for {n} images",
                variable="resolution",
                expected="one per image",
            )
    unit = "px" if any(r is None for r in res) else "m"

    def dists(a: Any, b: Any, i: int) -> np.ndarray:
        d = front_distances(a, b)
        return d * res[i] if unit == "m" else d

    n_no_front = sum(int(not np.any(_as_mask(p, "pred_front"))) for p in preds)
    per_ann: dict[str, list[np.ndarray]] = {
        k: [dists(preds[i], v[i], i) for i in range(n)] for k, v in ann_lists.items()
    }
    model_vs = {k: _pooled_mean(v) for k, v in per_ann.items()}
    pair_d: dict[str, list[np.ndarray]] = {}
    for a, b in itertools.combinations(ann_lists, 2):
        pair_d[f"{a}|{b}"] = [dists(ann_lists[a][i], ann_lists[b][i], i) for i in range(n)]
    pairwise = {k: _pooled_mean(v) for k, v in pair_d.items()}

    def mean_of(d: dict[str, float]) -> float:
        vals = [v for v in d.values() if math.isfinite(v)]
        return float(np.mean(vals)) if vals else math.nan

    return MultiAnnotatorResult(
        unit=unit,
        model_vs_annotator=model_vs,
        model_mde=_pooled_mean(itertools.chain.from_iterable(per_ann.values())),
        model_mde_mean=mean_of(model_vs),
        pairwise=pairwise,
        annotator_mde=_pooled_mean(itertools.chain.from_iterable(pair_d.values())),
        annotator_mde_mean=mean_of(pairwise),
        n_images=n,
        n_no_front=n_no_front,
    )
