"""Building blocks shared by the CNN parts of the zoo (2D and 3D).

- :class:`ConvNormAct`: convolution → batch norm → LeakyReLU (2D or 3D).
- :class:`ResBlock`: two ``ConvNormAct`` plus a residual 1×1(×1) projection (identity when the
  channel count does not change) — the block of the ResU-Nets, the 3D-conv model and the
  SSL4SAR decoder.
- :class:`UpBlock`: upsample to the skip's size, concatenate ``[skip, upsampled]``, ResBlock.
- :class:`ResUNetDecoder`: a stack of ``UpBlock`` from the deepest features to the shallowest.
- :class:`SqueezeExcitation`, :class:`ASPP`.
- :func:`pad_to_multiple` / :func:`crop_to`: how every U-Net here accepts any input size.

Examples
--------
>>> import torch
>>> block = ResBlock(3, 8)
>>> tuple(block(torch.zeros(2, 3, 16, 16)).shape)
(2, 8, 16, 16)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "NEGATIVE_SLOPE",
    "ConvNormAct",
    "ResBlock",
    "UpBlock",
    "ResUNetDecoder",
    "SqueezeExcitation",
    "ASPP",
    "pad_to_multiple",
    "crop_to",
    "center_crop",
]

NEGATIVE_SLOPE = 0.01
"""LeakyReLU slope used by every CNN block here (PyTorch's default)."""


def _conv(dims: int) -> type[nn.Module]:
    return {2: nn.Conv2d, 3: nn.Conv3d}[dims]


def _norm(dims: int) -> type[nn.Module]:
    return {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims]


class ConvNormAct(nn.Sequential):
    """Convolution (no bias) → BatchNorm → LeakyReLU, "same" padding.

    Parameters
    ----------
    in_channels, out_channels
        Channel counts.
    kernel_size
        Int or tuple; padding keeps the size (odd kernels only).
    dilation
        Dilation (2D/3D int or tuple).
    dims
        2 for images, 3 for ``B × C × T × H × W`` stacks.
    act
        Apply the LeakyReLU (False gives conv → BN only).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...] = 3,
        *,
        dilation: int | tuple[int, ...] = 1,
        dims: int = 2,
        act: bool = True,
    ) -> None:
        ks = (kernel_size,) * dims if isinstance(kernel_size, int) else tuple(kernel_size)
        dl = (dilation,) * dims if isinstance(dilation, int) else tuple(dilation)
        padding = tuple(d * (k - 1) // 2 for k, d in zip(ks, dl, strict=False))
        layers: list[nn.Module] = [
            _conv(dims)(in_channels, out_channels, ks, padding=padding, dilation=dl, bias=False),
            _norm(dims)(out_channels),
        ]
        if act:
            layers.append(nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Residual block: ``act(bn(conv(act(bn(conv(x)))))) + proj(x)``.

    ``proj`` is a 1×1 (1×1×1 in 3D) convolution without bias when the channel count changes,
    else the identity.

    Parameters
    ----------
    in_channels, out_channels
        Channel counts.
    dims
        2 or 3.
    kernel_size
        Kernel of both convolutions (3 → 3×3 or 3×3×3).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        dims: int = 2,
        kernel_size: int | tuple[int, ...] = 3,
    ) -> None:
        super().__init__()
        self.conv1 = ConvNormAct(in_channels, out_channels, kernel_size, dims=dims)
        self.conv2 = ConvNormAct(out_channels, out_channels, kernel_size, dims=dims)
        self.proj = (
            nn.Identity()
            if in_channels == out_channels
            else _conv(dims)(in_channels, out_channels, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x)) + self.proj(x)


class UpBlock(nn.Module):
    """Decoder step: bilinear upsampling to the skip's size, ``cat([skip, up])``, ResBlock.

    Parameters
    ----------
    in_channels
        Channels of the deeper (coarser) input.
    skip_channels
        Channels of the skip connection (0: no skip, upsample ×2 unless ``size`` is given).
    out_channels
        Output channels.
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.block = ResBlock(in_channels + skip_channels, out_channels)

    def forward(
        self, x: torch.Tensor, skip: torch.Tensor | None = None, size: tuple[int, int] | None = None
    ) -> torch.Tensor:
        if size is None:
            if skip is not None:
                size = (int(skip.shape[-2]), int(skip.shape[-1]))
            else:
                size = (2 * x.shape[-2], 2 * x.shape[-1])
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        if skip is not None:
            x = torch.cat([skip, x], dim=1)
        return self.block(x)


class ResUNetDecoder(nn.Module):
    """A residual U-Net decoder: one :class:`UpBlock` per skip, deepest first.

    Parameters
    ----------
    in_channels
        Channels of the bottleneck features.
    skip_channels
        Channels of the skips, shallowest (full resolution) first.
    out_channels
        Output channels of each step, shallowest first (same length as ``skip_channels``);
        the decoder's output has ``out_channels[0]`` channels at the shallowest skip's size.
    """

    def __init__(
        self, in_channels: int, skip_channels: Sequence[int], out_channels: Sequence[int]
    ) -> None:
        super().__init__()
        if len(skip_channels) != len(out_channels):
            raise ValueError("skip_channels and out_channels must have the same length")
        steps = []
        c = in_channels
        for skip, out in zip(reversed(skip_channels), reversed(out_channels), strict=False):
            steps.append(UpBlock(c, skip, out))
            c = out
        self.steps = nn.ModuleList(steps)
        self.out_channels = out_channels[0]

    def forward(self, x: torch.Tensor, skips: Sequence[torch.Tensor]) -> torch.Tensor:
        for step, skip in zip(self.steps, reversed(skips), strict=False):
            x = step(x, skip)
        return x


class SqueezeExcitation(nn.Module):
    """Channel gate: global average pool → FC → LeakyReLU → FC → sigmoid, times the input."""

    def __init__(self, channels: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or channels
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = F.adaptive_avg_pool2d(x, 1)
        g = torch.sigmoid(self.fc2(F.leaky_relu(self.fc1(g), NEGATIVE_SLOPE)))
        return x * g


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: parallel 3×3 convolutions at several dilations.

    Each branch is ``ConvNormAct(in, out // len(dilations), 3, dilation=d)``; the branches are
    concatenated and fused by a 1×1 ``ConvNormAct`` to ``out_channels``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, dilations: Sequence[int] = (1, 2, 4, 8)
    ) -> None:
        super().__init__()
        branch = out_channels // len(dilations)
        self.branches = nn.ModuleList(
            ConvNormAct(in_channels, branch, 3, dilation=d) for d in dilations
        )
        self.project = ConvNormAct(branch * len(dilations), out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([b(x) for b in self.branches], dim=1))


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Zero-pad the last two dims (bottom/right) up to a multiple; return the original size.

    Zero is the mean of normalised inputs, so the padding is neutral for them. Use
    :func:`crop_to` on the output to undo it.

    Examples
    --------
    >>> y, size = pad_to_multiple(torch.ones(1, 1, 50, 46), 16)
    >>> tuple(y.shape), size
    ((1, 1, 64, 48), (50, 46))
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph))
    return x, (h, w)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Keep the top-left ``size`` of the last two dims (undoes :func:`pad_to_multiple`)."""
    h, w = size
    if x.shape[-2] == h and x.shape[-1] == w:
        return x
    return x[..., :h, :w]


def center_crop(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Crop the centre ``size`` of the last two dims (offset ``(H - h) // 2``)."""
    h, w = (size, size) if isinstance(size, int) else size
    top = (x.shape[-2] - h) // 2
    left = (x.shape[-1] - w) // 2
    return x[..., top : top + h, left : left + w]
