"""The examples in the training modules' docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["workbench.training", "workbench.training.losses", "workbench.training.optim",
           "workbench.training.augment", "workbench.training.config",
           "workbench.training.datamodules", "workbench.training.tasks",
           "workbench.training.fit", "workbench.training.callbacks"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"
