"""The fast :func:`zones_to_front` gives exactly the pixels of the previous implementation.

``_reference_zones_to_front`` below is a verbatim copy of the implementation before the
run-length kernels (scipy ``ndimage.label`` on full-size label images, one ``bincount`` per
step). Every test compares masks with ``np.array_equal`` through three doors: the public
function, the scipy fallback path (``_zones_to_front_ndimage``) and the compiled run-length
path (``_zones_to_front_runs``; skipped where numba cannot compile it). This module loads
the kernels on import, so the public function takes the run-length path here for every size;
``test_kernels_load_lazily`` covers its switch from scipy to the kernels.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import ndimage

from workbench import testing
from workbench.data.encoding import GLACIER, NA, OCEAN, ROCK
from workbench.evaluation.fronts import (
    _STRUCT8,
    CAFFE_MIN_FRONT_M,
    _as_zones,
    _structure,
    zones_to_front,
)
from workbench.metrics import fronts

# --------------------------------------------------------------------------- the reference
# The implementation before the speed-up, kept verbatim in the package (as the brute-force
# MDE is) so that this module and benchmarks/postprocess.py compare with one copy.
_reference_zones_to_front = testing.zones_to_front_reference
_reference_largest_label = testing.largest_label_reference


# --------------------------------------------------------------------------- helpers

KERNELS = fronts._zf_kernels()
PATHS = ["public", "ndimage", "runs"]


def _fast(path: str, zones: Any, threshold: float, conn: int) -> np.ndarray:
    if path == "public":
        return zones_to_front(zones, None, min_cluster_px=threshold, nonocean_connectivity=conn)
    z = _as_zones(zones)
    if z.size == 0:
        return np.zeros(z.shape, dtype=bool)
    if path == "ndimage":
        return fronts._zones_to_front_ndimage(z, float(threshold), _structure(conn, "c"))
    if KERNELS is None:
        pytest.skip(f"numba kernels unavailable: {fronts._ZF_STATE.get('error')}")
    return fronts._zones_to_front_runs(z, float(threshold), conn == 8, KERNELS)


def _check(zones: Any, threshold: float, conn: int, path: str) -> np.ndarray:
    ref = _reference_zones_to_front(
        zones, None, min_cluster_px=threshold, nonocean_connectivity=conn
    )
    before = np.array(zones, copy=True)
    got = _fast(path, zones, threshold, conn)
    assert np.array_equal(np.asarray(zones), before)  # the input is left alone
    assert got.dtype == bool and got.shape == ref.shape
    assert np.array_equal(got, ref), (
        f"{path}, connectivity {conn}, threshold {threshold}: {int((got != ref).sum())} "
        f"pixels differ (reference {int(ref.sum())} front px, fast {int(got.sum())})"
    )
    return ref


def _grid(rows: list[str]) -> np.ndarray:
    """Zones from strings: '.' NA, 'r' rock, 'g' glacier, 'o' ocean."""
    code = {".": NA, "r": ROCK, "g": GLACIER, "o": OCEAN}
    return np.array([[code[ch] for ch in row] for row in rows], dtype=np.uint8)


def _blobby(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """A smooth random field cut into 4 classes at random quantiles.

    Classes next to each other in value touch; glacier and ocean are neighbours in value in
    about 80 % of the fields (fronts), any order otherwise.
    """
    field = ndimage.gaussian_filter(rng.normal(size=shape), sigma, mode="wrap")
    cuts = np.quantile(field, np.sort(rng.uniform(0, 1, 3)))
    z = np.searchsorted(cuts, field).astype(np.uint8)  # 0..3
    order = rng.permutation(4)
    if rng.random() < 0.6:  # glacier and ocean side by side
        rest = [c for c in order if c not in (GLACIER, OCEAN)]
        pair = [GLACIER, OCEAN] if rng.random() < 0.5 else [OCEAN, GLACIER]
        cut = int(rng.integers(0, 3))
        order = np.array(rest[:cut] + pair + rest[cut:])
    return order.astype(np.uint8)[z]


# --------------------------------------------------------------------------- corner cases

CORNER_CASES = {
    # land patches touching only at a corner: one component (8) or two (4; smaller flooded)
    "corner_touch": _grid(["oooooo", "oggooo", "oggooo", "ooogoo", "oooooo"]),
    "corner_touch_rock": _grid(
        ["ggggoooo", "ggggoooo", "ggggoooo", "oooorooo", "oooooggo", "oooooggo"]
    ),
    # two equally large land components: the first in raster order is kept
    "land_tie": _grid(["ggoooogg", "ggoooogg", "oooooooo"]),
    "land_tie_diag": _grid(["oooogg", "oooogg", "oooooo", "ggoooo", "ggoooo"]),
    # first pixel later in raster order but further left: raster order, not column order
    "land_tie_raster": _grid(["ooooog", "ooooog", "ogoooo", "ogoooo"]),
    # two equally large ocean pools separated by land: the first is the main ocean
    "ocean_tie": _grid(["oogggoo", "oogggoo", "gggggg.", "ggggggg"]),
    "ocean_tie_raster": _grid(["gggggo", "gggggo", "oggggg", "oggggg"]),
    # ocean pools touching at a corner are ONE 8-connected ocean
    "ocean_corner": _grid(["oogggg", "oogggg", "ggoogg", "ggoogg", "ggggg."]),
    "no_ocean": _grid(["ggrr", "g..r", "gggr"]),
    "all_ocean": np.full((4, 5), OCEAN, np.uint8),
    "all_glacier": np.full((3, 4), GLACIER, np.uint8),
    # ocean that touches only rock and NA: no front
    "empty_front": _grid(["rrrrr", "roooo", "rooo.", "....."]),
    # glacier islands in the ocean are flooded (not the largest land)
    "icebergs": _grid(["ggggggg", "ggggggg", "ooooooo", "oogoooo", "ooooogo", "ooooooo"]),
    # a lake inside the glacier becomes glacier
    "lake": _grid(["ggggggg", "ggooggg", "ggooggg", "ggggggg", "ooooooo"]),
    # fronts along every image border
    "border_top": _grid(["oooo", "gggg", "gggg"]),
    "border_bottom": _grid(["gggg", "gggg", "oooo"]),
    "border_left": _grid(["ogg", "ogg", "ogg"]),
    "border_right": _grid(["ggo", "ggo", "ggo"]),
    "checker": _grid(["gogo", "ogog", "gogo", "ogog"]),
    "checker_rock": _grid(["gorog", "ogogo", "rogog", "ogoro"]),
    "one_px_ocean": _grid(["o"]),
    "one_px_glacier": _grid(["g"]),
    "row": _grid(["ggooggoo.go"]),
    "column": _grid(["g", "o", "o", "g", "r", "o", "g"]),
    "two_by_two": _grid(["go", "og"]),
    # front clusters of 1, 3 and 5 px (row 2) for the threshold tests
    "clusters": _grid(["gggggggggggggg", "grrrgggrgggggr", "oooooooooooooo", "oooooooooooooo"]),
}
THRESHOLDS = (0, 0.5, 1, 2, 2.999, 3, 3.001, 4, 5, 6, -1, math.inf, math.nan)


@pytest.mark.parametrize("path", PATHS)
def test_corner_cases(path):
    """Every hand-built case, transposed and mirrored, both connectivities, many thresholds."""
    for name, z in CORNER_CASES.items():
        for conn in (8, 4):
            for threshold in THRESHOLDS:
                for variant in (z, z.T, z[::-1, ::-1]):
                    try:
                        _check(variant, threshold, conn, path)
                    except AssertionError as exc:
                        raise AssertionError(f"corner case {name!r}: {exc}") from None


def test_corner_cases_mean_something():
    """The hand-built cases exercise what they are named after (so a test can fail)."""
    ref = _reference_zones_to_front
    corner = CORNER_CASES["corner_touch"]
    assert (
        ref(corner, None, min_cluster_px=0).sum()
        != ref(corner, None, min_cluster_px=0, nonocean_connectivity=4).sum()
    )
    tie = ref(CORNER_CASES["land_tie"], None, min_cluster_px=0)
    assert tie[:, :4].any() and not tie[:, 4:].any()  # the left block is kept
    tie = ref(CORNER_CASES["land_tie_raster"], None, min_cluster_px=0)
    assert tie[:, 4].any() and not tie[:, :2].any()  # the top-right block is kept
    ocean = ref(CORNER_CASES["ocean_tie"], None, min_cluster_px=0)
    assert ocean[:, :2].any() and not ocean[:, 5:].any()  # the left pool is the ocean
    assert not ref(CORNER_CASES["empty_front"], None, min_cluster_px=0).any()
    clusters = CORNER_CASES["clusters"]  # front clusters of 1, 3 and 5 pixels
    for threshold, expected in ((0, 9), (0.999, 9), (1, 8), (2.999, 8), (3, 5), (4.999, 5), (5, 0)):
        got = int(ref(clusters, None, min_cluster_px=threshold).sum())
        assert got == expected, (threshold, got)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape", [(0, 0), (0, 5), (5, 0)])
def test_empty_images(shape, path):
    _check(np.zeros(shape, np.uint8), 0, 8, path)


@pytest.mark.parametrize("path", PATHS)
def test_clusters_exactly_at_the_threshold(path):
    """A front of n px is removed at threshold n (``<=``) and kept just below it."""
    rng = np.random.default_rng(7)
    for _ in range(20):
        z = _blobby(rng, (int(rng.integers(20, 80)), int(rng.integers(20, 80))), 3.0)
        full = _reference_zones_to_front(z, None, min_cluster_px=0)
        labels, n = ndimage.label(full, structure=_STRUCT8)
        for size in np.unique(np.bincount(labels.ravel())[1:]):
            for threshold in (size, size - 1e-9, np.nextafter(float(size), np.inf)):
                _check(z, float(threshold), 8, path)


def test_public_threshold_from_resolution():
    """The metre threshold (750 m / resolution, not rounded) reaches the fast paths."""
    rng = np.random.default_rng(3)
    for _ in range(30):
        z = _blobby(rng, (int(rng.integers(40, 160)), int(rng.integers(40, 160))), 4.0)
        for res in (6.0, 7.0, 12.0, 17.0, 20.0, 150.0, 250.0, 375.0):
            for m in (CAFFE_MIN_FRONT_M, 70.0):
                ref = _reference_zones_to_front(z, res, min_cluster_m=m)
                assert np.array_equal(zones_to_front(z, res, min_cluster_m=m), ref)


def test_inputs_of_other_types():
    """Non-contiguous views, int64, float and read-only inputs give the same fronts."""
    rng = np.random.default_rng(11)
    z = _blobby(rng, (90, 70), 3.0)
    read_only = z.copy()
    read_only.flags.writeable = False  # like np.asarray(PIL image)
    for variant in (
        z.T,
        z[::2, 1::3],
        z.astype(np.int64),
        z.astype(np.float32),
        np.asfortranarray(z),
        read_only,
        read_only.T,
    ):
        for path in PATHS:
            _check(variant, 2, 8, path)
    assert not read_only.flags.writeable and np.array_equal(read_only, z)  # not modified


# --------------------------------------------------------------------------- random maps


def _random_cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    for i in range(n):
        kind = i % 4
        if kind == 0:  # tiny maps of pure noise: many ties, every kind of contact
            shape = (int(rng.integers(1, 13)), int(rng.integers(1, 13)))
            z = rng.choice(4, size=shape, p=rng.dirichlet(np.ones(4))).astype(np.uint8)
        else:  # blobby fields from 1 px to ~300 px a side
            side = np.exp(rng.uniform(0, np.log(300), 2)).astype(int)
            shape = (max(int(side[0]), 1), max(int(side[1]), 1))
            z = _blobby(rng, shape, float(rng.uniform(0.5, 8.0)))
            if kind == 3:  # prediction-like speckle
                m = rng.random(shape) < rng.uniform(0.001, 0.05)
                z[m] = rng.integers(0, 4, int(m.sum()))
        threshold = float(rng.choice([0, 0, 1, 2, 5, rng.uniform(0, 20)]))
        yield i, z, threshold


def test_random_maps():
    """Hundreds of random maps, both connectivities, every path against the reference."""
    n_front = n_nonempty = ties = differ = 0
    for _, z, threshold in _random_cases(360, seed=2024):
        refs = {}
        for conn in (8, 4):
            refs[conn] = ref = _reference_zones_to_front(
                z, None, min_cluster_px=threshold, nonocean_connectivity=conn
            )
            for path in PATHS:
                got = _fast(path, z, threshold, conn)
                assert np.array_equal(got, ref), (path, conn, threshold, z.shape)
            n_front += int(ref.sum())
            n_nonempty += bool(ref.any())
        differ += not np.array_equal(refs[8], refs[4])
        ties += _has_tie(z)
    # the maps are not trivially empty and hold the cases that need care
    assert n_nonempty > 200 and n_front > 5_000, (n_nonempty, n_front)
    assert ties >= 40 and differ >= 15, (ties, differ)


def _has_tie(z: np.ndarray) -> bool:
    """A tie for the largest land (8- or 4-connected) or ocean component."""
    for mask, struct in (
        (z != OCEAN, _STRUCT8),
        (z != OCEAN, _structure(4, "c")),
        (z == OCEAN, _STRUCT8),
    ):
        sizes = np.sort(np.bincount(ndimage.label(mask, struct)[0].ravel())[1:])
        if sizes.size > 1 and sizes[-1] == sizes[-2]:
            return True
    return False


def test_random_maps_with_ties():
    """Maps made of equal squares: ties between land and between ocean components."""
    rng = np.random.default_rng(5)
    for _ in range(150):
        cells = rng.integers(0, 4, size=(int(rng.integers(1, 7)), int(rng.integers(1, 7))))
        k = int(rng.integers(1, 5))
        z = np.kron(cells, np.ones((k, k), int)).astype(np.uint8)
        for conn in (8, 4):
            for path in PATHS:
                _check(z, float(rng.choice([0, 1, k])), conn, path)


# --------------------------------------------------------------------------- realistic maps


def _prediction_noise(
    z: np.ndarray, rng: np.random.Generator, speckle: float, blobs: int
) -> np.ndarray:
    """Speckle (random classes) and blobs where glacier and ocean are swapped."""
    noisy = z.copy()
    m = rng.random(z.shape) < speckle
    noisy[m] = rng.integers(0, 4, int(m.sum()))
    for _ in range(blobs):
        cy, cx = rng.integers(0, z.shape[0]), rng.integers(0, z.shape[1])
        rad = int(rng.integers(2, 25))
        sl = (slice(max(cy - rad, 0), cy + rad), slice(max(cx - rad, 0), cx + rad))
        noisy[sl] = np.where(
            noisy[sl] == GLACIER, OCEAN, np.where(noisy[sl] == OCEAN, GLACIER, noisy[sl])
        )
    return noisy


@pytest.fixture(scope="module")
def realistic_zones():
    """~1000² zone maps from the glacier simulator (340² tripled, cropped to 997 × 1000): as
    simulated, with prediction noise, and with other noise and transposed (vertical front)."""
    from workbench.data.synthetic import simulate_glacier

    g = simulate_glacier(
        seed=1, size=(340, 340), pixel_size=30.0, years=0.02, optical_bands=("B4",)
    )
    z = np.asarray(g.stack["zones"].values[0], dtype=np.uint8)
    z = np.repeat(np.repeat(z, 3, axis=0), 3, axis=1)[:997, :1000]
    rng = np.random.default_rng(1)
    return [
        z,
        _prediction_noise(z, rng, 0.002, 60),
        np.ascontiguousarray(_prediction_noise(z, rng, 0.01, 150).T),
    ]


def test_realistic_maps(realistic_zones):
    for z in realistic_zones:
        for conn in (8, 4):
            for threshold in (0, 750.0 / 7.0):
                ref = _reference_zones_to_front(
                    z, None, min_cluster_px=threshold, nonocean_connectivity=conn
                )
                assert ref.sum() > 300
                for path in PATHS:
                    got = _fast(path, z, threshold, conn)
                    assert np.array_equal(got, ref), (path, conn, threshold)


def test_kernels_load_lazily(monkeypatch, realistic_zones):
    """Small images use scipy until one of ``_ZF_LOAD_PX`` pixels (or ``_ZF_LOAD_TOTAL`` in
    all) loads the kernels; the public results are the reference's either way."""
    calls: list[int] = []
    state: dict[str, Any] = {}

    def load():
        calls.append(1)
        state["kernels"] = KERNELS
        return KERNELS

    monkeypatch.setattr(fronts, "_ZF_STATE", state)
    monkeypatch.setattr(fronts, "_zf_kernels", load)
    monkeypatch.setattr(fronts, "_ZF_LOAD_TOTAL", 200_000)
    small = realistic_zones[1][:300, :300]
    for expected_calls in (0, 0, 1):  # 90,000 px, 180,000 px, 270,000 px in all
        assert np.array_equal(zones_to_front(small, 7.0), _reference_zones_to_front(small, 7.0))
        assert len(calls) == expected_calls
    state.clear()
    calls.clear()
    big = np.tile(realistic_zones[1], (2, 2))[:, :1500]
    assert big.size >= fronts._ZF_LOAD_PX
    assert np.array_equal(zones_to_front(big, 7.0), _reference_zones_to_front(big, 7.0))
    assert len(calls) == 1 and state["kernels"] is KERNELS
