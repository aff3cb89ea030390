"""Shared fixtures and markers.

``shared_data`` points at the real data beside the checkout (``$WORKBENCH_SHARED_DATA``,
default ``../shared/data``); tests that need it skip with the reason when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path:
    """Where the real data lives: $WORKBENCH_SHARED_DATA or ../shared/data beside the repo."""
    return Path(os.environ.get("WORKBENCH_SHARED_DATA", REPO.parent / "shared" / "data"))


def require_shared(*parts: str) -> Path:
    """Return ``shared_data_root()/parts`` or skip the test, saying which folder is missing."""
    path = shared_data_root().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data folder {path} is absent (set WORKBENCH_SHARED_DATA to use it)")
    return path


@pytest.fixture(scope="session")
def shared_root() -> Path:
    """Where the real data would be (it may be absent: test ``.is_dir()`` or use the fixtures below)."""
    return shared_data_root()


@pytest.fixture(scope="session")
def caffe256() -> Path:
    """The real CaFFe-derived set (413 images of JAC, DBE, SI at 256×256)."""
    return require_shared("caffe256")


@pytest.fixture(scope="session")
def sentinel1_rome() -> Path:
    """The real Sentinel-1 GRD product (SAFE) over Rome with its 30 m DEM."""
    return require_shared("sentinel1-grd-rome")


@pytest.fixture(scope="session")
def harald_moltke() -> Path:
    """The real Harald Moltke Bræ front series with its box and basemap."""
    return require_shared("harald-moltke-brae")


@pytest.fixture(scope="session")
def everest() -> Path:
    """The real Landsat 7 scene with RGI 6.0 outlines around Mount Everest."""
    return require_shared("everest-landsat")


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device; none is available on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
