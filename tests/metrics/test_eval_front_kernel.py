"""The exact nearest-neighbour kernel behind ``front_distances``, its KD-tree fallback, and
``MDEAccumulator`` (the MDE one image at a time).

Every distance is compared bit for bit with two independent brute-force definitions: the
dense ``cdist`` matrix (``_front_distances_bruteforce``) and integer squared distances with
NumPy broadcasting. Sizes are chosen around the kernel's leaf (``_NN_LEAF`` pixels) and block
(``_NN_BLOCK`` query pixels) boundaries, and coordinates up to its int32 limit (32,767).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from workbench.data.caffe import parse_caffe_name
from workbench.data.encoding import GLACIER, OCEAN
from workbench.errors import ConfigError
from workbench.evaluation.fronts import (
    _NN_BLOCK,
    _NN_LEAF,
    _NN_MAX_SIDE,
    MDEAccumulator,
    _flat_distances,
    _front_coords,
    _kdtree_distances,
    _nn_kernel,
    front_distances,
    mean_distance_error,
)
from workbench.testing import front_distances_bruteforce as _front_distances_bruteforce
from workbench.testing import pixel_distances_bruteforce as _pixel_distances_bruteforce


@pytest.fixture(scope="module", autouse=True)
def kernel():
    """Load the compiled kernel, so that every ``front_distances`` call below uses it."""
    k = _nn_kernel()
    if k is None:
        pytest.skip("numba is not importable: front_distances uses its KD-tree fallback")
    return k


def _int_bruteforce(p: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Independent reference: exact integer squared distances by broadcasting, then sqrt."""
    pc, rc = np.argwhere(p), np.argwhere(r)
    if len(pc) == 0 or len(rc) == 0:
        return np.empty(0)
    d2 = ((pc[:, None, :] - rc[None, :, :]) ** 2).sum(-1)
    return np.sqrt(np.concatenate([d2.min(axis=1), d2.min(axis=0)]).astype(np.float64))


def _check(p: np.ndarray, r: np.ndarray) -> np.ndarray:
    d = front_distances(p, r)
    assert d.dtype == np.float64
    assert np.array_equal(d, _front_distances_bruteforce(p, r))  # bit-identical
    assert np.array_equal(d, _int_bruteforce(p, r))
    assert np.array_equal(d, _kdtree_distances(_front_coords(p), _front_coords(r)))
    return d


def _points_mask(shape, points) -> np.ndarray:
    m = np.zeros(shape, bool)
    for y, x in points:
        m[y, x] = True
    return m


# --------------------------------------------------------------------------- hand-computed


def test_single_pixel_fronts():
    a = _points_mask((7, 9), [(2, 3)])
    b = _points_mask((7, 9), [(5, 7)])
    assert _check(a, b).tolist() == [5.0, 5.0]  # 3-4-5 triangle
    assert _check(a, a).tolist() == [0.0, 0.0]
    line = np.zeros((7, 9), bool)
    line[0, :] = True
    d = _check(a, line)  # pred first, then ref
    assert d[0] == 2.0 and d.size == 10
    assert np.allclose(d[1:], [math.hypot(2, c - 3) for c in range(9)], rtol=0, atol=1e-15)


def test_fronts_on_the_image_border_and_corners():
    h, w = 40, 50
    top, bottom, left, right = (np.zeros((h, w), bool) for _ in range(4))
    top[0, :] = True
    bottom[-1, :] = True
    left[:, 0] = True
    right[:, -1] = True
    assert np.all(_check(top, bottom) == h - 1)
    assert np.all(_check(left, right) == w - 1)
    d = _check(top, left)  # they share the corner pixel
    assert d.min() == 0.0 and d.max() == max(h, w) - 1
    corners = _points_mask((h, w), [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)])
    centre = _points_mask((h, w), [(h // 2, w // 2)])
    s = [math.sqrt(v) for v in (20**2 + 25**2, 20**2 + 24**2, 19**2 + 25**2, 19**2 + 24**2)]
    assert _check(corners, centre).tolist() == s + [s[3]]


def test_one_row_and_one_column_images():
    rng = np.random.default_rng(0)
    for shape in ((1, 300), (300, 1), (1, 1), (2, 1)):
        for _ in range(5):
            a = rng.uniform(size=shape) < 0.2
            b = rng.uniform(size=shape) < 0.2
            _check(a, b)


@pytest.mark.parametrize(
    "n",
    sorted(
        {1, 2, 3}
        | {k * m + d for m in (_NN_LEAF, _NN_BLOCK) for k in (1, 2, 5) for d in (-1, 0, 1)}
    ),
)
def test_leaf_and_block_boundaries(n):
    """Front lengths around multiples of the leaf and block sizes (padding, last block)."""
    rng = np.random.default_rng(n)
    shape = (60, 70)
    flat = rng.choice(shape[0] * shape[1], size=n + 40, replace=False)
    a = np.zeros(shape, bool)
    a.ravel()[flat[:n]] = True
    b = np.zeros(shape, bool)
    b.ravel()[flat[n:]] = True
    d_ab, d_ba = _check(a, b), _check(b, a)
    assert d_ab.size == n + 40 and np.array_equal(d_ab[:n], d_ba[40:])  # directions swap
    assert np.all(_check(a, a) == 0.0)


def test_far_apart_and_nested_fronts():
    h, w = 3000, 2500
    a = np.zeros((h, w), bool)
    b = np.zeros((h, w), bool)
    a[5, 10:900] = True  # a long line near the top
    b[2990, 1600:2490] = True  # another near the bottom right
    b[1500, 1200] = True  # and a lone pixel in the middle
    _check(a, b)
    ring = np.zeros((201, 201), bool)  # a square ring around a centre pixel
    ring[0, :] = ring[-1, :] = ring[:, 0] = ring[:, -1] = True
    d = _check(_points_mask((201, 201), [(100, 100)]), ring)
    assert d[0] == 100.0 and d.max() == math.sqrt(2 * 100**2)


def test_int32_limit_and_the_fallback_beyond_it():
    side = _NN_MAX_SIDE  # 32,768 rows / columns: still the kernel
    p = np.array([0])  # (0, 0)
    r = np.array([(side - 1) * side + side - 1, 3 * side + side - 1])  # (32767, 32767), (3, 32767)
    d = _flat_distances(p, r, (side, side))
    pc = np.column_stack(np.divmod(p, side))
    rc = np.column_stack(np.divmod(r, side))
    assert np.array_equal(d, _pixel_distances_bruteforce(pc, rc))
    far, near = math.sqrt(2 * (side - 1) ** 2), math.sqrt(9 + (side - 1) ** 2)
    assert d.tolist() == [near, far, near]  # far: the largest d², 2 · 32767² < 2**31
    # one more row: outside the int32-exact range → KD-tree, same definition
    tall = _flat_distances(p, r, (side + 1, side))
    assert np.array_equal(tall, d)


@settings(max_examples=200, deadline=None)
@given(
    arrays(
        bool,
        st.tuples(st.integers(1, 48), st.integers(1, 48)),
        elements=st.sampled_from([False, False, False, True]),
    ),
    st.data(),
)
def test_kernel_equals_bruteforce_random_masks(pred, data):
    ref = data.draw(arrays(bool, pred.shape, elements=st.sampled_from([False] * 5 + [True])))
    d = _check(pred, ref)
    if pred.any() and ref.any():
        assert d.size == pred.sum() + ref.sum()
    else:
        assert d.size == 0


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 4000),
    st.integers(1, 4000),
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=300),
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=300),
)
def test_kernel_equals_bruteforce_sparse_points_in_large_images(h, w, pa, pb):
    def flat(pts):
        rc = np.unique([(int(y * (h - 1)), int(x * (w - 1))) for y, x in pts], axis=0)
        return rc[:, 0] * w + rc[:, 1], rc

    fa, ca = flat(pa)
    fb, cb = flat(pb)
    d = _flat_distances(fa, fb, (h, w))
    assert np.array_equal(d, _pixel_distances_bruteforce(ca, cb))
    assert np.array_equal(d, _kdtree_distances(ca.astype(float), cb.astype(float)))


def test_meandering_fronts_like_the_benchmark():
    """Thin, long, folded lines (the realistic case) at a size that loads the kernel."""
    rng = np.random.default_rng(7)
    h, w = 700, 900
    t = np.linspace(0, 1, 3000)
    for shift in (0, 3, 40):
        y = (350 + 200 * np.sin(6 * t + rng.uniform(0, 6)) + 30 * np.sin(40 * t)).astype(int)
        x = (20 + 860 * t).astype(int)
        a = np.zeros((h, w), bool)
        a[y, x] = True
        b = np.zeros((h, w), bool)
        b[np.clip(y + shift + (5 * np.sin(25 * t)).astype(int), 0, h - 1), x] = True
        _check(a, b)


# --------------------------------------------------------------------------- accumulator


def _scene(rng, shape, col):
    z = np.full(shape, GLACIER)
    z[:, col:] = OCEAN
    z[rng.integers(0, shape[0]), : col // 2] = OCEAN  # a lake: filled, never a front
    return z


def test_accumulator_equals_mean_distance_error_bit_for_bit():
    rng = np.random.default_rng(1)
    stems = [
        "JAC_2009-01-05_TSX_6_1_005",
        "SI_2010-06-01_ERS_20_1_125",
        "DBE_2010-01-01_ENVISAT_20_1_110",
        "COL_2011-06-30_S1_7_1_000",
        "JAC_2009-06-05_TDX_6_1_005",
        "Mapple_2012-02-01_PALSAR_17_1_000",
    ]
    shape = (60, 80)
    preds, refs, boxes = [], [], []
    for i in range(len(stems)):
        preds.append(_scene(rng, shape, 30 + 3 * i))
        ref = np.zeros(shape, bool)
        ref[:, 32 + i] = True
        ref[10 + i, 32 + i : 50] = True
        refs.append(ref)
        boxes.append(None if i % 2 else [(5, 0), (70, 0), (70, 50), (5, 50)])
    preds[3] = np.full(shape, GLACIER)  # no front at all → counted
    refs[4] = np.zeros(shape, bool)  # no reference → counted
    for kw in ({}, {"resolution_m": None}, {"resolution_m": 5.0}, {"merge_tsx_tdx": False}):
        kw = {"from_zones": True, "min_cluster_px": 0, **kw}
        whole = mean_distance_error(preds, refs, stems, bboxes=boxes, **kw)
        acc = MDEAccumulator(**kw)
        for i, (p, r, s, b) in enumerate(zip(preds, refs, stems, boxes, strict=True)):
            rec = acc.add(p, r, parse_caffe_name(s), bbox=b)
            assert rec.to_dict() == whole.per_image[i].to_dict() and len(acc) == i + 1
            part = mean_distance_error(
                preds[: i + 1], refs[: i + 1], stems[: i + 1], bboxes=boxes[: i + 1], **kw
            )
            assert acc.result().to_dict() == part.to_dict()  # every prefix, too
        res = acc.result()
        assert res.to_dict() == whole.to_dict()
        assert np.array_equal(res.distances_px, whole.distances_px)
        assert np.array_equal(res.distances_m, whole.distances_m, equal_nan=True)
        assert res.n_no_front == 1 and res.n_no_reference == 1 and res.n_evaluated == 4
        for by in ("glacier", "season", "sensor", "resolution"):
            assert [g.to_dict() for g in res.groups[by]] == [g.to_dict() for g in whole.groups[by]]


def test_accumulator_pooled_mean_matches_bruteforce_and_checks_inputs():
    rng = np.random.default_rng(2)
    acc = MDEAccumulator()
    brute = []
    for res in (6.0, 7.0, 20.0):
        p = rng.uniform(size=(50, 50)) < 0.03
        r = rng.uniform(size=(50, 50)) < 0.03
        acc.add(p, r, res)
        brute.append(_front_distances_bruteforce(p, r) * res)
    assert acc.result().mde_m == float(np.concatenate(brute).mean())  # pooled, exact
    with pytest.raises(ConfigError, match="resolution_m"):
        MDEAccumulator(resolution_m=0.0)
    empty = MDEAccumulator().result()
    assert empty.n_images == 0 and math.isnan(empty.mde_px) and "no image" in empty.note
