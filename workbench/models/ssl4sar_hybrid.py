"""SSL4SAR hybrid: Swin Transformer V2 encoder + residual CNN decoder for calving-front zones.

Examples
--------
>>> import torch
>>> from workbench.models import create_model
>>> model = create_model("ssl4sar_hybrid", preset="small", target_size=32).eval()
>>> out = model(torch.zeros(1, 1, 64, 64))
>>> tuple(out.logits.shape), tuple(out.target.shape)
((1, 4, 64, 64), (1, 4, 32, 32))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from workbench.errors import ConfigError
from workbench.models.base import ModelInputError, SegmentationOutput, WorkbenchModel, zone_classes
from workbench.models.blocks import ResBlock, UpBlock, center_crop, crop_to, pad_to_multiple
from workbench.models.registry import register_model
from workbench.models.swinv2 import SwinV2Encoder

__all__ = ["SSL4SARHybrid"]


@register_model(
    "ssl4sar_hybrid",
    presets={
        "published": {},
        "small": dict(
            embed_dim=8,
            depths=[2, 2, 2],
            num_heads=[2, 2, 4],
            window_size=4,
            img_size=64,
            decoder_channels=[16, 8, 8],
            final_channels=8,
        ),
    },
)
class SSL4SARHybrid(WorkbenchModel):
    """SSL4SAR hybrid model: Swin V2 encoder → residual CNN decoder → 4 zone classes.

    **For**: CaFFe zone segmentation of SAR images (NA, rock, glacier, ocean + ice mélange),
    from which the calving front is extracted; optionally a direct front head.

    **Input** ``B × in_chans × H × W`` (one normalised SAR channel), any ``H, W``: the input
    is zero-padded to a multiple of the encoder's total stride (32 for the tiny encoder) and
    the outputs are cropped back. **Output** a
    :class:`~workbench.models.SegmentationOutput`: ``logits`` ``B × 4 × H × W``; with
    ``front_head=True`` also ``front`` ``B × 1 × H × W``; with ``target_size=t`` also
    ``target`` (and ``target_front``), the centre ``t × t`` crop of the context output.

    **Paper**: Gourmelon et al. 2025 (SSL4SAR), see docs/science.md §1.7. Encoder: Swin V2 tiny
    (patch 4, embed 96, depths [2, 2, 6, 2], heads [3, 6, 12, 24], window 16, MLP ratio 4,
    1 channel, 512 px context). Decoder: a residual block on the deepest features, then per
    level a residual up-sampling block on ``[skip, upsampled]``, a final up-sampling stage to
    the input resolution and a 1×1 convolution to 4 classes.

    **Parameters at the published configuration**: 31.42 M (encoder 27.58 M + decoder
    3.85 M). The paper gives no total (docs/science.md §1.7); the decoder widths (256, 128, 64, 32 and 32 at full
    resolution) are our choice — the paper's exact widths are not confirmed.

    Target/context: the model sees the context patch (e.g. 512 px) and returns the full
    context logits plus the centre ``target_size`` crop (e.g. 256 px) of the *same* output,
    so the two losses of the paper (on target and on context) can be applied. The target is
    not a second network branch. Inputs smaller than ``target_size`` raise
    :class:`~workbench.models.ModelInputError`.

    Parameters
    ----------
    in_chans, num_classes
        Input channels and zone classes.
    patch_size, embed_dim, depths, num_heads, window_size, mlp_ratio, drop_path_rate, img_size,
    pretrained_window_sizes
        Passed to :class:`~workbench.models.SwinV2Encoder` (``img_size``: the context size).
    decoder_channels
        Output channels of the decoder steps, deepest first: the residual block on the
        deepest features, then one per shallower level (``len(depths)`` values).
    final_channels
        Channels of the final up-sampling stage at the input resolution.
    front_head
        Add a 1-channel calving-front head (1×1 conv beside the zones head).
    target_size
        Size of the centre target crop returned as ``target`` (``None``: no crop).

    Examples
    --------
    >>> import torch
    >>> model = SSL4SARHybrid(embed_dim=16, depths=(2, 2), num_heads=(2, 2), window_size=4,
    ...                       img_size=32, decoder_channels=(16, 8), final_channels=8,
    ...                       front_head=True).eval()
    >>> out = model(torch.zeros(2, 1, 50, 46))
    >>> tuple(out.logits.shape), tuple(out.front.shape)
    ((2, 4, 50, 46), (2, 1, 50, 46))
    """

    def __init__(
        self,
        in_chans: int = 1,
        num_classes: int = 4,
        patch_size: int = 4,
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int = 16,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.1,
        img_size: int | None = 512,
        pretrained_window_sizes: Sequence[int] | None = None,
        decoder_channels: Sequence[int] = (256, 128, 64, 32),
        final_channels: int = 32,
        front_head: bool = False,
        target_size: int | None = None,
    ) -> None:
        super().__init__()
        if len(decoder_channels) != len(depths):
            raise ConfigError(
                f"has {len(decoder_channels)} values for {len(depths)} encoder stages",
                variable="decoder_channels",
                expected="one value per stage (deepest first)",
            )
        self.encoder = SwinV2Encoder(
            in_chans=in_chans,
            patch_size=patch_size,
            embed_dim=embed_dim,
            depths=depths,
            num_heads=num_heads,
            window_size=window_size,
            mlp_ratio=mlp_ratio,
            drop_path_rate=drop_path_rate,
            img_size=img_size,
            pretrained_window_sizes=pretrained_window_sizes,
        )
        enc_ch = self.encoder.out_channels
        dec = list(decoder_channels)
        self.bottleneck = ResBlock(enc_ch[-1], dec[0])
        self.up_blocks = nn.ModuleList(
            UpBlock(dec[i], enc_ch[-2 - i], dec[i + 1]) for i in range(len(dec) - 1)
        )
        self.final = UpBlock(dec[-1], 0, final_channels)
        self.zones_head = nn.Conv2d(final_channels, num_classes, 1)
        self.front_head = nn.Conv2d(final_channels, 1, 1) if front_head else None
        self.target_size = target_size
        self.stride = self.encoder.strides[-1]

    def default_classes(self) -> dict | None:
        return zone_classes(self.config["num_classes"])

    def forward(self, x: torch.Tensor) -> SegmentationOutput:
        if x.ndim != 4:
            raise ModelInputError(
                f"has shape {tuple(x.shape)}", variable="input", expected="B × C × H × W"
            )
        if self.target_size is not None and min(x.shape[-2:]) < self.target_size:
            raise ModelInputError(
                f"is {tuple(x.shape[-2:])}, smaller than the target crop",
                variable="input size",
                expected=f"≥ {self.target_size} px",
            )
        x, size = pad_to_multiple(x, self.stride)
        features = self.encoder(x)
        y = self.bottleneck(features[-1])
        for block, skip in zip(self.up_blocks, reversed(features[:-1]), strict=False):
            y = block(y, skip)
        y = self.final(y, size=tuple(x.shape[-2:]))
        y = crop_to(y, size)
        logits = self.zones_head(y)
        front = self.front_head(y) if self.front_head is not None else None
        target = target_front = None
        if self.target_size is not None:
            target = center_crop(logits, self.target_size)
            target_front = center_crop(front, self.target_size) if front is not None else None
        return SegmentationOutput(logits, front=front, target=target, target_front=target_front)
