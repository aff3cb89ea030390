"""docs/models.md shows the current parameter table (docstring examples: tests/test_doctests.py)."""

from __future__ import annotations

from pathlib import Path

from workbench.models import parameter_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "models.md"


def test_docs_parameter_table_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("<!-- parameter-table:start -->\n") + len("<!-- parameter-table:start -->\n")
    end = text.index("<!-- parameter-table:end -->")
    assert text[start:end].strip() == parameter_table().strip(), (
        "regenerate with workbench.models.parameter_table()"
    )
