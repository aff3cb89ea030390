"""Tiny scenes, tiny models and checkpoints shared by the inference tests."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


def make_stack(
    height: int = 48,
    width: int = 40,
    dates=("2020-03-01", "2020-03-13"),
    pixel: float = 20.0,
    seed: int = 0,
    coherence: bool = False,
    values: np.ndarray | None = None,
) -> xr.Dataset:
    """A georeferenced (EPSG:32633) scene stack with smooth σ0 in dB (and coherence)."""
    rng = np.random.default_rng(seed)
    n = len(dates)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if values is None:
        base = -18 + 6 * np.sin(yy / 7.0) * np.cos(xx / 9.0)
        values = np.stack([base + rng.normal(0, 0.5, base.shape) for _ in range(n)])
    data = {"sigma0_db": (("time", "y", "x"), np.asarray(values, np.float32), {"units": "dB"})}
    if coherence:
        data["coherence"] = (
            ("time", "y", "x"),
            rng.uniform(0.2, 0.9, (n, height, width)).astype(np.float32),
        )
    ds = xr.Dataset(
        data,
        coords={
            "time": np.array(dates, "datetime64[ns]"),
            "y": 8.7e6 - pixel / 2 - pixel * np.arange(height),
            "x": 5.0e5 + pixel / 2 + pixel * np.arange(width),
        },
        attrs={"glacier": "testbreen"},
    )
    return ds.rio.write_crs("EPSG:32633")


class ConstantModel(nn.Module):
    """Logits that do not depend on the input: the blended probabilities must be constant."""

    def __init__(self, logits=(0.3, -1.0, 2.0)) -> None:
        super().__init__()
        self.register_buffer("logits", torch.tensor(logits, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
        return self.logits.view(1, -1, 1, 1).expand(b, -1, h, w).clone()


class PointwiseModel(nn.Module):
    """Per pixel: p(class 0) = v, p(class 1) = 1 − v for an input value v in (0, 1).

    Fed pixel indices encoded as values, its output is the pixel's own coordinate, so any
    misplaced window shows up in the blended result."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x[:, :1].clamp(1e-7, 1 - 1e-7)
        return torch.cat([torch.log(v), torch.log1p(-v)], dim=1)


class Recorder(nn.Module):
    """Wraps a model; records the shapes (and finiteness) of every input it sees."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.shapes: list[tuple[int, ...]] = []
        self.all_finite = True
        self.inputs: list[torch.Tensor] = []
        for attr in ("checkpoint_info", "config", "model_name"):
            if hasattr(inner, attr):
                object.__setattr__(self, attr, getattr(inner, attr))

    def forward(self, x):
        self.shapes.append(tuple(x.shape))
        self.all_finite &= bool(torch.isfinite(x).all())
        self.inputs.append(x.detach().clone())
        return self.inner(x)


@pytest.fixture(scope="session")
def unet_checkpoint(tmp_path_factory) -> Path:
    """caffe_unet (small, random weights) saved with save_checkpoint, CaFFe-like input."""
    from workbench.models import create_model, save_checkpoint

    torch.manual_seed(0)
    model = create_model("caffe_unet", preset="small")
    return save_checkpoint(
        model,
        tmp_path_factory.mktemp("ckpt") / "unet.pt",
        normalization={"mean": [0.5], "std": [0.25]},
    )


@pytest.fixture(scope="session")
def unet_checkpoint_2(tmp_path_factory) -> Path:
    from workbench.models import create_model, save_checkpoint

    torch.manual_seed(1)
    model = create_model("caffe_unet", preset="small")
    return save_checkpoint(
        model,
        tmp_path_factory.mktemp("ckpt2") / "unet2.pt",
        normalization={"mean": [0.5], "std": [0.25]},
    )


@pytest.fixture(scope="session")
def simulated_stack() -> xr.Dataset:
    """A simulated tidewater glacier: 64 × 64 px at 160 m, 4 dates."""
    from workbench.data.synthetic import simulate_glacier

    return simulate_glacier(seed=1, years=0.1, size=(64, 64), pixel_size=160.0).stack


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny models on a shared 2-core machine: one torch thread is fastest (restored after)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
