"""SSL4SAR hybrid: target/context output, front head, sizes, configuration errors."""

from __future__ import annotations

import pytest
import torch

from workbench.errors import ConfigError
from workbench.models import ModelInputError, SSL4SARHybrid, create_model


def small(**kw) -> SSL4SARHybrid:
    return create_model("ssl4sar_hybrid", preset="small", **kw).eval()


def test_target_is_centre_crop_of_context() -> None:
    model = small(target_size=32, front_head=True)
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        out = model(x)
    assert out.logits.shape == (2, 4, 64, 64)
    assert torch.equal(out.target, out.logits[..., 16:48, 16:48])
    assert torch.equal(out.target_front, out.front[..., 16:48, 16:48])


def test_target_crop_of_odd_context() -> None:
    model = small(target_size=20)
    with torch.no_grad():
        out = model(torch.randn(1, 1, 51, 45))
    assert out.target.shape == (1, 4, 20, 20)
    assert torch.equal(out.target, out.logits[..., 15:35, 12:32])


def test_input_smaller_than_target_is_refused() -> None:
    with pytest.raises(ModelInputError, match="smaller than the target crop"):
        small(target_size=64)(torch.zeros(1, 1, 48, 64))


def test_plain_model_returns_logits_only() -> None:
    out = small()(torch.zeros(1, 1, 32, 32))
    assert out.front is None and out.target is None and out.aux is None
    assert set(out.tensors()) == {"logits"}


def test_wrong_rank_is_refused() -> None:
    with pytest.raises(ModelInputError, match="B × C × H × W"):
        small()(torch.zeros(1, 32, 32))


def test_decoder_channels_must_match_stages() -> None:
    with pytest.raises(ConfigError, match="decoder_channels"):
        create_model("ssl4sar_hybrid", preset="small", decoder_channels=[8, 8])


def test_published_configuration() -> None:
    with torch.device("meta"):
        model = create_model("ssl4sar_hybrid")
    cfg = model.config
    keys = [
        "patch_size",
        "embed_dim",
        "depths",
        "num_heads",
        "window_size",
        "mlp_ratio",
        "in_chans",
        "num_classes",
    ]
    assert tuple(cfg[k] for k in keys) == (4, 96, [2, 2, 6, 2], [3, 6, 12, 24], 16, 4.0, 1, 4)
    assert model.encoder.strides == [4, 8, 16, 32]
    # a 512 px context gives feature maps of 128, 64, 32, 16 px
    assert model.default_classes() == {
        "names": ["na", "rock", "glacier", "ocean"],
        "values": [0, 64, 127, 254],
    }
