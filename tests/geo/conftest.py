"""Shared fixtures of the geo tests: one small synthetic glacier, the Harald Moltke series."""

from __future__ import annotations

from pathlib import Path

import pytest
from _geo_helpers import HM_UPSTREAM_XY, PX


@pytest.fixture(scope="session")
def glacier():
    """A small synthetic tidewater glacier with exact ground truth."""
    from workbench.data.synthetic import simulate_glacier

    return simulate_glacier(seed=0, years=0.2, size=(128, 128), pixel_size=PX)


@pytest.fixture(scope="session")
def hm_box(harald_moltke) -> Path:
    return harald_moltke / "box" / "harald_moltke_brae.shp"


@pytest.fixture(scope="session")
def hm_fronts(harald_moltke):
    from workbench.geo.retreat import read_front_lines

    return read_front_lines(harald_moltke / "lines")


@pytest.fixture(scope="session")
def hm_retreat(hm_fronts, hm_box):
    from workbench.geo.retreat import retreat_box

    return retreat_box(hm_fronts, hm_box, upstream=HM_UPSTREAM_XY)
