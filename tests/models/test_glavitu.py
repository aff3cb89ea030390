"""GlaViTU: named sources, missing sources, region and coordinate encodings, deep supervision."""

from __future__ import annotations

import pytest
import torch

from workbench.errors import ConfigError
from workbench.models import ModelInputError, create_model
from workbench.models.glavitu import coordinate_features

SOURCES = {"optical": 6, "dem": 2, "sar": 4, "coherence": 1}


def inputs(b: int = 2, h: int = 32, w: int = 32, drop: tuple[str, ...] = (), seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(b, c, h, w, generator=g) for k, c in SOURCES.items() if k not in drop}


def small(**kw):
    return create_model("glavitu", preset="small", **kw)


def test_missing_optional_source_uses_learned_vector() -> None:
    model = small().eval()
    with torch.no_grad():
        full = model(inputs()).logits
        absent = model(inputs(drop=("sar",))).logits
        none = model({**inputs(drop=("sar",)), "sar": None}).logits
    assert absent.shape == full.shape
    assert torch.equal(absent, none)
    assert not torch.allclose(absent, full)
    with torch.no_grad():
        model.missing["sar"].fill_(0.5)
        assert not torch.allclose(model(inputs(drop=("sar",))).logits, absent)


def test_missing_vectors_learn() -> None:
    model = small().train()
    out = model(inputs(drop=("sar", "coherence")))
    (out.logits.square().mean() + out.aux.square().mean()).backward()
    for name in ("sar", "coherence"):
        assert model.missing[name].grad is not None and model.missing[name].grad.abs().sum() > 0
        assert all(p.grad is None for p in model.branches[name].parameters())


def test_missing_required_source_is_named() -> None:
    with pytest.raises(ModelInputError, match="'dem' is missing and not optional"):
        small()(inputs(drop=("dem",)))


def test_unknown_source_and_wrong_channels_are_named() -> None:
    with pytest.raises(ModelInputError, match=r"unknown source\(s\) \['thermal'\]"):
        small()({**inputs(), "thermal": torch.zeros(2, 1, 32, 32)})
    with pytest.raises(ModelInputError, match="'optical' has shape"):
        small()({**inputs(), "optical": torch.zeros(2, 3, 32, 32)})
    with pytest.raises(ModelInputError, match="different batch or spatial sizes"):
        small()({**inputs(), "dem": torch.zeros(2, 2, 32, 16)})


def test_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="optional_sources"):
        small(optional_sources=["thermal"])
    with pytest.raises(ConfigError, match="sources"):
        small(sources={})


def test_custom_sources() -> None:
    model = small(sources={"optical": 3, "thermal": 1}, optional_sources=["thermal"]).eval()
    out = model({"optical": torch.randn(1, 3, 40, 24)})
    assert out.logits.shape == (1, 2, 40, 24)


def test_deep_supervision_only_in_training() -> None:
    model = small()
    assert model.aux_loss_weight == 0.5
    assert model.train()(inputs()).aux.shape == (2, 2, 32, 32)
    assert model.eval()(inputs()).aux is None
    assert small(deep_supervision=False).train()(inputs()).aux is None


def test_region_encoding() -> None:
    model = small(num_regions=4).eval()
    x = inputs()
    with torch.no_grad():
        by_id = model(x, region=torch.tensor([0, 2])).logits
        by_onehot = model(x, region=torch.eye(5)[[0, 2]]).logits
        unknown = model(x).logits
        unknown_ids = model(x, region=torch.tensor([-1, 4])).logits
        other = model(x, region=torch.tensor([1, 3])).logits
    torch.testing.assert_close(by_id, by_onehot)
    torch.testing.assert_close(unknown, unknown_ids)
    assert not torch.allclose(by_id, other)
    with pytest.raises(ModelInputError, match="region"):
        model(x, region=torch.tensor([0, 5]))


def test_encodings_given_to_a_model_without_them_are_refused() -> None:
    with pytest.raises(ModelInputError, match="region"):
        small()(inputs(), region=torch.tensor([0, 1]))
    with pytest.raises(ModelInputError, match="coords"):
        small()(inputs(), coords=torch.zeros(2, 2))


def test_region_dropout_in_training() -> None:
    model = small(num_regions=4, region_dropout=1.0)
    vec = model.train()._region_vector(torch.tensor([0, 1]), 2, torch.device("cpu"))
    assert vec.argmax(1).tolist() == [4, 4]  # all replaced by "unknown"
    vec = model.eval()._region_vector(torch.tensor([0, 1]), 2, torch.device("cpu"))
    assert vec.argmax(1).tolist() == [0, 1]


def test_coordinate_encoding() -> None:
    model = small(coord_encoding=True).eval()
    x = inputs()
    with torch.no_grad():
        a = model(x, coords=torch.tensor([[78.0, 15.0], [78.0, 15.0]])).logits
        b = model(x, coords=torch.tensor([[-45.0, 170.0], [-45.0, 170.0]])).logits
    assert not torch.allclose(a, b)
    with pytest.raises(ModelInputError, match="coords"):
        model(x)
    # longitude wraps: -180 and 180 encode the same place
    torch.testing.assert_close(
        coordinate_features(torch.tensor([[10.0, -180.0]])),
        coordinate_features(torch.tensor([[10.0, 180.0]])),
    )


def test_positions_interpolate_for_other_sizes() -> None:
    model = small().eval()  # positions learned for 32 px (a 4 × 4 grid of 8 px patches)
    assert model.vit.pos_embed.shape[1] == 16
    out = model(inputs(h=64, w=48))
    assert out.logits.shape == (2, 2, 64, 48)
    assert model.vit.positions(8, 6).shape == (1, 48, model.vit.pos_embed.shape[-1])
