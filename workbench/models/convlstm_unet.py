"""U-Net whose encoder levels are bidirectional ConvLSTMs over the Sentinel-1 time series.

Examples
--------
>>> import torch
>>> from workbench.models import create_model
>>> model = create_model("convlstm_unet", preset="small").eval()
>>> tuple(model(torch.zeros(1, 3, 2, 32, 32)).logits.shape)
(1, 2, 32, 32)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from workbench.errors import ConfigError
from workbench.models.base import SegmentationOutput, WorkbenchModel, glacier_classes
from workbench.models.blocks import ConvNormAct, ResUNetDecoder, crop_to, pad_to_multiple
from workbench.models.icemapper3d import check_time_series
from workbench.models.registry import register_model

__all__ = ["ConvLSTMCell", "ConvLSTM", "BiConvLSTM", "ConvLSTMUNet"]


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step (Shi et al. 2015, without peepholes).

    ``i, f, o, g = split(conv([x, h]))``; ``c' = σ(f)·c + σ(i)·tanh(g)``; ``h' = σ(o)·tanh(c')``.
    The forget-gate bias starts at 1.
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.conv = nn.Conv2d(
            in_channels + hidden_channels,
            4 * hidden_channels,
            kernel_size,
            padding=kernel_size // 2,
        )
        bias = self.conv.bias
        assert bias is not None
        with torch.no_grad():
            if not bias.is_meta:
                bias.zero_()
                bias[hidden_channels : 2 * hidden_channels].fill_(1.0)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        i, f, o, g = self.conv(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class ConvLSTM(nn.Module):
    """A ConvLSTM over ``B × T × C × H × W``; returns all hidden states and the last one."""

    def __init__(
        self, in_channels: int, hidden_channels: int, kernel_size: int = 3, reverse: bool = False
    ) -> None:
        super().__init__()
        self.cell = ConvLSTMCell(in_channels, hidden_channels, kernel_size)
        self.reverse = reverse

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, _, h, w = x.shape
        zeros = x.new_zeros(b, self.cell.hidden_channels, h, w)
        state = (zeros, zeros)
        steps = range(t - 1, -1, -1) if self.reverse else range(t)
        outputs: list[torch.Tensor] = [zeros] * t
        for i in steps:
            state = self.cell(x[:, i], state)
            outputs[i] = state[0]
        return torch.stack(outputs, dim=1), state[0]


class BiConvLSTM(nn.Module):
    """Forward and backward ConvLSTMs; outputs and final states concatenated over channels.

    With ``out_channels`` = ``2 × hidden``: the sequence output ``B × T × out × H × W`` and the
    final hidden states ``[h_forward(T-1), h_backward(0)]`` ``B × out × H × W``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        if out_channels % 2:
            raise ConfigError(
                f"is odd ({out_channels})",
                variable="ConvLSTM width",
                expected="an even number (half per direction)",
            )
        self.forward_lstm = ConvLSTM(in_channels, out_channels // 2, kernel_size)
        self.backward_lstm = ConvLSTM(in_channels, out_channels // 2, kernel_size, reverse=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seq_f, last_f = self.forward_lstm(x)
        seq_b, last_b = self.backward_lstm(x)
        return torch.cat([seq_f, seq_b], dim=2), torch.cat([last_f, last_b], dim=1)


class _Level(nn.Module):
    """(1,3,3) conv-BN-LeakyReLU applied per time step, then a bidirectional ConvLSTM."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = ConvNormAct(in_channels, out_channels, (1, 3, 3), dims=3)
        self.lstm = BiConvLSTM(out_channels, out_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv(x.transpose(1, 2)).transpose(1, 2)  # B × T × C × H × W
        return self.lstm(x)


@register_model(
    "convlstm_unet",
    presets={
        "published": {},
        "small": dict(channels=[4, 8, 16], bottleneck_channels=32),
    },
)
class ConvLSTMUNet(WorkbenchModel):
    """U-Net with bidirectional ConvLSTM encoder levels and the 2D residual decoder.

    **For**: the same task as :class:`~workbench.models.icemapper3d.IceMapper3D` (glacier
    mask from a year of Sentinel-1); the paper reports the same accuracy, slower.

    **Input** ``B × T × C × H × W`` (any ``T ≥ 1``, any ``H, W``: zero padded to a multiple of
    8 and cropped back). **Output** :class:`~workbench.models.SegmentationOutput` with
    ``logits`` ``B × 2 × H × W``.

    **Paper**: IGARSS 2024 Svalbard study (docs/science.md §2.3): per level a (1, 3, 3) convolution
    then a bidirectional ConvLSTM; skips are the final hidden states; same 2D decoder as the
    3D-conv model.

    **Parameters at the published configuration**: 5.93 M with 2 input features (the paper
    gives no count).

    Our choices: each direction has half the level's width and the two final hidden states
    are **concatenated** (forward at the last step, backward at the first), so a skip has the
    level's width; levels pass their full output sequence, 2×2 max-pooled in space only (time
    is kept: the LSTMs summarise it), to the next level; the bottleneck is a level too and its
    final states feed the decoder.

    Parameters
    ----------
    in_features, num_classes
        Features per acquisition, output classes.
    channels
        Encoder widths per level (even numbers).
    bottleneck_channels
        Width of the bottleneck level.
    """

    def __init__(
        self,
        in_features: int = 2,
        num_classes: int = 2,
        channels: Sequence[int] = (32, 64, 128),
        bottleneck_channels: int = 256,
    ) -> None:
        super().__init__()
        ch = list(channels)
        self.in_features = in_features
        self.stride = 2 ** len(ch)
        levels, c = [], in_features
        for width in ch:
            levels.append(_Level(c, width))
            c = width
        self.encoder = nn.ModuleList(levels)
        self.bottleneck = _Level(c, bottleneck_channels)
        self.decoder = ResUNetDecoder(bottleneck_channels, ch, ch)
        self.head = nn.Conv2d(ch[0], num_classes, 1)

    def default_classes(self) -> dict | None:
        return glacier_classes(self.config["num_classes"])

    def forward(self, x: torch.Tensor) -> SegmentationOutput:
        check_time_series(x, self.in_features)
        b, t, c, h, w = x.shape
        x, size = pad_to_multiple(x.reshape(b, t * c, h, w), self.stride)
        x = x.view(b, t, c, *x.shape[-2:])
        skips = []
        for level in self.encoder:
            seq, last = level(x)
            skips.append(last)
            x = F.max_pool2d(seq.flatten(0, 1), 2).unflatten(0, (b, t))
        _, last = self.bottleneck(x)
        y = crop_to(self.decoder(last, skips), size)
        return SegmentationOutput(self.head(y))
