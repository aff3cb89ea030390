"""Every public geo function is exported and has a runnable example (run by tests/test_doctests.py)."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "workbench.geo",
    "workbench.geo.crs",
    "workbench.geo.rasters",
    "workbench.geo.vectors",
    "workbench.geo.retreat",
]


@pytest.mark.parametrize("name", MODULES)
def test_public_api_is_exported_and_documented(name):
    module = importlib.import_module(name)
    for attr in module.__all__:
        obj = getattr(module, attr)
        if callable(obj) and not isinstance(obj, type | dict):
            assert (
                obj.__doc__ and "Examples" in obj.__doc__ or attr in {"BoxFrame", "AnnualCycle"}
            ), f"{name}.{attr} has no example"
