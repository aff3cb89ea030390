r"""Forward and training-step time per sample for every model in the zoo (Markdown table).

Runs on the current device (``--device auto``: CUDA, then MPS, then CPU). For ``swinv2`` it
also times ``transformers``' Swinv2Model with the same configuration and weights in the same
run and prints the ratio ours / transformers (goal: ≤ 1).

Times are the fastest of ``--reps`` runs after a warm-up (the least disturbed on a shared
machine). The default run (small presets at 64 px, published presets at 128 px, batch 1,
3 repetitions) takes about two minutes on 2 CPU cores. The figures in docs/models.md come
from::

    python benchmarks/models.py --models swinv2 ssl4sar_hybrid caffe_unet glavitu icemapper3d \
        --presets published --px 256 --batch 1 --reps 5
    python benchmarks/models.py --models convlstm_unet --presets published --px 256 --reps 2

Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.device import autocast_context, resolve_device
from workbench.models import (
    convert_hf_swinv2_state_dict,
    count_parameters,
    create_model,
    list_models,
)

SOURCES = {"optical": 6, "dem": 2, "sar": 4, "coherence": 1}


def make_inputs(
    name: str, batch: int, px: int, frames: int, device: torch.device
) -> tuple[tuple[Any, ...], str]:
    """Inputs for ``name`` and a short description of them."""
    if name in ("icemapper3d", "convlstm_unet"):
        return (torch.randn(batch, frames, 2, px, px, device=device),), f"{frames}×2×{px}²"
    if name == "glavitu":
        return (
            {k: torch.randn(batch, c, px, px, device=device) for k, c in SOURCES.items()},
        ), f"13×{px}² (4 sources)"
    return (torch.randn(batch, 1, px, px, device=device),), f"1×{px}²"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def time_call(fn, reps: int, device: torch.device) -> float:
    """Fastest of ``reps`` runs of ``fn()`` (seconds), after one warm-up run.

    The minimum, not the mean: on a shared machine it is the run least disturbed by others.
    """
    fn()
    _sync(device)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return min(times)


def _loss(out: Any) -> torch.Tensor:
    tensors = out if isinstance(out, list) else list(out.tensors().values())
    return sum(t.float().square().mean() for t in tensors)


def bench_model(
    model: torch.nn.Module,
    args: tuple[Any, ...],
    reps: int,
    device: torch.device,
    amp: bool,
    train: bool,
) -> tuple[float, float | None]:
    model.eval()

    def forward() -> None:
        with torch.no_grad(), autocast_context(device, enabled=amp):
            model(*args)

    fwd = time_call(forward, reps, device)
    if not train:
        return fwd, None
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

    def step() -> None:
        with autocast_context(device, enabled=amp):
            loss = _loss(model(*args))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return fwd, time_call(step, reps, device)


def hf_ratio(
    model: torch.nn.Module, x: torch.Tensor, reps: int, device: torch.device, amp: bool
) -> str:
    """Forward time of our Swin V2 / transformers' Swinv2Model (same config and weights)."""
    try:
        import transformers
    except ImportError:
        return "transformers not installed"
    c = model.config
    cfg = transformers.Swinv2Config(
        image_size=c["img_size"] or x.shape[-1],
        patch_size=c["patch_size"],
        num_channels=c["in_chans"],
        embed_dim=c["embed_dim"],
        depths=c["depths"],
        num_heads=c["num_heads"],
        window_size=c["window_size"],
        mlp_ratio=c["mlp_ratio"],
        qkv_bias=c["qkv_bias"],
        drop_path_rate=0.0,
        pretrained_window_sizes=c["pretrained_window_sizes"] or [0] * len(c["depths"]),
    )
    hf = transformers.Swinv2Model(cfg, add_pooling_layer=False).to(device).eval()
    model.load_state_dict(convert_hf_swinv2_state_dict(hf.state_dict()))
    model.eval()

    def ours() -> None:
        with torch.no_grad(), autocast_context(device, enabled=amp):
            model(x)

    def theirs() -> None:
        with torch.no_grad(), autocast_context(device, enabled=amp):
            hf(x)

    # interleave to share the machine's noise fairly
    t_ours, t_hf = [], []
    for _ in range(max(1, reps)):
        t_ours.append(time_call(ours, 1, device))
        t_hf.append(time_call(theirs, 1, device))
    a, b = min(t_ours), min(t_hf)
    return f"ours / transformers forward = {a / b:.2f} ({1e3 * a:.0f} vs {1e3 * b:.0f} ms)"


def _per_sample(seconds: float | None, batch: int) -> str:
    return f"{1e3 * seconds / batch:.1f}" if seconds is not None else "—"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list_models(), choices=list_models())
    parser.add_argument("--presets", nargs="+", default=["small", "published"])
    parser.add_argument(
        "--px", type=int, default=None, help="input size (default: 64 for small, 128 for published)"
    )
    parser.add_argument("--frames", type=int, default=15, help="acquisitions for time series")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast (GPU only)")
    parser.add_argument("--no-train", action="store_true", help="time the forward pass only")
    parser.add_argument("--no-hf", action="store_true", help="skip the transformers comparison")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    opts = parser.parse_args(argv)

    device = resolve_device(opts.device)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    torch.manual_seed(0)
    name_dev = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{device.type}, {torch.get_num_threads()} threads"
    )
    print(
        f"# models benchmark on {name_dev}; torch {torch.__version__}; batch {opts.batch}; "
        f"fastest of {opts.reps} after 1 warm-up; amp={opts.amp and device.type != 'cpu'}\n"
    )
    print(
        "| model | preset | parameters | input | forward ms/sample | train step ms/sample | note |"
    )
    print("| --- | --- | ---: | --- | ---: | ---: | --- |")
    for name in opts.models:
        for preset in opts.presets:
            px = opts.px or (64 if preset == "small" else 128)
            model = create_model(name, preset=preset).to(device)
            args, desc = make_inputs(name, opts.batch, px, opts.frames, device)
            t0 = time.perf_counter()
            fwd, step = bench_model(model, args, opts.reps, device, opts.amp, not opts.no_train)
            note = ""
            if name == "swinv2" and not opts.no_hf:
                note = hf_ratio(model, args[0], opts.reps, device, opts.amp)
            print(
                f"| `{name}` | {preset} | {count_parameters(model) / 1e6:.2f} M | {desc} | "
                f"{_per_sample(fwd, opts.batch)} | {_per_sample(step, opts.batch)} | {note} |",
                flush=True,
            )
            print(f"<!-- {name}/{preset}: {time.perf_counter() - t0:.1f} s -->", file=sys.stderr)
            del model
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
