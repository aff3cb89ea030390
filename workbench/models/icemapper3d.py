"""3D-convolution residual U-Net for glacier masks from Sentinel-1 time series.

Examples
--------
>>> import torch
>>> from workbench.models import create_model
>>> model = create_model("icemapper3d", preset="small").eval()
>>> out = model(torch.zeros(1, 15, 2, 32, 32))     # B × T × C × H × W
>>> tuple(out.logits.shape)
(1, 2, 32, 32)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from workbench.errors import ConfigError
from workbench.models.base import (
    ModelInputError,
    SegmentationOutput,
    WorkbenchModel,
    glacier_classes,
)
from workbench.models.blocks import ResBlock, ResUNetDecoder, crop_to, pad_to_multiple
from workbench.models.registry import register_model

__all__ = ["IceMapper3D", "TemporalPooling", "pool_time_space", "check_time_series"]


def check_time_series(x: torch.Tensor, in_features: int) -> None:
    """Raise :class:`ModelInputError` unless ``x`` is ``B × T × in_features × H × W``."""
    if x.ndim != 5 or x.shape[2] != in_features:
        raise ModelInputError(
            f"has shape {tuple(x.shape)}",
            variable="input",
            expected=f"B × T × {in_features} × H × W (T ≥ 1)",
        )


def pool_time_space(x: torch.Tensor) -> torch.Tensor:
    """2×2×2 max-pooling of ``B × C × T × H × W`` that accepts any ``T``.

    Odd ``T`` rounds up (ceil mode: 15 → 8 → 4 → 2); ``T == 1`` pools space only.
    """
    kt = 2 if x.shape[2] >= 2 else 1
    return F.max_pool3d(x, kernel_size=(kt, 2, 2), stride=(kt, 2, 2), ceil_mode=True)


class TemporalPooling(nn.Module):
    """Collapse the time axis of ``B × C × T × H × W`` to ``B × C × H × W``.

    ``mode="max"``: maximum over time. ``mode="attention"``: a 1×1×1 convolution scores each
    time step and pixel, softmax over time gives the weights, and the output is the weighted
    sum over time.
    """

    def __init__(self, channels: int, mode: str = "max") -> None:
        super().__init__()
        if mode not in ("max", "attention"):
            raise ConfigError(
                f"is {mode!r}", variable="temporal_pooling", expected="'max' or 'attention'"
            )
        self.mode = mode
        self.score = nn.Conv3d(channels, 1, 1) if mode == "attention" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.score is None:
            return x.amax(dim=2)
        weights = torch.softmax(self.score(x), dim=2)
        return (x * weights).sum(dim=2)


@register_model(
    "icemapper3d",
    presets={
        "published": {},
        "small": dict(channels=[4, 8, 16], bottleneck_channels=32),
    },
)
class IceMapper3D(WorkbenchModel):
    """Residual U-Net with a 3D-convolution encoder over (time, y, x) and a 2D decoder.

    **For**: one glacier mask (end of the ablation season) from a year of Sentinel-1
    acquisitions: co-polarised backscatter and interferometric coherence at 10 m.

    **Input** ``B × T × C × H × W`` (``C = in_features``, any ``T ≥ 1``, any ``H, W``: zero
    padded to a multiple of 8 and cropped back). **Output**
    :class:`~workbench.models.SegmentationOutput` with ``logits`` ``B × 2 × H × W`` (softmax
    is the caller's job).

    **Paper**: the Svalbard Sentinel-1 time-series glacier mapping study (IGARSS 2024,
    docs/science.md §2.2): encoder of 3×3×3 convolutions, 3 levels of 32/64/128 filters + 256
    bottleneck, each block conv-BN-LeakyReLU twice with a residual 1×1×1 projection; 2×2×2
    max-pooling (time 15 → 8 → 4 → 2); skips collapse time (max or learned temporal attention);
    2D residual decoder; 2 classes.

    **Parameters at the published configuration**: 4.40 M (4,397,634) with 2 input features
    (published: about 4.4 M).

    Details that are ours: the bottleneck's time axis is collapsed with the same pooling as
    the skips; the decoder up-samples bilinearly, concatenates ``[skip, up]`` and applies a 2D
    residual block per level (128, 64, 32); ``T == 1`` pools space only.

    Parameters
    ----------
    in_features
        Features per acquisition (2: backscatter and coherence).
    num_classes
        Output classes (2: glacier / not glacier).
    channels
        Encoder widths per level.
    bottleneck_channels
        Width of the bottleneck.
    temporal_pooling
        ``"max"`` or ``"attention"`` (how skips and bottleneck collapse time).
    """

    def __init__(
        self,
        in_features: int = 2,
        num_classes: int = 2,
        channels: Sequence[int] = (32, 64, 128),
        bottleneck_channels: int = 256,
        temporal_pooling: str = "max",
    ) -> None:
        super().__init__()
        ch = list(channels)
        self.in_features = in_features
        self.stride = 2 ** len(ch)
        levels, c = [], in_features
        for width in ch:
            levels.append(ResBlock(c, width, dims=3))
            c = width
        self.encoder = nn.ModuleList(levels)
        self.bottleneck = ResBlock(c, bottleneck_channels, dims=3)
        self.skip_pools = nn.ModuleList(TemporalPooling(w, temporal_pooling) for w in ch)
        self.bottleneck_pool = TemporalPooling(bottleneck_channels, temporal_pooling)
        self.decoder = ResUNetDecoder(bottleneck_channels, ch, ch)
        self.head = nn.Conv2d(ch[0], num_classes, 1)

    def default_classes(self) -> dict | None:
        return glacier_classes(self.config["num_classes"])

    def forward(self, x: torch.Tensor) -> SegmentationOutput:
        check_time_series(x, self.in_features)
        b, t, c, h, w = x.shape
        x, size = pad_to_multiple(x.reshape(b, t * c, h, w), self.stride)
        x = x.view(b, t, c, *x.shape[-2:]).transpose(1, 2)  # B × C × T × H × W
        skips = []
        for block, pool in zip(self.encoder, self.skip_pools, strict=False):
            x = block(x)
            skips.append(pool(x))
            x = pool_time_space(x)
        x = self.bottleneck_pool(self.bottleneck(x))
        y = crop_to(self.decoder(x, skips), size)
        return SegmentationOutput(self.head(y))
