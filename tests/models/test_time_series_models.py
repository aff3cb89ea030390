"""3D-conv and ConvLSTM U-Nets: any number of acquisitions, temporal pooling, input checks."""

from __future__ import annotations

import pytest
import torch

from workbench.errors import ConfigError
from workbench.models import ModelInputError, create_model
from workbench.models.convlstm_unet import BiConvLSTM
from workbench.models.icemapper3d import TemporalPooling, pool_time_space

MODELS = ["icemapper3d", "convlstm_unet"]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("frames", [1, 2, 7, 15])
def test_any_number_of_acquisitions(name: str, frames: int) -> None:
    model = create_model(name, preset="small").eval()
    with torch.no_grad():
        out = model(torch.randn(1, frames, 2, 24, 40))
    assert out.logits.shape == (1, 2, 24, 40)
    assert torch.isfinite(out.logits).all()


def test_time_pooling_schedule() -> None:
    x = torch.zeros(1, 1, 15, 64, 64)
    sizes = []
    for _ in range(3):
        x = pool_time_space(x)
        sizes.append(tuple(x.shape[2:]))
    assert sizes == [(8, 32, 32), (4, 16, 16), (2, 8, 8)]
    assert pool_time_space(torch.zeros(1, 1, 1, 8, 8)).shape[2:] == (1, 4, 4)


def test_attention_pooling_is_a_convex_combination() -> None:
    pool = TemporalPooling(3, "attention")
    x = torch.randn(2, 3, 5, 4, 4)
    y = pool(x)
    assert y.shape == (2, 3, 4, 4)
    assert (y <= x.amax(2) + 1e-6).all() and (y >= x.amin(2) - 1e-6).all()
    # with constant input over time the result is that constant
    const = torch.randn(2, 3, 1, 4, 4).expand(2, 3, 5, 4, 4)
    torch.testing.assert_close(pool(const), const[:, :, 0])
    assert torch.equal(TemporalPooling(3, "max")(x), x.amax(2))
    with pytest.raises(ConfigError, match="temporal_pooling"):
        TemporalPooling(3, "mean")


def test_attention_variant_differs_from_max() -> None:
    torch.manual_seed(0)
    a = create_model("icemapper3d", preset="small", temporal_pooling="max").eval()
    torch.manual_seed(0)
    b = create_model("icemapper3d", preset="small", temporal_pooling="attention").eval()
    extra = set(b.state_dict()) - set(a.state_dict())
    assert extra and all(".score." in k for k in extra)
    x = torch.randn(1, 15, 2, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(a(x).logits, b(x).logits)


@pytest.mark.parametrize("name", MODELS)
def test_order_of_acquisitions_matters(name: str) -> None:
    model = create_model(
        name, preset="small", **({"temporal_pooling": "attention"} if name == "icemapper3d" else {})
    ).eval()
    x = torch.randn(1, 6, 2, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(model(x).logits, model(x.flip(1)).logits)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("shape", [(1, 2, 32, 32), (1, 3, 5, 32, 32)])
def test_bad_inputs_are_refused(name: str, shape: tuple[int, ...]) -> None:
    model = create_model(name, preset="small")
    with pytest.raises(ModelInputError, match="B × T × 2 × H × W"):
        model(torch.zeros(shape))


def test_bidirectional_convlstm_final_states() -> None:
    torch.manual_seed(0)
    lstm = BiConvLSTM(2, 8)
    x = torch.randn(1, 4, 2, 6, 6)
    seq, last = lstm(x)
    assert seq.shape == (1, 4, 8, 6, 6) and last.shape == (1, 8, 6, 6)
    # forward half: state after the last step; backward half: state after the first step
    torch.testing.assert_close(last[:, :4], seq[:, -1, :4])
    torch.testing.assert_close(last[:, 4:], seq[:, 0, 4:])
    # the backward direction's final state depends on the first frame only through the
    # whole sequence; changing the last frame changes the forward final state
    y = x.clone()
    y[:, -1] += 1
    _, last_y = lstm(y)
    assert not torch.allclose(last_y[:, :4], last[:, :4])


def test_published_icemapper3d_configuration() -> None:
    with torch.device("meta"):
        model = create_model("icemapper3d")
    assert model.config["channels"] == [32, 64, 128] and model.config["bottleneck_channels"] == 256
    convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv3d)]
    assert {tuple(c.kernel_size) for c in convs} == {(3, 3, 3), (1, 1, 1)}
