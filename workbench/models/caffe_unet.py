"""CaFFe baseline: a 5-level U-Net with an atrous spatial pyramid pooling bottleneck.

Examples
--------
>>> import torch
>>> from workbench.models import create_model
>>> model = create_model("caffe_unet", preset="small", front_head=True).eval()
>>> out = model(torch.zeros(1, 1, 50, 46))
>>> tuple(out.logits.shape), tuple(out.front.shape)
((1, 4, 50, 46), (1, 1, 50, 46))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from workbench.errors import ConfigError
from workbench.models.base import ModelInputError, SegmentationOutput, WorkbenchModel, zone_classes
from workbench.models.blocks import ASPP, ConvNormAct, crop_to, pad_to_multiple
from workbench.models.registry import register_model

__all__ = ["CaFFeUNet"]


class _DoubleConv(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, dropout: float) -> None:
        layers: list[nn.Module] = [
            ConvNormAct(in_channels, out_channels),
            ConvNormAct(out_channels, out_channels),
        ]
        if dropout:
            layers.append(nn.Dropout2d(dropout))
        super().__init__(*layers)


@register_model(
    "caffe_unet",
    presets={
        "published": {},
        "small": dict(channels=[4, 8, 16, 32, 64]),
    },
)
class CaFFeUNet(WorkbenchModel):
    """The CaFFe benchmark's baseline U-Net (5 levels, ASPP bottleneck), zones + optional front.

    **For**: the reference baseline of calving-front extraction on CaFFe (published MDE
    753 ± 76 m); a cheap model for CPU demos.

    **Input** ``B × in_chans × H × W``, any size (zero-padded to a multiple of 16 and cropped
    back). **Output** :class:`~workbench.models.SegmentationOutput` with ``logits``
    ``B × 4 × H × W`` and, with ``front_head=True``, ``front`` ``B × 1 × H × W``.

    **Paper**: Gourmelon et al. 2022, "Calving fronts and where to find them" (ESSD), CaFFe
    baseline (docs/science.md §1.6): U-Net with an ASPP bottleneck at dilations 1, 2, 4, 8.

    **Parameters at the published configuration**: 5.67 M (channels 32–512). The paper gives
    no count; the widths (32, 64, 128, 256, 512), LeakyReLU, transposed-convolution
    up-sampling and the ASPP branch widths (``channels[-1] / 4`` each) are our choices — not
    confirmed from the paper.

    Architecture: four encoder levels of two 3×3 conv-BN-LeakyReLU with 2×2 max-pooling
    between them; the fifth level is the ASPP bottleneck (four parallel 3×3 convs at
    dilations 1, 2, 4, 8 on the 1/16 features, concatenated and fused by a 1×1 conv); four
    decoder levels of a 2×2 transposed convolution, concatenation with the skip and two
    convs; 1×1 heads.

    Parameters
    ----------
    in_chans, num_classes
        Input channels, zone classes.
    channels
        Widths of the five levels (the last is the ASPP bottleneck's).
    aspp_dilations
        Dilations of the ASPP branches.
    front_head
        Add a 1-channel front head.
    dropout
        Spatial dropout after each decoder level (0 disables).
    """

    def __init__(
        self,
        in_chans: int = 1,
        num_classes: int = 4,
        channels: Sequence[int] = (32, 64, 128, 256, 512),
        aspp_dilations: Sequence[int] = (1, 2, 4, 8),
        front_head: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        ch = list(channels)
        if len(ch) < 2:
            raise ConfigError(f"has {len(ch)} levels", variable="channels", expected="≥ 2 levels")
        self.stride = 2 ** (len(ch) - 1)
        enc, c = [], in_chans
        for width in ch[:-1]:
            enc.append(_DoubleConv(c, width, 0.0))
            c = width
        self.encoder = nn.ModuleList(enc)
        self.bottleneck = ASPP(ch[-2], ch[-1], aspp_dilations)
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2) for i in reversed(range(len(ch) - 1))
        )
        self.decoder = nn.ModuleList(
            _DoubleConv(2 * ch[i], ch[i], dropout) for i in reversed(range(len(ch) - 1))
        )
        self.zones_head = nn.Conv2d(ch[0], num_classes, 1)
        self.front_head = nn.Conv2d(ch[0], 1, 1) if front_head else None

    def default_classes(self) -> dict | None:
        return zone_classes(self.config["num_classes"])

    def forward(self, x: torch.Tensor) -> SegmentationOutput:
        if x.ndim != 4:
            raise ModelInputError(
                f"has shape {tuple(x.shape)}", variable="input", expected="B × C × H × W"
            )
        x, size = pad_to_multiple(x, self.stride)
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, block, skip in zip(self.up, self.decoder, reversed(skips), strict=False):
            x = block(torch.cat([skip, up(x)], dim=1))
        x = crop_to(x, size)
        front = self.front_head(x) if self.front_head is not None else None
        return SegmentationOutput(self.zones_head(x), front=front)
