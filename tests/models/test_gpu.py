"""GPU checks: bf16 forward/backward for every model, and throughput figures (printed).

Marked ``gpu``; tests/conftest.py skips them where CUDA is absent. Run with ``-s`` to see
the figures.
"""

from __future__ import annotations

import time

import pytest
import torch

from workbench.device import autocast_context
from workbench.models import create_model

pytestmark = pytest.mark.gpu


def _inputs(name: str, b: int, size: int, frames: int = 3, device: str = "cuda"):
    if name in ("icemapper3d", "convlstm_unet"):
        return (torch.randn(b, frames, 2, size, size, device=device),), {}
    if name == "glavitu":
        return (
            {
                k: torch.randn(b, c, size, size, device=device)
                for k, c in {"optical": 6, "dem": 2, "sar": 4, "coherence": 1}.items()
            },
        ), {}
    return (torch.randn(b, 1, size, size, device=device),), {}


@pytest.mark.parametrize(
    "name", ["swinv2", "ssl4sar_hybrid", "caffe_unet", "icemapper3d", "convlstm_unet", "glavitu"]
)
@pytest.mark.parametrize("preset", ["small", "published"])
def test_bf16_forward_backward(name: str, preset: str) -> None:
    model = create_model(name, preset=preset).cuda().train()
    args, kwargs = _inputs(name, 2, 64)
    with autocast_context("cuda"):
        out = model(*args, **kwargs)
        tensors = out if isinstance(out, list) else list(out.tensors().values())
        loss = sum(t.float().square().mean() for t in tensors)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def _throughput(model, args, kwargs, batch: int, steps: int = 10) -> tuple[float, float]:
    model.eval()
    with torch.no_grad(), autocast_context("cuda"):
        for _ in range(3):
            model(*args, **kwargs)
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(steps):
            model(*args, **kwargs)
        torch.cuda.synchronize()
    infer = batch * steps / (time.perf_counter() - t)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    for i in range(steps + 3):
        if i == 3:
            torch.cuda.synchronize()
            t = time.perf_counter()
        with autocast_context("cuda"):
            out = model(*args, **kwargs)
            loss = out.logits.float().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    torch.cuda.synchronize()
    return infer, batch * steps / (time.perf_counter() - t)


def test_throughput_ssl4sar_hybrid_512() -> None:
    model = create_model("ssl4sar_hybrid", target_size=256).cuda()
    batch = 8
    args, kwargs = _inputs("ssl4sar_hybrid", batch, 512)
    infer, train = _throughput(model, args, kwargs, batch)
    print(
        f"\nssl4sar_hybrid 512 px bf16 on {torch.cuda.get_device_name()}: "
        f"{infer:.1f} images/s inference, {train:.1f} images/s training"
    )


def test_throughput_icemapper3d_15x384() -> None:
    model = create_model("icemapper3d").cuda()
    batch = 8
    args, kwargs = _inputs("icemapper3d", batch, 384, frames=15)
    infer, train = _throughput(model, args, kwargs, batch)
    print(
        f"\nicemapper3d 15×384² bf16 on {torch.cuda.get_device_name()}: "
        f"{infer:.1f} stacks/s inference, {train:.1f} stacks/s training"
    )


def test_inductor_compile_matches_eager() -> None:
    model = create_model("ssl4sar_hybrid", preset="small").cuda().eval()
    x = torch.randn(2, 1, 64, 64, device="cuda")
    compiled = torch.compile(model)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x).logits, model(x).logits, atol=1e-3, rtol=1e-3)
