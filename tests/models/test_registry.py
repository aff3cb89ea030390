"""The registry, presets, parameter counts at the published configurations, and docstrings."""

from __future__ import annotations

import pytest
import torch

from workbench.errors import ConfigError
from workbench.models import (
    count_parameters,
    create_model,
    get_model_class,
    list_models,
    list_presets,
    parameter_rows,
    parameter_table,
)
from workbench.models.registry import PUBLISHED_PARAMETERS

ALL = ["caffe_unet", "convlstm_unet", "glavitu", "icemapper3d", "ssl4sar_hybrid", "swinv2"]


def test_every_model_is_registered_with_presets() -> None:
    assert list_models() == ALL
    for name in ALL:
        assert list_presets(name)[:1] == ["published"] and "small" in list_presets(name)
        assert get_model_class(name).model_name == name


def test_create_model_overrides_and_remembers() -> None:
    model = create_model("icemapper3d", preset="small", temporal_pooling="attention")
    assert model.config["temporal_pooling"] == "attention"
    assert model.config["channels"] == [4, 8, 16]  # from the preset
    assert create_model("icemapper3d", preset=None).config["channels"] == [32, 64, 128]


def test_unknown_names_are_clear() -> None:
    with pytest.raises(ConfigError, match="'unet' is not a registered model"):
        create_model("unet")
    with pytest.raises(ConfigError, match="no preset 'huge'"):
        create_model("caffe_unet", preset="huge")
    with pytest.raises(ConfigError, match=r"does not take argument\(s\) \['depth'\]"):
        create_model("caffe_unet", depth=3)


@pytest.mark.parametrize("name", ALL)
def test_docstring_documents_the_model(name: str) -> None:
    doc = get_model_class(name).__doc__
    for section in (
        "**For**",
        "**Input**",
        "**Paper**",
        "**Parameters at the published",
        "Parameters\n    ----------",
    ):
        assert section in doc, f"{name} docstring lacks {section}"
    n = count_parameters(_meta(name))
    assert f"{n / 1e6:.2f} M" in doc, f"{name} docstring should state its count {n / 1e6:.2f} M"


def _meta(name: str, **kw) -> torch.nn.Module:
    with torch.device("meta"):
        return create_model(name, **kw)


@pytest.mark.parametrize("name", [n for n, (p, _) in PUBLISHED_PARAMETERS.items() if p])
def test_published_parameter_counts_within_5_percent(name: str) -> None:
    published, _ = PUBLISHED_PARAMETERS[name]
    n = count_parameters(_meta(name))
    assert abs(n - published) / published <= 0.05, f"{name}: {n:,} vs {published:,.0f}"


def test_parameter_counts_pinned() -> None:
    """Exact counts, so an accidental architecture change is noticed (update docs/models.md)."""
    counts = {r["model"]: r["params"] for r in parameter_rows(("published",))}
    assert counts == {
        "caffe_unet": 5_665_412,
        "convlstm_unet": 5_930_306,
        "glavitu": 10_110_980,
        "icemapper3d": 4_397_634,
        "ssl4sar_hybrid": 31_420_334,
        "swinv2": 27_575_082,
    }


def test_parameter_table_is_markdown() -> None:
    table = parameter_table()
    lines = table.splitlines()
    assert lines[0].startswith("| model | preset | parameters | published |")
    assert len(lines) == 2 + 2 * len(ALL)
    assert "| `icemapper3d` | published | 4.40 M (4,397,634) | 4.40 M | -0.1 % |" in table
