"""Shared helpers of the evaluation tests."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.data.encoding import GLACIER, OCEAN


def _zones_to_front_reference(z, threshold, connectivity=2):
    """Slow, literal re-statement of docs/science.md §1.2 with skimage and Python loops."""
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


@pytest.fixture(scope="session")
def zones_front_reference():
    """The slow literal zones → front reference (a function), for equality tests."""
    return _zones_to_front_reference
