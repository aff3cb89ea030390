"""The product front (`workbench.metrics.front_product`): open sea only, icebergs flooded,
no front along the frame; CaFFe's benchmark front is left exactly as it is."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ConfigError
from workbench.metrics.front_product import open_sea_zones, product_front
from workbench.metrics.fronts import zones_to_front


def _fjord(n: int = 40) -> np.ndarray:
    """Rock on both banks, glacier above, open sea entering from the bottom edge."""
    z = np.full((n, n), 1, dtype=np.uint8)
    z[:, 10:30] = 2
    z[25:, 10:30] = 3
    return z


def test_a_clean_scene_gives_caffes_front_minus_the_frame():
    z = _fjord()
    caffe = zones_to_front(z, None, min_cluster_px=0)
    product = product_front(z, None, min_cluster_px=0, border_px=0)
    assert np.array_equal(product, caffe)
    framed = product_front(z, None, min_cluster_px=0, border_px=2)
    assert np.array_equal(framed[2:-2, 2:-2], caffe[2:-2, 2:-2])
    assert not framed[:2].any() and not framed[-2:].any()


def test_an_inner_ocean_blob_larger_than_the_sea_is_not_a_closed_loop():
    z = _fjord()
    z[3:20, 12:28] = 3  # a 272-px "lake" inside the glacier
    z[25:, 10:30] = 2
    z[33:, 10:30] = 3  # the open sea: 140 px, smaller than the lake
    caffe = zones_to_front(z, None, min_cluster_px=0)
    product = product_front(z, None, min_cluster_px=0)
    assert caffe[3:20, 12:28].any() and not caffe[33:].any()  # CaFFe draws the loop
    assert not product[:25].any() and product[33].any()  # the product: the sea's front


def test_icebergs_flood_but_a_headland_on_the_border_stays():
    z = _fjord()
    z[32:35, 18:21] = 2  # an iceberg in the sea
    z[30:, 0:10] = 3
    z[36:, 0:4] = 1  # a headland touching the border, cut off by the sea
    zones = open_sea_zones(z)
    assert (zones[32:35, 18:21] == 3).all()
    assert (zones[36:, 0:4] == 1).all()


def test_without_open_sea_the_largest_ocean_stays_unless_open_sea_is_required():
    z = np.full((20, 20), 2, dtype=np.uint8)
    z[5:15, 5:15] = 3
    z[2, 2] = 3  # a smaller inner blob
    assert open_sea_zones(z, require_open_sea=True) is None
    assert not product_front(z, None, min_cluster_px=0, require_open_sea=True).any()
    caffe = zones_to_front(z, None, min_cluster_px=0)
    assert np.array_equal(product_front(z, None, min_cluster_px=0), caffe)  # CaFFe's loop


def test_the_frame_is_cut_before_small_pieces_are_removed():
    z = np.full((40, 40), 2, dtype=np.uint8)
    z[25:] = 3  # a front across the whole scene, 40 px
    front = product_front(z, None, min_cluster_px=5)
    assert front.sum() == 36 and front[25, 2:38].all()  # minus 2 px at each end
    assert zones_to_front(z, None, min_cluster_px=36).sum() == 40  # CaFFe keeps 40 > 36
    assert not product_front(z, None, min_cluster_px=36).any()  # 36 ≤ 36: removed


@pytest.mark.parametrize("bad", [-1, 1.5, "2"])
def test_bad_border_width_is_a_clear_error(bad):
    with pytest.raises(ConfigError, match="border_px"):
        product_front(_fjord(), None, min_cluster_px=0, border_px=bad)


def test_no_data_counts_as_outside_the_scene():
    """CaFFe images are padded with no-data (class 0): the sea enters from there."""
    z = np.zeros((40, 40), dtype=np.uint8)
    z[4:36, 4:36] = 2
    z[25:36, 4:36] = 3  # the sea meets the no-data padding, not the image border
    z[8:12, 8:12] = 3  # a small inner lake
    zones = open_sea_zones(z)
    assert zones is not None and (zones[8:12, 8:12] == 2).all()
    front = product_front(z, None, min_cluster_px=0)
    assert front[25, 6:34].all() and front.sum() == 28  # 2 px kept off the padding
