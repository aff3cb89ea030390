"""Tiny data for the training tests: a CaFFe-layout folder and a synthetic world (session-wide).

Everything is 32–64 px with a handful of samples; torch runs single-threaded (on a busy
2-core machine, intra-op threads make tiny models ten times slower, not faster).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _training_helpers import caffe_zones, image_from_zones

from workbench.data.caffe import write_caffe_sample


@pytest.fixture(autouse=True, scope="session")
def _single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def caffe_folder(tmp_path_factory) -> Path:  # noqa: F821
    """A flat CaFFe-layout folder: 8 images of 48×48 px, two glaciers (SI, JAC)."""
    root = tmp_path_factory.mktemp("caffe")
    rng = np.random.default_rng(0)
    for i in range(8):
        glacier, orbit = ("SI", "125") if i % 2 == 0 else ("JAC", "005")
        z, f = caffe_zones(48, 48, 20 + 2 * i)
        stem = f"{glacier}_2010-0{1 + i // 2}-1{i % 2}_TSX_7_1_{orbit}"
        write_caffe_sample(root, stem, image_from_zones(z, rng), z, f)
    return root


@pytest.fixture(scope="session")
def tiny_world():
    """Three simulated glaciers, 48×48 px at 200 m, ~8 dates each (stacks in memory)."""
    from workbench.data.synthetic import simulate_world

    return [g.stack for g in simulate_world(3, seed=3, years=0.25, size=(48, 48), pixel_size=200.0)]
