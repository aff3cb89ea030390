"""Fronts from zones, front distances (fast vs brute force), MDE, multi-annotator MDE."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from workbench.data.caffe import parse_caffe_name
from workbench.data.encoding import GLACIER, NA, OCEAN, ROCK
from workbench.errors import ConfigError, DataError, LabelEncodingError
from workbench.metrics import (
    bbox_mask,
    front_distances,
    mask_front_with_bbox,
    mean_distance_error,
    multi_annotator_mde,
    zones_to_front,
)
from workbench.testing import front_distances_bruteforce as _front_distances_bruteforce

S2, S5, S8, S10, S13 = (math.sqrt(v) for v in (2, 5, 8, 10, 13))


def _line(shape, row=None, col=None, start=0, stop=None):
    m = np.zeros(shape, bool)
    if row is not None:
        m[row, start:stop] = True
    else:
        m[start:stop, col] = True
    return m


# --------------------------------------------------------------------------- zones → front


def test_straight_glacier_ocean_boundary():
    z = np.full((6, 8), GLACIER)
    z[:, 5:] = OCEAN
    front = zones_to_front(z, 10.0, min_cluster_px=0)
    assert front.dtype == bool
    assert np.array_equal(front, _line((6, 8), col=5))


def test_front_is_on_ocean_side_and_4_connected_only():
    # a diagonal boundary: ocean pixels touching glacier only diagonally are not front
    z = np.full((4, 4), OCEAN)
    z[np.tril_indices(4)] = GLACIER  # glacier on and below the diagonal
    front = zones_to_front(z, None, min_cluster_px=0)
    expected = np.zeros((4, 4), bool)
    expected[[0, 1, 2], [1, 2, 3]] = True  # the super-diagonal (4-neighbours)
    assert np.array_equal(front, expected)
    assert not front[0, 2] and not front[0, 3]  # diagonal-only contacts


def test_rock_na_and_image_border_never_count():
    z = np.full((6, 9), OCEAN)
    z[:, :3] = ROCK  # rock coast on the left
    z[:3, 3] = NA  # no-data strip touching the ocean
    z[3:, 3] = ROCK
    z[5, 3:6] = GLACIER  # glacier tongue along the bottom row
    z[5, 2] = GLACIER
    front = zones_to_front(z, None, min_cluster_px=0)
    # only ocean pixels 4-adjacent to the glacier tongue are front: above it (row 4,
    # cols 4..5; (4, 3) is rock) and at its tip (5, 6); rock/NA contacts and the image
    # border are ignored
    expected = np.zeros_like(front)
    expected[4, 4:6] = True
    expected[5, 6] = True
    assert np.array_equal(front, expected)


def test_holes_are_filled_and_small_oceans_become_glacier():
    z = np.full((12, 12), GLACIER)
    z[:, 6:] = OCEAN
    z[2, 9] = GLACIER  # iceberg: a small non-ocean component
    z[6:8, 9:11] = ROCK  # rocky island
    z[8, 2] = OCEAN  # a lake inside the glacier
    z[1:3, 1:3] = OCEAN  # a bigger lake
    front = zones_to_front(z, None, min_cluster_px=0)
    assert np.array_equal(front, _line((12, 12), col=6))


def test_largest_non_ocean_component_survives_and_smaller_land_is_flooded():
    # two land masses separated by ocean: the smaller one becomes ocean entirely
    z = np.full((10, 10), OCEAN)
    z[:, :4] = GLACIER  # 40 px
    z[:3, 7:] = GLACIER  # 9 px, separate
    front = zones_to_front(z, None, min_cluster_px=0)
    assert np.array_equal(front, _line((10, 10), col=4))


def test_nonocean_connectivity_choice():
    # a 2×2 glacier patch touching the main glacier block only at a corner: (4,4)–(5,5)
    z = np.full((10, 10), OCEAN)
    z[:5, :5] = GLACIER
    z[5:7, 5:7] = GLACIER
    block_only = np.full((10, 10), OCEAN)
    block_only[:5, :5] = GLACIER
    eight = zones_to_front(z, None, min_cluster_px=0)
    four = zones_to_front(z, None, min_cluster_px=0, nonocean_connectivity=4)
    # 8-connected (CaFFe's code, default): the patch belongs to the land → front around it
    assert eight[7, 5] and eight[7, 6] and eight[5, 7] and eight[6, 7]
    # new front pixels: (4,6) (6,4) (7,5) (7,6) (5,7) (6,7); (4,5) and (5,4) were front already
    assert eight.sum() == zones_to_front(block_only, None, min_cluster_px=0).sum() + 6
    # 4-connected: the patch is a separate smaller component and is flooded
    assert np.array_equal(four, zones_to_front(block_only, None, min_cluster_px=0))
    with pytest.raises(ConfigError):
        zones_to_front(z, None, min_cluster_px=0, nonocean_connectivity=6)


def test_cluster_threshold_in_metres_and_pixels():
    z = np.full((12, 12), GLACIER)
    z[:, 7:] = OCEAN  # 12-px front along column 7
    assert zones_to_front(z, 750 / 12).sum() == 0  # 12 ≤ 12 → removed (≤, not <)
    assert zones_to_front(z, 750 / 11.9).sum() == 12  # 12 > 11.9 → kept
    assert zones_to_front(z, 7.0).sum() == 0  # 750 m / 7 m = 107 px
    assert zones_to_front(z, 7.0, min_cluster_m=70.0).sum() == 12
    assert zones_to_front(z, 7.0, min_cluster_px=11).sum() == 12  # px takes precedence
    assert zones_to_front(z, None, min_cluster_px=12).sum() == 0


def test_short_clusters_removed_independently():
    # one ocean, two front clusters separated by a rock stretch of the coast
    z = np.full((20, 20), GLACIER)
    z[:, 12:] = OCEAN
    z[15:17, :12] = ROCK  # rows 15-16: rock coast
    front = zones_to_front(z, None, min_cluster_px=0)
    assert front[:, 12].sum() == 18 and front.sum() == 18  # clusters of 15 and 3 px
    kept = zones_to_front(z, None, min_cluster_px=3)  # 3 ≤ 3 → removed
    assert kept[:15, 12].all() and kept.sum() == 15
    assert zones_to_front(z, None, min_cluster_px=15).sum() == 0


def test_degenerate_zone_maps():
    assert not zones_to_front(np.full((5, 5), OCEAN), 7.0).any()
    assert not zones_to_front(np.full((5, 5), GLACIER), 7.0).any()
    assert not zones_to_front(np.zeros((0, 0), int), 7.0).any()


def test_zones_to_front_inputs_and_errors():
    z = np.full((6, 8), GLACIER)
    z[:, 5:] = OCEAN
    t = zones_to_front(torch.from_numpy(z), None, min_cluster_px=0)
    assert np.array_equal(t, zones_to_front(z, None, min_cluster_px=0))
    with pytest.raises(LabelEncodingError):
        zones_to_front(np.full((3, 3), 254), 7.0)  # CaFFe PNG values, not class ids
    with pytest.raises(ConfigError, match="min_cluster_px"):
        zones_to_front(z, None)
    with pytest.raises(ConfigError):
        zones_to_front(z, -3.0)
    with pytest.raises(DataError):
        zones_to_front(np.zeros((2, 3, 4), int), 7.0)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.int64, st.tuples(st.integers(1, 4), st.integers(1, 4)), elements=st.integers(0, 3)),
    st.integers(1, 4),
    st.sampled_from([0, 1, 2, 4]),
    st.sampled_from([4, 8]),
)
def test_zones_to_front_equals_literal_reference(
    zones_front_reference, blocks, scale, threshold, conn
):
    # blocky random zone maps (block structure gives real components, holes and fronts)
    z = np.kron(blocks, np.ones((scale, scale), np.int64))
    rng = np.random.default_rng(int(blocks.sum()) + scale)
    noise = rng.uniform(size=z.shape) < 0.1
    z = np.where(noise, rng.integers(0, 4, size=z.shape), z)
    fast = zones_to_front(z, None, min_cluster_px=threshold, nonocean_connectivity=conn)
    slow = zones_front_reference(z, threshold, connectivity=2 if conn == 8 else 1)
    assert np.array_equal(fast, slow)


# --------------------------------------------------------------------------- bounding boxes


def test_bbox_polygon_and_box():
    corners = [(2, 1), (6, 1), (6, 4), (2, 4)]
    poly = bbox_mask((6, 9), corners)
    assert poly.sum() == 5 * 4 and poly[1:5, 2:7].all()
    box = bbox_mask((6, 9), corners, mode="box")
    assert box.sum() == 4 * 3 and box[1:4, 2:6].all()  # half-open like CaFFe's code
    clipped = bbox_mask((6, 9), [(-5, -5), (20, -5), (20, 20), (-5, 20)])
    assert clipped.all()
    rotated = bbox_mask((11, 11), [(5, 0), (10, 5), (5, 10), (0, 5)])  # a diamond
    assert rotated[5, 5] and not rotated[0, 0] and rotated[0, 5] and rotated[5, 10]
    with pytest.raises(ConfigError):
        bbox_mask((4, 4), corners, mode="circle")
    with pytest.raises(DataError):
        bbox_mask((4, 4), [1, 2, 3])


def test_bbox_masks_only_the_prediction():
    ref = _line((10, 10), row=5, start=2, stop=8)  # ref partly outside the box too
    pred = _line((10, 10), row=4, start=2, stop=8)
    pred[0, 9] = True  # stray pixel outside the box
    box = [(1, 2), (6, 2), (6, 7), (1, 7)]
    masked = mask_front_with_bbox(pred, box)
    assert not masked[0, 9] and masked[4, 2:7].all() and not masked[4, 7]
    with_box = mean_distance_error([pred], [ref], [1.0], bboxes=[box])
    expected = front_distances(masked, ref)  # ref unmasked: cols 2..7 all count
    assert with_box.mde_px == pytest.approx(expected.mean())
    assert with_box.per_image[0].n_ref == 6
    without = mean_distance_error([pred], [ref], [1.0])
    assert without.mde_px > with_box.mde_px
    # a box that excludes the whole prediction → no front, counted
    far = mean_distance_error([pred], [ref], [1.0], bboxes=[[(0, 8), (1, 8), (1, 9), (0, 9)]])
    assert far.n_no_front == 1 and far.n_evaluated == 0


# --------------------------------------------------------------------------- distances


def test_parallel_lines_three_apart():
    a = _line((10, 12), row=2, start=1, stop=11)
    b = _line((10, 12), row=5, start=1, stop=11)
    d = front_distances(a, b)
    assert d.shape == (20,) and np.all(d == 3.0)
    assert np.array_equal(d, _front_distances_bruteforce(a, b))


def test_point_versus_three_pixel_line():
    p = np.zeros((6, 6), bool)
    p[0, 0] = True
    line = _line((6, 6), row=3, start=0, stop=3)
    d = front_distances(p, line)
    # pred→ref: (0,0)→(3,0) = 3; ref→pred: 3, √10, √13
    assert np.allclose(d, [3.0, 3.0, S10, S13], rtol=0, atol=1e-15)
    d2 = front_distances(line, p)  # order: pred first, then ref
    assert np.allclose(d2, [3.0, S10, S13, 3.0], rtol=0, atol=1e-15)


def test_l_shape_versus_point_and_line():
    L = np.zeros((5, 5), bool)
    L[0:3, 0] = True
    L[2, 0:3] = True  # (0,0) (1,0) (2,0) (2,1) (2,2)
    pt = np.zeros((5, 5), bool)
    pt[0, 2] = True
    d = front_distances(L, pt)
    assert np.allclose(d, [2.0, S5, S8, S5, 2.0, 2.0], rtol=0, atol=1e-15)
    # L vs a vertical line at column 3 rows 0..4
    v = _line((5, 5), col=3)
    d = front_distances(L, v)
    pred_part = [3.0, 3.0, 3.0, 2.0, 1.0]
    ref_part = [S5, S2, 1.0, S2, S5]  # rows 0..4 of column 3 to (2,2)
    assert np.allclose(d, pred_part + ref_part, rtol=0, atol=1e-15)
    assert np.array_equal(d, _front_distances_bruteforce(L, v))


def test_identical_fronts_give_zero_and_empty_gives_empty():
    a = _line((7, 7), row=3)
    assert np.array_equal(front_distances(a, a), np.zeros(14))
    empty = np.zeros((7, 7), bool)
    assert front_distances(empty, a).size == 0
    assert front_distances(a, empty).size == 0
    assert _front_distances_bruteforce(empty, a).size == 0
    with pytest.raises(DataError):
        front_distances(a, np.zeros((7, 8), bool))
    # 0/255 masks and torch tensors are accepted
    u8 = a.astype(np.uint8) * 255
    assert np.array_equal(front_distances(torch.from_numpy(u8), a), np.zeros(14))


@settings(max_examples=150, deadline=None)
@given(
    arrays(bool, st.tuples(st.integers(1, 20), st.integers(1, 20)), elements=st.booleans()),
    st.data(),
)
def test_front_distances_equal_bruteforce_random(pred, data):
    ref = data.draw(arrays(bool, pred.shape, elements=st.sampled_from([False, False, True])))
    fast = front_distances(pred, ref)
    slow = _front_distances_bruteforce(pred, ref)
    assert np.array_equal(fast, slow)  # bit-identical, same order
    if pred.any() and ref.any():
        assert fast.size == pred.sum() + ref.sum()


def test_front_distances_equal_bruteforce_large_sparse():
    rng = np.random.default_rng(3)
    for _ in range(3):
        a = rng.uniform(size=(300, 400)) < 0.004
        b = rng.uniform(size=(300, 400)) < 0.004
        assert np.array_equal(front_distances(a, b), _front_distances_bruteforce(a, b))


# --------------------------------------------------------------------------- MDE


def test_mde_pools_all_distances_not_a_mean_of_means():
    a_pred = _line((20, 20), row=2)  # 20 px at distance 1
    a_ref = _line((20, 20), row=3)
    b_pred = np.zeros((20, 20), bool)
    b_pred[0, 0] = True  # 1 px at distance 10 from a point
    b_ref = np.zeros((20, 20), bool)
    b_ref[10, 0] = True
    res = mean_distance_error([a_pred, b_pred], [a_ref, b_ref], [1.0, 1.0])
    pooled = (40 * 1 + 2 * 10) / 42
    assert res.mde_px == pytest.approx(pooled)
    assert res.mde_px != pytest.approx((1 + 10) / 2)
    assert res.n_distances == 42 and res.n_evaluated == 2
    assert res.std_px == pytest.approx(np.std([1] * 40 + [10] * 2))


def test_mde_metres_with_mixed_resolutions():
    p = _line((10, 10), row=2)
    r = _line((10, 10), row=4)  # 2 px apart, 20 distances each
    res = mean_distance_error([p, p], [r, r], [6.0, 20.0])
    assert res.mde_px == 2.0
    assert res.mde_m == pytest.approx((20 * 12 + 20 * 40) / 40)
    assert res.resolution_known
    # a global override
    assert mean_distance_error([p, p], [r, r], [6.0, 20.0], resolution_m=5.0).mde_m == 10.0


def test_no_front_and_no_reference_are_excluded_and_counted():
    p = _line((8, 8), row=2)
    r = _line((8, 8), row=5)
    empty = np.zeros((8, 8), bool)
    res = mean_distance_error([p, empty, p, empty], [r, r, empty, empty], [7.0] * 4)
    assert (res.n_images, res.n_evaluated, res.n_no_front, res.n_no_reference) == (4, 1, 2, 1)
    assert res.mde_m == 21.0
    assert [r.status for r in res.per_image] == ["ok", "no_front", "no_reference", "no_front"]
    none = mean_distance_error([empty], [r], [7.0])
    assert math.isnan(none.mde_m) and math.isnan(none.mde_px) and none.n_no_front == 1
    assert "no image" in none.note
    assert none.to_dict()["mde_m"] is None


def test_breakdowns_by_glacier_season_sensor_resolution():
    stems = [
        "JAC_2009-01-05_TSX_6_1_005",  # north, winter
        "JAC_2009-06-05_TDX_6_1_005",  # north, summer
        "SI_2010-06-01_ERS_20_1_125",  # south, winter
        "DBE_2010-01-01_ENVISAT_20_1_110",
    ]  # south, summer
    metas = [parse_caffe_name(s) for s in stems]
    shape = (12, 12)
    preds = [_line(shape, row=2), _line(shape, row=2), np.zeros(shape, bool), _line(shape, row=2)]
    refs = [_line(shape, row=3), _line(shape, row=5), _line(shape, row=5), _line(shape, row=6)]
    res = mean_distance_error(preds, refs, metas)
    jac = res.group("glacier", "JAC")
    assert jac.n_images == 2 and jac.mde_px == 2.0 and jac.mde_m == 12.0
    si = res.group("glacier", "SI")
    assert si.n_no_front == 1 and si.n_evaluated == 0 and math.isnan(si.mde_m)
    assert res.group("sensor", "TSX/TDX").n_images == 2  # merged like CaFFe
    assert res.group("season", "winter").mde_px == 1.0  # JAC winter only (SI: none)
    assert res.group("season", "summer").mde_m == pytest.approx((24 * 18 + 24 * 80) / 48)
    assert [g.value for g in res.groups["resolution"]] == ["6", "20"]
    assert res.group("resolution", "20").n_no_front == 1
    unmerged = mean_distance_error(preds, refs, stems, merge_tsx_tdx=False)  # stems parse
    assert {g.value for g in unmerged.groups["sensor"]} == {"TSX", "TDX", "ERS", "ENVISAT"}
    assert unmerged.mde_m == res.mde_m
    with pytest.raises(KeyError):
        res.group("glacier", "COL")
    frame = res.to_frame()
    assert len(frame) == 1 + 3 + 2 + 3 + 2
    assert set(frame["by"]) == {"all", "glacier", "season", "sensor", "resolution"}
    d = res.to_dict()
    json.dumps(d, allow_nan=False)  # strict JSON (NaN → null)
    assert d["groups"]["glacier"]["SI"]["mde_m"] is None
    assert d["n_no_front"] == 1 and len(d["per_image"]) == 4
    assert len(res.per_image_frame()) == 4
    assert res.worst(1)[0].glacier == "DBE"


def test_meta_from_mapping_with_date_gives_season():
    p, r = _line((6, 6), row=1), _line((6, 6), row=2)
    res = mean_distance_error(
        [p], [r], [{"glacier": "COL", "date": "2011-06-30", "resolution_m": 7}]
    )
    assert res.per_image[0].season == "summer" and res.mde_m == 7.0
    with pytest.raises(ConfigError):
        mean_distance_error([p], [r], [object()])


def test_pixels_only_when_resolution_unknown():
    p, r = _line((6, 6), row=1), _line((6, 6), row=4)
    res = mean_distance_error([p], [r], ["JAC_2009-01-05_TSX_6_1_005"], resolution_m=None)
    assert res.mde_px == 3.0 and math.isnan(res.mde_m) and not res.resolution_known
    assert "pixels only" in res.note
    assert res.group("resolution", "6").mde_px == 3.0  # label from the name
    assert res.to_dict()["unit"] == "px"
    partial = mean_distance_error([p, p], [r, r], [7.0, None])
    assert math.isnan(partial.mde_m) and partial.mde_px == 3.0 and "no pixel size" in partial.note


def test_mde_from_zones_and_input_checks():
    z = np.full((10, 10), GLACIER)
    z[:, 6:] = OCEAN
    ref = _line((10, 10), col=4)
    res = mean_distance_error([z], [ref], [7.0], from_zones=True, min_cluster_px=0)
    assert res.mde_m == 14.0
    # with the CaFFe threshold at 7 m the 10-px front is removed → counted as no front
    assert mean_distance_error([z], [ref], [7.0], from_zones=True).n_no_front == 1
    with pytest.raises(DataError):
        mean_distance_error([ref], [ref, ref])
    with pytest.raises(DataError):
        mean_distance_error([ref], [ref], [1.0, 2.0])
    with pytest.raises(DataError):
        mean_distance_error([ref], [ref], bboxes=[None, None])
    with pytest.raises(ConfigError):
        mean_distance_error([ref], [ref], resolution_m=-1.0)


# --------------------------------------------------------------------------- annotators


def test_multi_annotator_hand_computed():
    p = _line((9, 9), row=4)
    a = _line((9, 9), row=3)
    b = _line((9, 9), row=6)
    c = _line((9, 9), row=4)
    r = multi_annotator_mde(p, {"a": a, "b": b, "c": c}, resolution=10.0)
    assert r.unit == "m"
    assert r.model_vs_annotator == {"a": 10.0, "b": 20.0, "c": 0.0}
    assert r.model_mde == pytest.approx(10.0) and r.model_mde_mean == pytest.approx(10.0)
    assert r.pairwise == {"a|b": 30.0, "a|c": 10.0, "b|c": 20.0}
    assert r.annotator_mde == pytest.approx(20.0)
    json.dumps(r.to_dict(), allow_nan=False)


def test_multi_annotator_several_images_and_pixels():
    p1, p2 = _line((9, 9), row=4), np.zeros((9, 9), bool)
    a1, a2 = _line((9, 9), row=2), _line((9, 9), row=1)
    b1, b2 = _line((9, 9), row=4), _line((9, 9), row=2)
    r = multi_annotator_mde([p1, p2], [[a1, a2], [b1, b2]])
    assert r.unit == "px" and r.n_images == 2 and r.n_no_front == 1
    assert r.model_vs_annotator == {"annotator_0": 2.0, "annotator_1": 0.0}
    # pairwise pools both images: 18 distances of 2 and 18 of 1
    assert r.pairwise["annotator_0|annotator_1"] == pytest.approx(1.5)
    with pytest.raises(DataError):
        multi_annotator_mde([p1, p2], {"a": [a1]})


def test_bruteforce_blocks_do_not_change_values(monkeypatch):
    import workbench.testing as fronts_mod

    rng = np.random.default_rng(5)
    a = rng.uniform(size=(40, 50)) < 0.05
    b = rng.uniform(size=(40, 50)) < 0.05
    whole = _front_distances_bruteforce(a, b)
    monkeypatch.setattr(fronts_mod, "_BRUTE_BLOCK", 7)  # many small blocks
    assert np.array_equal(_front_distances_bruteforce(a, b), whole)
    assert np.array_equal(front_distances(a, b), whole)
