"""CaFFe bounding boxes: the benchmark's file format (header + 4 corners) and its masking,
checked against a line-by-line re-implementation of the published evaluation code
(``mask_prediction_with_bounding_box`` in CaFFe's ``validate_or_test.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.data.caffe import read_bbox
from workbench.errors import ConfigError, FileFormatError
from workbench.evaluation.fronts import bbox_mask


def _published_masking(mask: np.ndarray, lines: list[str]) -> np.ndarray:
    """The benchmark's steps, in its order, on a copy (lines[0] is the header)."""
    m = mask.astype(float).copy()
    ulx, uly = [round(float(c)) for c in lines[1].split(",")]
    llx, lly = [round(float(c)) for c in lines[2].split(",")]
    lrx, lry = [round(float(c)) for c in lines[3].split(",")]
    urx, ury = [round(float(c)) for c in lines[4].split(",")]
    if ulx < 0:
        ulx = 0
    if llx < 0:
        llx = 0
    if urx > len(m[0]):
        urx = len(m[0]) - 1
    if lrx > len(m[0]):
        lrx = len(m[0]) - 1
    if uly > len(m):
        uly = len(m) - 1
    if lly < 0:
        lly = 0
    if ury > len(m):
        ury = len(m) - 1
    if lry < 0:
        lry = 0
    m[:lry, :] = 0.0
    m[uly:, :] = 0.0
    m[:, :ulx] = 0.0
    m[:, lrx:] = 0.0
    return m.astype(bool)


def test_masking_is_identical_to_the_published_code_on_random_boxes(tmp_path):
    rng = np.random.default_rng(0)
    differ = 0
    for k in range(1500):
        h, w = (int(v) for v in rng.integers(20, 90, 2))
        x0, x1 = np.sort(rng.uniform(-15, w + 15, 2))
        y0, y1 = np.sort(rng.uniform(-15, h + 15, 2))
        if k % 5 == 0:  # half-integers: Python's round-half-to-even
            x0, y1 = np.floor(x0) + 0.5, np.floor(y1) + 0.5
        # CaFFe's corner order; image y grows downwards: the "upper" corners have the larger y
        corners = [(x0, y1), (x0, y0), (x1, y0), (x1, y1)]
        lines = ["bounding box"] + [f"{float(x)!r},{float(y)!r}" for x, y in corners]
        path = tmp_path / f"b{k}.txt"
        path.write_text("\n".join(lines) + "\n")
        pred = rng.random((h, w)) < 0.3
        expected = _published_masking(pred, lines)
        got = pred & bbox_mask((h, w), read_bbox(path), mode="caffe")
        np.testing.assert_array_equal(got, expected, err_msg=f"box {k}: {lines}")
        differ += not np.array_equal(
            bbox_mask((h, w), read_bbox(path)), bbox_mask((h, w), read_bbox(path), mode="caffe")
        )
    assert differ > 100  # the polygon mode is NOT the benchmark's rule: it must not be default


def test_read_bbox_with_and_without_the_header(tmp_path):
    p = tmp_path / "box.txt"
    p.write_text("some header\n1.5,2.5\n1,30\n40.49,30\n40,2\n")
    assert read_bbox(p).tolist() == [[2, 2], [1, 30], [40, 30], [40, 2]]  # round half even
    p.write_text("3,4\n1,30\n40,30\n40,2\n")
    assert read_bbox(p).tolist() == [[3, 4], [1, 30], [40, 30], [40, 2]]
    p.write_text("header\n1,2\n3\n4,5\n6,7\n")
    with pytest.raises(FileFormatError, match="not 'x,y'"):
        read_bbox(p)
    p.write_text("1,2\n3,4\n")
    with pytest.raises(FileFormatError, match="2 corner lines"):
        read_bbox(p)
    with pytest.raises(ConfigError, match="caffe"):
        bbox_mask((4, 4), [(0, 0)] * 4, mode="oval")
