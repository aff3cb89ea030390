"""Docstring examples run, and docs/models.md shows the current parameter table."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

from workbench.models import parameter_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "models.md"
MODULES = ["workbench.models", "workbench.models.base", "workbench.models.blocks",
           "workbench.models.registry", "workbench.models.swinv2",
           "workbench.models.ssl4sar_hybrid", "workbench.models.caffe_unet",
           "workbench.models.icemapper3d", "workbench.models.convlstm_unet",
           "workbench.models.glavitu", "workbench.models.checkpoint", "workbench.device"]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS,
                             verbose=False)
    assert result.failed == 0


def test_docs_parameter_table_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("<!-- parameter-table:start -->\n") + len("<!-- parameter-table:start -->\n")
    end = text.index("<!-- parameter-table:end -->")
    assert text[start:end].strip() == parameter_table().strip(), \
        "regenerate with workbench.models.parameter_table()"
