"""Every architecture runs the shared :class:`ModelTester` suite (tiny configurations)."""

from __future__ import annotations

from typing import Any

import torch
from _model_tester import ModelTester


class TestSwinV2(ModelTester):
    name = "swinv2"

    def check_output(self, out: Any, batch: int, h: int, w: int, model: torch.nn.Module) -> None:
        assert isinstance(out, list) and len(out) == len(model.config["depths"])
        for i, f in enumerate(out):
            stride = model.strides[i]
            assert f.shape == (batch, model.out_channels[i], -(-h // stride), -(-w // stride))


class TestSSL4SARHybrid(ModelTester):
    name = "ssl4sar_hybrid"
    size = (64, 64)
    kwargs = {"front_head": True, "target_size": 32}
    compile_test = True

    def check_output(self, out: Any, batch: int, h: int, w: int, model: torch.nn.Module) -> None:
        super().check_output(out, batch, h, w, model)
        assert out.front.shape == (batch, 1, h, w)
        assert out.target.shape == (batch, 4, 32, 32)
        assert out.target_front.shape == (batch, 1, 32, 32)


class TestCaFFeUNet(ModelTester):
    name = "caffe_unet"
    kwargs = {"front_head": True}
    compile_test = True


class _TimeSeriesTester(ModelTester):
    frames = 3

    def make_inputs(self, batch: int, h: int, w: int, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        return (torch.randn(batch, self.frames, 2, h, w, generator=g),), {}


class TestIceMapper3D(_TimeSeriesTester):
    name = "icemapper3d"
    frames = 5


class TestIceMapper3DAttention(_TimeSeriesTester):
    name = "icemapper3d"
    kwargs = {"temporal_pooling": "attention"}
    # 15 → 8 → 4 → 2: every attention pooling sees ≥ 2 steps (with 1 it has no gradient)
    frames = 15


class TestConvLSTMUNet(_TimeSeriesTester):
    name = "convlstm_unet"


class TestGlaViTU(ModelTester):
    name = "glavitu"
    # regions and coordinates on, so their encoders are covered too
    kwargs = {"num_regions": 3, "coord_encoding": True}
    # all four sources are given here, so the learned "missing" vectors of the optional
    # sources are unused; test_glavitu.py checks they learn when a source is missing
    expect_no_grad = ("missing.",)

    def make_inputs(self, batch: int, h: int, w: int, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        sources = {
            name: torch.randn(batch, c, h, w, generator=g)
            for name, c in {"optical": 6, "dem": 2, "sar": 4, "coherence": 1}.items()
        }
        region = torch.arange(batch) % 4 - 1  # includes -1 = unknown
        coords = torch.stack([torch.linspace(-60, 80, batch), torch.linspace(-170, 170, batch)], 1)
        return (sources,), {"region": region, "coords": coords}

    def check_output(self, out: Any, batch: int, h: int, w: int, model: torch.nn.Module) -> None:
        super().check_output(out, batch, h, w, model)
        assert (out.aux is not None) == model.training
        if out.aux is not None:
            assert out.aux.shape == out.logits.shape
