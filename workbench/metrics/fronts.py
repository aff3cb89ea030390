"""Calving fronts from zones (CaFFe's post-processing) and the bounding-box mask; the
first half of the CaFFe mean distance error (MDE). The rest: :mod:`~workbench.metrics.distances`
(step 3), :mod:`~workbench.metrics.mde` (step 4), :mod:`~workbench.metrics.annotators`.

Implements docs/science.md §1.2 (zones to front) and §1.3 (the mean distance error):

1. :func:`zones_to_front` turns a zone map (class ids 0 NA, 1 rock, 2 glacier, 3 ocean) into a
   one-pixel front line exactly as the CaFFe benchmark's post-processing does;
2. :func:`mask_front_with_bbox` optionally clears predicted front pixels outside the image's
   bounding box (the reference line is never masked);
3. :func:`front_distances` gives, for one image, the distances from every predicted front
   pixel to the nearest reference pixel followed by those from every reference pixel to the
   nearest predicted pixel (an exact compiled nearest-neighbour search; bit-identical to
   the dense pairwise :func:`workbench.testing.front_distances_bruteforce`);
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
>>> from workbench.metrics.mde import mean_distance_error
>>> res = mean_distance_error([front], [ref], [7.0])
>>> res.mde_px, res.mde_m, res.n_no_front
(2.0, 14.0, 0)
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from workbench.data.encoding import GLACIER, OCEAN
from workbench.errors import ConfigError, DataError, LabelEncodingError

__all__ = [
    "CAFFE_MIN_FRONT_M",
    "GROUP_KEYS",
    "front_cluster_threshold",
    "zones_to_front",
    "BBOX_MODES",
    "bbox_mask",
    "mask_front_with_bbox",
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


def front_cluster_threshold(
    resolution_m: float | None, min_cluster_m: float, min_cluster_px: float | None
) -> float:
    """Front clusters of at most this many pixels are removed (CaFFe: 750 m / pixel size).

    Examples
    --------
    >>> front_cluster_threshold(7.0, 750.0, None), front_cluster_threshold(None, 750.0, 20)
    (107.14285714285714, 20.0)
    """
    if min_cluster_px is not None:
        return float(min_cluster_px)
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
    return float(min_cluster_m) / float(resolution_m)


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
    threshold = front_cluster_threshold(resolution_m, min_cluster_m, min_cluster_px)
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
            n += np.int64(row[0] != v)  # type: ignore[assignment]
        for c in range(1, w):
            n += np.int64((row[c] != v) & (row[c - 1] == v))  # type: ignore[assignment]
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
                    same += np.int64(block[j] == v)  # type: ignore[assignment]
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
                cnt += np.int64(above[c] == g)  # type: ignore[assignment]
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
        if numba.config.DISABLE_JIT:  # type: ignore[attr-defined]  # pragma: no cover
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
