"""Distances between two front masks, the engine of the MDE: for every front pixel the
Euclidean distance (in pixels) to the nearest pixel of the other front, both ways.

:func:`front_distances` uses an exact compiled nearest-neighbour kernel (numba) for large
pairs and a KD-tree otherwise; both equal CaFFe's dense N × M computation
(:func:`workbench.testing.front_distances_bruteforce`) bit for bit.

Examples
--------
>>> a = np.zeros((5, 5), bool); a[0, 0] = True
>>> b = np.zeros((5, 5), bool); b[3, 0:3] = True
>>> front_distances(a, b).round(4).tolist()
[3.0, 3.0, 3.1623, 3.6056]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from workbench.errors import DataError
from workbench.metrics.fronts import (
    _as_mask,
)

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
    bit-identical to the dense pairwise :func:`workbench.testing.front_distances_bruteforce` (integers below
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
                k = np.uint64(base + i)  # type: ignore[assignment]
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
                n_cand += (np.int32(dr * dr + dc * dc) < ub) & (j != first)  # type: ignore[assignment]
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
        if numba.config.DISABLE_JIT:  # type: ignore[attr-defined]  # pragma: no cover
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
