"""The runnable examples in the evaluation docstrings stay correct."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["workbench.evaluation", "workbench.evaluation.fronts",
           "workbench.evaluation.segmentation", "workbench.evaluation.calibration",
           "workbench.evaluation.ensembles", "workbench.evaluation.report"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert name == "workbench.evaluation" or result.attempted > 0


def test_public_api_is_exported():
    ev = importlib.import_module("workbench.evaluation")
    for name in ev.__all__:
        assert hasattr(ev, name), name
