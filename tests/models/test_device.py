"""Device choice and autocast."""

from __future__ import annotations

import pytest
import torch

from workbench.device import autocast_context, mps_available, resolve_device
from workbench.errors import ConfigError


def test_auto_prefers_cuda_then_mps_then_cpu() -> None:
    expected = "cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected


def test_explicit_devices() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ConfigError, match="not a device"):
        resolve_device("gpu-please")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_unavailable_cuda_is_refused() -> None:
    with pytest.raises(ConfigError, match="CUDA"):
        resolve_device("cuda")


@pytest.mark.skipif(mps_available(), reason="MPS is available here")
def test_unavailable_mps_is_refused() -> None:
    with pytest.raises(ConfigError, match="MPS"):
        resolve_device("mps")


def test_autocast_is_a_no_op_on_cpu() -> None:
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with autocast_context("cpu"):
        assert (a @ b).dtype == torch.float32
    with autocast_context("cpu", enabled=False):
        assert (a @ b).dtype == torch.float32
