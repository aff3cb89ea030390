"""Helpers shared by the training tests: tiny label maps and 'perfect' (oracle) models."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from workbench.models import SegmentationOutput


def caffe_zones(
    h: int, w: int, front_col: int, rock_rows: int = 6
) -> tuple[np.ndarray, np.ndarray]:
    """Zones with glacier left of ``front_col``, ocean right, rock on top; and their front."""
    z = np.full((h, w), 2, np.int64)
    z[:, front_col:] = 3
    z[:rock_rows, :] = 1
    z[:2, :3] = 0
    front = np.zeros((h, w), bool)
    front[rock_rows:, front_col] = True
    return z, front


def image_from_zones(z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A learnable 8-bit image: a grey level per class plus noise."""
    levels = np.array([10, 200, 150, 40], np.float64)
    img = levels[z] + rng.normal(0, 12, z.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


class ZoneOracle(nn.Module):
    """A 'perfect' zone model for images made as ``image = class / 3``: pointwise logits."""

    def forward(self, x: torch.Tensor) -> SegmentationOutput:
        cls = torch.arange(4, dtype=x.dtype, device=x.device).view(1, 4, 1, 1)
        return SegmentationOutput(-100.0 * (3 * x[:, :1] - cls) ** 2)


class OutlineOracle(nn.Module):
    """A 'perfect' outline model for time series whose feature 0 at the last date is the mask."""

    def forward(self, x: torch.Tensor) -> SegmentationOutput:
        m = x[:, -1, 0:1]
        return SegmentationOutput(
            torch.cat([-10 * m, 10 * m], dim=1) + torch.tensor([5.0, -5.0]).view(1, 2, 1, 1)
        )
