"""The runnable examples in the geo docstrings stay correct; the public API is exported."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["workbench.geo", "workbench.geo.crs", "workbench.geo.rasters", "workbench.geo.vectors",
           "workbench.geo.retreat"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0


@pytest.mark.parametrize("name", MODULES)
def test_public_api_is_exported_and_documented(name):
    module = importlib.import_module(name)
    for attr in module.__all__:
        obj = getattr(module, attr)
        if callable(obj) and not isinstance(obj, type | dict):
            assert obj.__doc__ and "Examples" in obj.__doc__ or attr in {
                "BoxFrame", "AnnualCycle"}, f"{name}.{attr} has no example"
