"""Choosing the compute device and the mixed-precision context.

``"auto"`` picks CUDA, then Apple MPS, then the CPU. Autocast (bfloat16 by default) is used
only on a GPU; on the CPU :func:`autocast_context` is a no-op, so code can use it everywhere.

Examples
--------
>>> import torch
>>> resolve_device("cpu")
device(type='cpu')
>>> with autocast_context("cpu"):
...     (torch.ones(2) * 2).dtype
torch.float32
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from workbench.errors import ConfigError

__all__ = ["resolve_device", "autocast_context", "mps_available"]


def mps_available() -> bool:
    """Whether an Apple-silicon GPU (MPS) can be used by this torch build."""
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a device into a device.

    ``"auto"`` (or ``None``) picks CUDA if available, then MPS, then the CPU. Asking for a
    device that is not available raises :class:`~workbench.errors.ConfigError` rather than
    failing later inside torch.
    """
    if device is None or (isinstance(device, str) and device.lower() == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(
            f"is not a device ({exc})",
            variable="device",
            expected="'auto', 'cpu', 'cuda', 'cuda:N', 'mps' or a torch.device",
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                "asks for CUDA, which is not available here",
                variable="device",
                expected="'auto' or 'cpu' on this machine",
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(
                f"asks for GPU {dev.index}; this machine has {torch.cuda.device_count()}",
                variable="device",
            )
    elif dev.type == "mps" and not mps_available():
        raise ConfigError(
            "asks for MPS, which is not available here",
            variable="device",
            expected="'auto' or 'cpu' on this machine",
        )
    return dev


@contextlib.contextmanager
def autocast_context(
    device: str | torch.device | None = "auto",
    enabled: bool = True,
    dtype: torch.dtype = torch.bfloat16,
) -> Iterator[None]:
    """Mixed-precision autocast on a GPU (CUDA or MPS), a no-op on the CPU.

    Parameters
    ----------
    device
        The device the computation runs on (as for :func:`resolve_device`).
    enabled
        ``False`` gives a no-op everywhere (full precision).
    dtype
        The autocast dtype, bfloat16 by default (no loss scaling needed). On a CUDA GPU
        without bfloat16 support, float16 is used instead.
    """
    dev = resolve_device(device)
    if not enabled or dev.type not in ("cuda", "mps"):
        yield
        return
    if dev.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        dtype = torch.float16
    with torch.autocast(device_type=dev.type, dtype=dtype):
        yield
