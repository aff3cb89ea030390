"""Every runnable example in every docstring of the package stays correct."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import matplotlib
import pytest

import workbench

matplotlib.use("Agg")

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(workbench.__path__, prefix="workbench.")
    if not info.name.split(".")[-1].startswith("__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(
        module,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        report=True,
        verbose=False,
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"


def test_modules_were_found():
    assert {"workbench.data.stack", "workbench.models.swinv2", "workbench.cli"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_public_names_exist(name):
    module = importlib.import_module(name)
    missing = [attr for attr in getattr(module, "__all__", []) if not hasattr(module, attr)]
    assert not missing, f"{name}.__all__ lists names it does not define: {missing}"
