"""GlaViTU: a hybrid CNN–transformer for glacier mapping from several data sources.

Examples
--------
>>> import torch
>>> from workbench.models import create_model
>>> model = create_model("glavitu", preset="small").eval()
>>> model.config["sources"]
{'optical': 6, 'dem': 2, 'sar': 4, 'coherence': 1}
>>> x = {"optical": torch.zeros(1, 6, 32, 32), "dem": torch.zeros(1, 2, 32, 32)}
>>> tuple(model(x).logits.shape)     # sar and coherence are optional in the small preset
(1, 2, 32, 32)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType

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
from workbench.models.blocks import (
    NEGATIVE_SLOPE,
    ConvNormAct,
    ResBlock,
    SqueezeExcitation,
    crop_to,
    pad_to_multiple,
)
from workbench.models.registry import register_model

__all__ = ["GlaViTU", "FusionBranch", "ViTBranch", "coordinate_features"]

DEFAULT_SOURCES = MappingProxyType({"optical": 6, "dem": 2, "sar": 4, "coherence": 1})
"""The published configuration's sources and channel counts (read-only)."""


class FusionBranch(nn.Module):
    """One source's branch of the fusion block: 2 × conv-BN-LeakyReLU, squeeze-excitation gate."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            ConvNormAct(in_channels, out_channels), ConvNormAct(out_channels, out_channels)
        )
        self.gate = SqueezeExcitation(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(self.convs(x))


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.head_dim, self.dropout = heads, head_dim, dropout
        self.qkv = nn.Linear(dim, 3 * heads * head_dim)
        self.proj = nn.Linear(heads * head_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0
        )
        return self.proj(out.transpose(1, 2).reshape(b, n, -1))


class _TransformerBlock(nn.Module):
    """Pre-norm transformer block: ``x + MSA(LN(x))``, ``x + MLP(LN(x))`` (GELU)."""

    def __init__(self, dim: int, heads: int, head_dim: int, mlp_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = _Attention(dim, heads, head_dim, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_dim, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViTBranch(nn.Module):
    """SETR-style branch: patch embedding, learned positions, transformer, progressive upsampling.

    ``B × C × H × W`` (``H, W`` multiples of ``patch_size``) → ``B × out_channels × H × W``.
    Positions are learned for the ``img_size`` grid and bicubically interpolated for others.
    The decoder has ``log2(patch_size)`` steps of conv-BN-LeakyReLU + bilinear ×2 (SETR "PUP"),
    then a 1×1 convolution.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        img_size: int,
        patch_size: int,
        embed_dim: int,
        depth: int,
        num_heads: int,
        head_dim: int,
        mlp_dim: int,
        decoder_channels: int,
        dropout: float,
    ) -> None:
        super().__init__()
        if patch_size & (patch_size - 1):
            raise ConfigError(f"is {patch_size}", variable="patch_size", expected="a power of 2")
        self.patch_size = patch_size
        self.grid = img_size // patch_size
        self.patch_embed = nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, self.grid * self.grid, embed_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList(
            _TransformerBlock(embed_dim, num_heads, head_dim, mlp_dim, dropout)
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim)
        steps, c = [], embed_dim
        for _ in range(int(math.log2(patch_size))):
            steps.append(ConvNormAct(c, decoder_channels))
            c = decoder_channels
        self.decoder = nn.ModuleList(steps)
        self.out = nn.Conv2d(c, out_channels, 1)

    def positions(self, gh: int, gw: int) -> torch.Tensor:
        """Positional embeddings for a ``gh × gw`` grid (interpolated when it differs)."""
        if gh == gw == self.grid:
            return self.pos_embed
        pos = self.pos_embed.reshape(1, self.grid, self.grid, -1).permute(0, 3, 1, 2)
        pos = F.interpolate(pos, size=(gh, gw), mode="bicubic", align_corners=False)
        return pos.flatten(2).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_embed(x)
        b, c, gh, gw = tokens.shape
        tokens = tokens.flatten(2).transpose(1, 2) + self.positions(gh, gw)
        for block in self.blocks:
            tokens = block(tokens)
        y = self.norm(tokens).transpose(1, 2).reshape(b, c, gh, gw)
        for step in self.decoder:
            y = F.interpolate(step(y), scale_factor=2, mode="bilinear", align_corners=False)
        return self.out(y)


class _UpConv(nn.Sequential):
    """Nearest ×2 up-sampling → 2×2 conv ("same": one zero row/column bottom/right) → BN.

    Halves the channels in the ResU-Net decoder (the GlaViTU reference's up-convolution).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.ZeroPad2d((0, 1, 0, 1)),
            nn.Conv2d(in_channels, out_channels, 2, bias=False),
            nn.BatchNorm2d(out_channels),
        )


class _ResUNet(nn.Module):
    """ResU-Net: residual levels with max-pooling, a bottleneck, up-convs, residual decoder."""

    def __init__(
        self, in_channels: int, out_channels: int, channels: Sequence[int], bottleneck_channels: int
    ) -> None:
        super().__init__()
        enc, c = [], in_channels
        for width in channels:
            enc.append(ResBlock(c, width))
            c = width
        self.encoder = nn.ModuleList(enc)
        self.bottleneck = ResBlock(c, bottleneck_channels)
        ups, decs, c = [], [], bottleneck_channels
        for width in reversed(channels):
            ups.append(_UpConv(c, width))
            decs.append(ResBlock(2 * width, width))
            c = width
        self.ups, self.decoder = nn.ModuleList(ups), nn.ModuleList(decs)
        self.out = nn.Conv2d(c, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, block, skip in zip(self.ups, self.decoder, reversed(skips), strict=False):
            x = block(torch.cat([skip, up(x)], dim=1))
        return self.out(x)


def coordinate_features(coords: torch.Tensor) -> torch.Tensor:
    """``B × 2`` (latitude, longitude in degrees) → ``B × 4`` (sin/cos of each).

    Examples
    --------
    >>> [round(v, 3) + 0.0 for v in coordinate_features(torch.tensor([[30.0, 90.0]]))[0].tolist()]
    [0.5, 0.866, 1.0, 0.0]
    """
    rad = torch.deg2rad(coords.float())
    return torch.stack([rad[:, 0].sin(), rad[:, 0].cos(), rad[:, 1].sin(), rad[:, 1].cos()], 1)


def _mlp(in_features: int, out_features: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_features, out_features),
        nn.LeakyReLU(NEGATIVE_SLOPE),
        nn.Linear(out_features, out_features),
        nn.LeakyReLU(NEGATIVE_SLOPE),
    )


@register_model(
    "glavitu",
    presets={
        "published": {},
        "small": dict(
            optional_sources=["sar", "coherence"],
            fusion_channels=8,
            img_size=32,
            patch_size=8,
            embed_dim=16,
            depth=2,
            num_heads=2,
            mlp_dim=32,
            unet_channels=[8, 16, 32],
            bottleneck_channels=32,
        ),
    },
)
class GlaViTU(WorkbenchModel):
    """GlaViTU: per-source fusion → ViT/SETR branch (added residually) → ResU-Net → 2 classes.

    **For**: glacier outlines from multi-source data (optical, DEM, SAR backscatter, InSAR
    coherence, …), globally or per region.

    **Input** a dict ``{source: B × C_source × H × W}`` (all the same ``H, W``; any size —
    zero padded to a multiple of 16 and cropped back), optionally ``region`` and ``coords``
    (see :meth:`forward`). **Output** :class:`~workbench.models.SegmentationOutput` with
    ``logits`` ``B × 2 × H × W`` and, in training mode with ``deep_supervision=True``, the
    ViT branch's deep-supervision logits in ``aux`` (loss weight ``aux_loss_weight`` = 0.5).

    **Paper**: Maslov et al., "Towards global glacier mapping with deep learning and open
    Earth observation data" (GlaViTU; docs/science.md §3.2): fusion blocks of two conv-BN-act layers
    with 64 filters and a squeeze-excitation gate, summed over sources; a ViT/SETR branch
    (16 px patches, embedding 64, 12 blocks, 4 heads, MLP 256, learned positions, upsampling
    decoder, deep-supervision head) added residually; a ResU-Net (64/128/256 + 512
    bottleneck); 2-class softmax.

    **Parameters at the published configuration**: 10.11 M (10,110,980) with optical 6, dem 2,
    sar 4, coherence 1 (published: about 10.0 M). Most of it is the ResU-Net (8.08 M); the
    ViT branch is 1.84 M, a third of which is the 16×16×64×64 patch embedding.

    Our choices: the ResU-Net output (64 channels, 1×1 conv) is added to the fused+ViT
    features before the 1×1 classification conv (as in the authors' public code); the
    ResU-Net's up-convolutions are nearest ×2 + 2×2 conv + BN halving the channels; the
    attention's per-head size is ``embed_dim / num_heads`` = 16; LeakyReLU everywhere;
    region/coordinate encodings are 2-layer MLPs (no batch norm, so a batch of one trains)
    added to the fused features (every pixel) before both branches, as the authors' code
    adds its location encoding.

    Missing sources: names in ``optional_sources`` may be absent (or ``None``) from the input
    dict, for the whole batch. The branch of a missing source is skipped and a learned
    per-source "missing" vector (``missing[name]``, ``fusion_channels`` values broadcast over
    the pixels, initialised to 0) takes its place in the sum, so training with the source
    sometimes dropped teaches the network what "missing" means — without feeding zero images
    through the branch's batch norms (which would corrupt their running statistics). A
    missing *required* source, an unknown source name or a wrong channel count raises
    :class:`~workbench.models.ModelInputError` naming it.

    Parameters
    ----------
    sources
        Source names → channel counts.
    optional_sources
        Names of sources that may be missing.
    num_classes
        Output classes.
    fusion_channels
        Width of the fusion block (and of the features both branches share).
    img_size
        Training patch size: the grid of the learned positions (``img_size / patch_size``).
    patch_size, embed_dim, depth, num_heads, head_dim, mlp_dim
        The ViT branch (``head_dim`` per head; ``None`` gives ``embed_dim / num_heads``).
    unet_channels, bottleneck_channels
        ResU-Net level widths and bottleneck width.
    deep_supervision
        Add the auxiliary head on the ViT branch (returned in training mode only).
    aux_loss_weight
        The weight of the auxiliary loss (stored for the training code; 0.5 in the paper).
    num_regions
        Number of regions for the one-hot region encoding (0 disables). Slot ``num_regions``
        means "unknown".
    region_dropout
        In training, the probability to replace a sample's region with "unknown" (0.1).
    coord_encoding
        Enable the sin/cos latitude/longitude encoding.
    dropout
        Dropout in the transformer blocks.
    """

    def __init__(
        self,
        sources: Mapping[str, int] = DEFAULT_SOURCES,
        optional_sources: Sequence[str] = (),
        num_classes: int = 2,
        fusion_channels: int = 64,
        img_size: int = 384,
        patch_size: int = 16,
        embed_dim: int = 64,
        depth: int = 12,
        num_heads: int = 4,
        head_dim: int | None = None,
        mlp_dim: int = 256,
        unet_channels: Sequence[int] = (64, 128, 256),
        bottleneck_channels: int = 512,
        deep_supervision: bool = True,
        aux_loss_weight: float = 0.5,
        num_regions: int = 0,
        region_dropout: float = 0.1,
        coord_encoding: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        sources = dict(sources)
        if not sources:
            raise ConfigError("is empty", variable="sources", expected="at least one source")
        unknown = sorted(set(optional_sources) - set(sources))
        if unknown:
            raise ConfigError(
                f"names sources {unknown} that are not in sources",
                variable="optional_sources",
                expected=f"some of {sorted(sources)}",
            )
        self.sources = sources
        self.optional_sources = tuple(optional_sources)
        self.branches = nn.ModuleDict(
            {name: FusionBranch(c, fusion_channels) for name, c in sources.items()}
        )
        self.missing = nn.ParameterDict(
            {
                name: nn.Parameter(torch.zeros(1, fusion_channels, 1, 1))
                for name in self.optional_sources
            }
        )
        self.num_regions = num_regions
        self.region_dropout = region_dropout
        self.region_encoder = _mlp(num_regions + 1, fusion_channels) if num_regions > 0 else None
        self.coord_encoder = _mlp(4, fusion_channels) if coord_encoding else None
        self.vit = ViTBranch(
            fusion_channels,
            fusion_channels,
            img_size=img_size,
            patch_size=patch_size,
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            head_dim=head_dim or embed_dim // num_heads,
            mlp_dim=mlp_dim,
            decoder_channels=fusion_channels,
            dropout=dropout,
        )
        self.aux_head = nn.Conv2d(fusion_channels, num_classes, 1) if deep_supervision else None
        self.aux_loss_weight = aux_loss_weight
        self.resunet = _ResUNet(
            fusion_channels, fusion_channels, unet_channels, bottleneck_channels
        )
        self.head = nn.Conv2d(fusion_channels, num_classes, 1)
        self.stride = math.lcm(patch_size, 2 ** len(unet_channels))

    def default_classes(self) -> dict | None:
        return glacier_classes(self.config["num_classes"])

    # -- inputs ------------------------------------------------------------------------------

    def _check_sources(self, inputs: Mapping[str, torch.Tensor | None]) -> tuple[int, int, int]:
        if not isinstance(inputs, Mapping):
            raise ModelInputError(
                f"is a {type(inputs).__name__}",
                variable="inputs",
                expected=f"a dict of sources {sorted(self.sources)}",
            )
        unknown = sorted(set(inputs) - set(self.sources))
        if unknown:
            raise ModelInputError(
                f"holds unknown source(s) {unknown}",
                variable="inputs",
                expected=f"sources among {sorted(self.sources)}",
            )
        present = {k: v for k, v in inputs.items() if v is not None}
        for name in self.sources:
            if name not in present and name not in self.optional_sources:
                required = [s for s in self.sources if s not in self.optional_sources]
                raise ModelInputError(
                    "is missing and not optional",
                    variable=name,
                    expected=f"every required source {required}",
                )
        if not present:
            raise ModelInputError(
                "holds no source",
                variable="inputs",
                expected=f"at least one of {sorted(self.sources)}",
            )
        shapes = set()
        for name, x in present.items():
            c = self.sources[name]
            if x.ndim != 4 or x.shape[1] != c:
                raise ModelInputError(
                    f"has shape {tuple(x.shape)}", variable=name, expected=f"B × {c} × H × W"
                )
            shapes.add((x.shape[0], *x.shape[-2:]))
        if len(shapes) > 1:
            raise ModelInputError(
                f"have different batch or spatial sizes {sorted(shapes)}",
                variable="sources",
                expected="the same B, H, W for all",
            )
        return next(iter(shapes))

    def _region_vector(
        self, region: torch.Tensor | None, b: int, device: torch.device
    ) -> torch.Tensor:
        k = self.num_regions + 1
        if region is None:
            onehot = torch.zeros(b, k, device=device)
            onehot[:, -1] = 1.0
        elif region.dtype.is_floating_point:
            if region.shape != (b, k):
                raise ModelInputError(
                    f"has shape {tuple(region.shape)}",
                    variable="region",
                    expected=f"{b} × {k} one-hot (last slot: unknown) or B integer ids",
                )
            onehot = region.to(device)
        else:
            ids = region.to(device).long().clone()
            bad = ids.shape != (b,)
            if not bad and not torch.compiler.is_compiling():  # value check syncs; skip in graphs
                bad = bool((ids >= k).any() or (ids < -1).any())
            if bad:
                raise ModelInputError(
                    f"is {region.tolist()}",
                    variable="region",
                    expected=f"B ids in 0..{self.num_regions - 1}, or "
                    f"-1 / {self.num_regions} for unknown",
                )
            ids = torch.where(ids < 0, self.num_regions, ids)
            onehot = F.one_hot(ids, k).float()
        if self.training and self.region_dropout > 0:
            drop = torch.rand(b, device=device) < self.region_dropout
            unknown = torch.zeros_like(onehot)
            unknown[:, -1] = 1.0
            onehot = torch.where(drop[:, None], unknown, onehot)
        return onehot

    # -- forward -----------------------------------------------------------------------------

    def forward(
        self,
        inputs: Mapping[str, torch.Tensor | None],
        region: torch.Tensor | None = None,
        coords: torch.Tensor | None = None,
    ) -> SegmentationOutput:
        """Segment a multi-source patch.

        Parameters
        ----------
        inputs
            ``{source: B × C × H × W}``; optional sources may be absent or ``None``.
        region
            With ``num_regions > 0``: ``B`` integer region ids (``-1`` or ``num_regions``:
            unknown) or a ``B × (num_regions + 1)`` one-hot; ``None`` means unknown for all.
        coords
            With ``coord_encoding=True``: ``B × 2`` latitude and longitude in degrees
            (required).
        """
        b, h, w = self._check_sources(inputs)
        if region is not None and self.region_encoder is None:
            raise ModelInputError(
                "was given to a model without region encoding",
                variable="region",
                expected="num_regions > 0 at construction",
            )
        if coords is not None and self.coord_encoder is None:
            raise ModelInputError(
                "was given to a model without coordinate encoding",
                variable="coords",
                expected="coord_encoding=True at construction",
            )
        ref = next(x for x in inputs.values() if x is not None)
        size = (h, w)
        present, absent = [], []
        for name, branch in self.branches.items():
            x = inputs.get(name)
            if x is None:
                absent.append(self.missing[name])
            else:
                present.append(branch(pad_to_multiple(x, self.stride)[0]))
        fused = torch.stack(present).sum(0) if len(present) > 1 else present[0]
        for vector in absent:
            fused = fused + vector
        if self.region_encoder is not None:
            vec = self._region_vector(region, b, ref.device).to(fused.dtype)
            fused = fused + self.region_encoder(vec)[:, :, None, None]
        if self.coord_encoder is not None:
            if coords is None or coords.shape != (b, 2):
                raise ModelInputError(
                    f"is {None if coords is None else tuple(coords.shape)}",
                    variable="coords",
                    expected=f"{b} × 2 (lat, lon degrees)",
                )
            enc = self.coord_encoder(coordinate_features(coords.to(ref.device)).to(fused.dtype))
            fused = fused + enc[:, :, None, None]
        encoded = fused + self.vit(fused)
        aux = None
        if self.aux_head is not None and self.training:
            aux = crop_to(self.aux_head(encoded), size)
        logits = self.head(encoded + self.resunet(encoded))
        return SegmentationOutput(crop_to(logits, size), aux=aux)
