"""Swin Transformer V2 encoder, written here (timm does not import with this torch).

Follows Liu et al., "Swin Transformer V2: Scaling Up Capacity and Resolution" (CVPR 2022):
scaled cosine attention with a learnable per-head temperature (``logit_scale``, clamped at
log 100), a log-spaced continuous relative position bias produced by a small MLP (the CPB MLP,
2 → 512 → heads, ``16·sigmoid``), residual *post*-norm (LayerNorm after attention and after
the MLP, before the residual sum), shifted windows, and patch merging (2×2 neighbours
concatenated → linear 4C → 2C → LayerNorm).

It is numerically the same network as ``transformers.Swinv2Model`` (tested to ≤ 1e-4 in
float32 with copied weights; ``convert_hf_swinv2_state_dict`` is the key mapping), including
HF's choices where the paper leaves freedom:

- patch embedding and windows zero-pad bottom/right to a multiple of the patch / window size
  and crop back, so any input size works (the padded tokens take part in attention, as in HF);
- patch merging zero-pads odd sizes, so stage sizes are ``ceil(H / 4 / 2**i)``;
- a stage whose *configured* resolution (``img_size / patch_size / 2**i``) is not larger than
  the window uses a window of that resolution and no shift (``img_size=None`` switches this
  off: full window and shift everywhere);
- ``pretrained_window_sizes[i] > 0`` normalises the CPB coordinates by that window instead of
  the stage's own (for fine-tuning at a larger window than pre-training);
- masked (cross-region) scores get ``-100`` (HF adds its mask twice, i.e. ``-200``; after the
  softmax both are exactly zero in float32 for any realistic score).

Deviation: windows are square and a stage's window is clamped by ``min(H, W)`` of its
configured resolution (HF uses the height only; identical for square ``img_size``).

State-dict keys follow the original Microsoft / timm < 0.9 layout (``layers.N.downsample`` at
the *end* of stage N, fused ``attn.qkv`` with ``q_bias``/``v_bias``), so official checkpoints
load without renaming; :func:`load_pretrained_swinv2` also reads the transformers layout and
the timm ≥ 0.9 layout (downsample at the *start* of stage N+1).

Examples
--------
>>> import torch
>>> enc = SwinV2Encoder(in_chans=1, embed_dim=24, depths=(2, 2), num_heads=(2, 4),
...                     window_size=4, img_size=32)
>>> [tuple(f.shape) for f in enc(torch.zeros(1, 1, 32, 32))]
[(1, 24, 8, 8), (1, 48, 4, 4)]
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from workbench.errors import CheckpointError, ConfigError
from workbench.models.base import WorkbenchModel
from workbench.models.registry import register_model

__all__ = [
    "SwinV2Encoder",
    "SwinV2Block",
    "SwinV2Stage",
    "WindowAttention",
    "PatchMerging",
    "PatchEmbed",
    "convert_hf_swinv2_state_dict",
    "convert_timm_swinv2_state_dict",
    "adapt_stem",
    "load_pretrained_swinv2",
]

CPB_HIDDEN = 512
MASK_VALUE = -100.0


def _window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """``B × H × W × C`` → ``(B·nW) × ws² × C`` windows, row-major over windows."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).transpose(2, 3)
    return x.reshape(-1, ws * ws, c)


def _window_reverse(windows: torch.Tensor, ws: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`_window_partition`."""
    c = windows.shape[-1]
    x = windows.view(-1, h // ws, w // ws, ws, ws, c).transpose(2, 3)
    return x.reshape(-1, h, w, c)


def _shift_mask(h: int, w: int, ws: int, shift: int, device: torch.device) -> torch.Tensor:
    """``nW × ws² × ws²`` additive mask (0 / -100) for shifted windows of a padded ``h × w``."""
    hi = torch.arange(h, device=device)
    wi = torch.arange(w, device=device)
    h_region = (hi >= h - ws).long() + (hi >= h - shift).long()
    w_region = (wi >= w - ws).long() + (wi >= w - shift).long()
    region = (h_region[:, None] * 3 + w_region[None, :]).to(torch.float32)
    windows = _window_partition(region[None, :, :, None], ws).squeeze(-1)  # nW × ws²
    diff = windows[:, None, :] - windows[:, :, None]
    return torch.where(diff != 0, MASK_VALUE, 0.0)


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch × patch`` convolution → LayerNorm; output ``B × H' × W' × C``."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch_size
        ph, pw = (-x.shape[-2]) % p, (-x.shape[-1]) % p
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class WindowAttention(nn.Module):
    """Scaled cosine window attention with a continuous (log-spaced) relative position bias.

    Input ``(B·nW) × N × C`` with ``N = window²``; optional additive mask ``nW × N × N``.
    """

    relative_coords_table: torch.Tensor  # buffers (typed for mypy)
    relative_position_index: torch.Tensor

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        *,
        pretrained_window_size: int = 0,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ConfigError(
                f"dim {dim} is not a multiple of num_heads {num_heads}", variable="num_heads"
            )
        self.dim, self.num_heads, self.window_size = dim, num_heads, window_size
        self.pretrained_window_size = pretrained_window_size
        self.logit_scale = nn.Parameter(torch.log(10 * torch.ones(num_heads, 1, 1)))
        self.cpb_mlp = nn.Sequential(
            nn.Linear(2, CPB_HIDDEN),
            nn.ReLU(inplace=True),
            nn.Linear(CPB_HIDDEN, num_heads, bias=False),
        )
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(dim))
            self.v_bias = nn.Parameter(torch.zeros(dim))
        else:
            self.register_parameter("q_bias", None)
            self.register_parameter("v_bias", None)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        table, index = self._coords_table_and_index()
        self.register_buffer("relative_coords_table", table, persistent=False)
        self.register_buffer("relative_position_index", index, persistent=False)

    def _coords_table_and_index(self) -> tuple[torch.Tensor, torch.Tensor]:
        ws = self.window_size
        rel = torch.arange(-(ws - 1), ws, dtype=torch.float32)
        table = torch.stack(torch.meshgrid(rel, rel, indexing="ij"), dim=-1)  # (2ws-1)² × 2
        if self.pretrained_window_size > 0:
            table = table / (self.pretrained_window_size - 1)
        elif ws > 1:
            table = table / (ws - 1)
        table = table * 8
        table = torch.sign(table) * torch.log2(table.abs() + 1.0) / math.log2(8)
        coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij"))
        coords = coords.flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
        index = (relative[..., 0] + ws - 1) * (2 * ws - 1) + (relative[..., 1] + ws - 1)
        return table.reshape(-1, 2), index

    def relative_position_bias(self) -> torch.Tensor:
        """``heads × N × N`` bias, ``16·sigmoid(CPB-MLP(log-spaced coordinates))``."""
        n = self.window_size**2
        table = self.relative_coords_table.to(cast(nn.Linear, self.cpb_mlp[0]).weight.dtype)
        bias = self.cpb_mlp(table)[self.relative_position_index.reshape(-1)]
        return 16 * torch.sigmoid(bias.view(n, n, -1).permute(2, 0, 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        bw, n, c = x.shape
        h = self.num_heads
        bias = None
        if self.q_bias is not None:
            bias = torch.cat([self.q_bias, torch.zeros_like(self.q_bias), self.v_bias])
        qkv = F.linear(x, self.qkv.weight, bias).view(bw, n, 3, h, c // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B·nW) × h × N × d
        scale = torch.clamp(self.logit_scale, max=math.log(100.0)).exp()
        q = F.normalize(q, dim=-1) * scale.to(q.dtype)  # temperature folded into q
        k = F.normalize(k, dim=-1)
        attn_bias = self.relative_position_bias().unsqueeze(0)  # 1 × h × N × N
        drop = self.attn_drop if self.training else 0.0
        if mask is None:
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=attn_bias.to(q.dtype), dropout_p=drop, scale=1.0
            )
        else:
            nw = mask.shape[0]
            b = bw // nw
            full = (attn_bias + mask[:, None].to(attn_bias.dtype)).reshape(1, nw * h, n, n)
            d = c // h
            out = F.scaled_dot_product_attention(
                q.reshape(b, nw * h, n, d),
                k.reshape(b, nw * h, n, d),
                v.reshape(b, nw * h, n, d),
                attn_mask=full.to(q.dtype),
                dropout_p=drop,
                scale=1.0,
            )
            out = out.view(bw, h, n, d)
        out = out.transpose(1, 2).reshape(bw, n, c)
        return self.proj_drop(self.proj(out))


class _DropPath(nn.Module):
    """Stochastic depth per sample (identity in eval mode or with ``p == 0``)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class SwinV2Block(nn.Module):
    """One (shifted-)window block with residual post-norm; input/output ``B × H × W × C``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        shift_size: int,
        *,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        pretrained_window_size: int = 0,
    ) -> None:
        super().__init__()
        self.window_size, self.shift_size = window_size, shift_size
        self.attn = WindowAttention(
            dim,
            num_heads,
            window_size,
            qkv_bias=qkv_bias,
            pretrained_window_size=pretrained_window_size,
            attn_drop=attn_drop,
            proj_drop=drop,
        )
        self.norm1 = nn.LayerNorm(dim)
        self.drop_path = _DropPath(drop_path)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio), drop)
        self.norm2 = nn.LayerNorm(dim)

    def _attention(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        ws, s = self.window_size, self.shift_size
        ph, pw = (-h) % ws, (-w) % ws
        if ph or pw:
            x = F.pad(x, (0, 0, 0, pw, 0, ph))
        hp, wp = h + ph, w + pw
        if s > 0:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))
        mask = _shift_mask(hp, wp, ws, s, x.device) if s > 0 else None
        x = self.attn(_window_partition(x, ws), mask)
        x = _window_reverse(x, ws, hp, wp)
        if s > 0:
            x = torch.roll(x, shifts=(s, s), dims=(1, 2))
        if ph or pw:
            x = x[:, :h, :w].contiguous()
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.norm1(self._attention(x)))
        return x + self.drop_path(self.norm2(self.mlp(x)))


class PatchMerging(nn.Module):
    """2×2 neighbours → ``cat`` (order (0,0), (1,0), (0,1), (1,1)) → Linear 4C→2C → LayerNorm."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(2 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[1:3]
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.norm(self.reduction(x))


class SwinV2Stage(nn.Module):
    """``depth`` blocks (every second one shifted), then optional patch merging."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: int,
        *,
        shift: bool,
        downsample: bool,
        mlp_ratio: float,
        qkv_bias: bool,
        drop: float,
        attn_drop: float,
        drop_path: Sequence[float],
        pretrained_window_size: int,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinV2Block(
                dim,
                num_heads,
                window_size,
                shift_size=window_size // 2 if (shift and i % 2 == 1) else 0,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop=drop,
                attn_drop=attn_drop,
                drop_path=drop_path[i],
                pretrained_window_size=pretrained_window_size,
            )
            for i in range(depth)
        )
        self.downsample = PatchMerging(dim) if downsample else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return (output before merging, merged output or ``None`` for the last stage)."""
        for block in self.blocks:
            x = block(x)
        return x, (self.downsample(x) if self.downsample is not None else None)


@register_model(
    "swinv2",
    presets={
        "published": {},
        "small": dict(embed_dim=24, depths=[2, 2], num_heads=[2, 4], window_size=4, img_size=32),
    },
)
class SwinV2Encoder(WorkbenchModel):
    """Swin Transformer V2 encoder returning multi-scale feature maps for a U-shaped decoder.

    **For**: the backbone of :class:`workbench.models.SSL4SARHybrid`; any single- or
    multi-channel image encoder; loading published Swin V2 weights
    (:func:`load_pretrained_swinv2`).

    **Input** ``B × in_chans × H × W``, any ``H, W`` (zero-padded bottom/right internally).
    **Output** a list of ``len(depths)`` tensors ``B × (embed_dim·2^i) × ceil(H/(p·2^i)) ×
    ceil(W/(p·2^i))`` at strides ``p·2^i`` (4, 8, 16, 32 for the tiny model); the first
    ``n-1`` are the stage outputs before patch merging, the last is the last stage's output
    after the final LayerNorm (exactly ``Swinv2Model``'s ``last_hidden_state``).

    **Paper**: Liu et al. 2022, Swin Transformer V2 (CVPR); configuration "tiny" as used by
    SSL4SAR (Gourmelon et al. 2025): patch 4, embed 96, depths [2, 2, 6, 2], heads
    [3, 6, 12, 24], window 16, MLP ratio 4, one SAR channel.

    **Parameters at the published configuration**: 27.58 M (27,575,082) with 1 input channel;
    published about 27.6 M (docs/science.md §1.7; timm's 28.35 M ``swinv2_tiny`` minus its 0.77 M
    ImageNet head, with 3 input channels: 27,578,154 here).

    Parameters
    ----------
    in_chans
        Input channels.
    patch_size
        Patch embedding size (stride of the first feature map).
    embed_dim
        Channels of the first stage (doubled at every stage).
    depths, num_heads
        Blocks and attention heads per stage.
    window_size
        Attention window (tokens).
    mlp_ratio
        MLP hidden size / dim.
    qkv_bias
        Learnable query and value biases (the key has none, as in the paper).
    drop_rate, attn_drop_rate, drop_path_rate
        Dropout after projections/MLP, on attention weights, and the stochastic-depth rate
        (linearly increasing over blocks up to this value).
    img_size
        The training input size, which fixes per-stage windows like HF/timm/the paper (see
        the module docstring); ``None`` keeps the full window and shift at every stage.
    pretrained_window_sizes
        Per stage, the window size of pre-training (0: none) — normalises the CPB
        coordinates when fine-tuning at another window size.

    Examples
    --------
    >>> import torch
    >>> enc = SwinV2Encoder(embed_dim=24, depths=(2, 2), num_heads=(2, 4), window_size=4,
    ...                     img_size=32)
    >>> [f.shape[1] for f in enc(torch.zeros(1, 1, 50, 46))]
    [24, 48]
    """

    def __init__(
        self,
        in_chans: int = 1,
        patch_size: int = 4,
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int = 16,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        img_size: int | Sequence[int] | None = 512,
        pretrained_window_sizes: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        depths, num_heads = list(depths), list(num_heads)
        if len(depths) != len(num_heads) or not depths:
            raise ConfigError(
                f"depths {depths} and num_heads {num_heads} differ in length",
                variable="num_heads",
                expected="one head count per stage",
            )
        pws = list(pretrained_window_sizes) if pretrained_window_sizes else [0] * len(depths)
        if len(pws) < len(depths):
            raise ConfigError(
                f"has {len(pws)} entries for {len(depths)} stages",
                variable="pretrained_window_sizes",
            )
        self.num_stages = len(depths)
        self.patch_size = patch_size
        self.out_channels = [embed_dim * 2**i for i in range(self.num_stages)]
        self.strides = [patch_size * 2**i for i in range(self.num_stages)]
        self.patch_embed = PatchEmbed(in_chans, embed_dim, patch_size)
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()
        if img_size is not None:
            ih, iw = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
            grid = (ih // patch_size, iw // patch_size)
        stages = []
        for i, (depth, heads) in enumerate(zip(depths, num_heads, strict=False)):
            ws, shift = window_size, True
            if img_size is not None:
                resolution = min(grid[0] // 2**i, grid[1] // 2**i)
                if resolution <= window_size:
                    ws, shift = max(resolution, 1), False
            stages.append(
                SwinV2Stage(
                    self.out_channels[i],
                    depth,
                    heads,
                    ws,
                    shift=shift,
                    downsample=i < self.num_stages - 1,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=dpr[sum(depths[:i]) : sum(depths[: i + 1])],
                    pretrained_window_size=pws[i],
                )
            )
        self.layers = nn.ModuleList(stages)
        self.norm = nn.LayerNorm(self.out_channels[-1])

    @property
    def window_sizes(self) -> list[int]:
        """The window actually used by each stage (after the ``img_size`` clamp)."""
        return [stage.blocks[0].window_size for stage in self.layers]  # type: ignore[index,union-attr]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.pos_drop(self.patch_embed(x))
        features = []
        for stage in self.layers:
            out, merged = stage(x)
            if merged is None:
                out = self.norm(out)
            features.append(out.permute(0, 3, 1, 2).contiguous())
            x = merged if merged is not None else out
        return features


# --------------------------------------------------------------------------- key mappings

_HF_BLOCK = {
    "attention.self.logit_scale": "attn.logit_scale",
    "attention.self.continuous_position_bias_mlp.0.weight": "attn.cpb_mlp.0.weight",
    "attention.self.continuous_position_bias_mlp.0.bias": "attn.cpb_mlp.0.bias",
    "attention.self.continuous_position_bias_mlp.2.weight": "attn.cpb_mlp.2.weight",
    "attention.self.query.bias": "attn.q_bias",
    "attention.self.value.bias": "attn.v_bias",
    "attention.output.dense.weight": "attn.proj.weight",
    "attention.output.dense.bias": "attn.proj.bias",
    "layernorm_before.weight": "norm1.weight",
    "layernorm_before.bias": "norm1.bias",
    "intermediate.dense.weight": "mlp.fc1.weight",
    "intermediate.dense.bias": "mlp.fc1.bias",
    "output.dense.weight": "mlp.fc2.weight",
    "output.dense.bias": "mlp.fc2.bias",
    "layernorm_after.weight": "norm2.weight",
    "layernorm_after.bias": "norm2.bias",
}
_HF_TOP = {
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "embeddings.norm.weight": "patch_embed.norm.weight",
    "embeddings.norm.bias": "patch_embed.norm.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
}
# keys of published checkpoints that an encoder does not use (heads, buffers, SimMIM parts)
_IGNORED = re.compile(
    r"(^|\.)(relative_coords_table|relative_position_index|attn_mask|k_bias)$"
    r"|^(pooler|classifier|head|decoder)\.|^embeddings\.mask_token$|^mask_token$"
)


def convert_hf_swinv2_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a ``transformers`` ``Swinv2Model`` state dict onto :class:`SwinV2Encoder` keys.

    The mapping (``i`` stage, ``j`` block)::

        embeddings.patch_embeddings.projection.*        → patch_embed.proj.*
        embeddings.norm.*                               → patch_embed.norm.*
        encoder.layers.i.blocks.j.attention.self.
            query.weight, key.weight, value.weight      → layers.i.blocks.j.attn.qkv.weight (cat)
            query.bias, value.bias                      → ….attn.q_bias, ….attn.v_bias
            logit_scale                                 → ….attn.logit_scale
            continuous_position_bias_mlp.{0,2}.*        → ….attn.cpb_mlp.{0,2}.*
        ….attention.output.dense.*                      → ….attn.proj.*
        ….layernorm_before.* / layernorm_after.*        → ….norm1.* / ….norm2.*
        ….intermediate.dense.* / output.dense.*         → ….mlp.fc1.* / ….mlp.fc2.*
        encoder.layers.i.downsample.{reduction,norm}.*  → layers.i.downsample.{reduction,norm}.*
        layernorm.*                                     → norm.*

    A ``swinv2.`` prefix (classification / SimMIM models) is stripped; heads, the pooler, the
    mask token and non-persistent buffers are dropped. Unknown keys raise
    :class:`CheckpointError`, as do absolute position embeddings (not supported).
    """
    sd = {k.removeprefix("swinv2."): v for k, v in state_dict.items()}
    out: dict[str, torch.Tensor] = {}
    qkv: dict[str, dict[str, torch.Tensor]] = {}
    unknown = []
    for key, value in sd.items():
        if _IGNORED.search(key):
            continue
        if key in _HF_TOP:
            out[_HF_TOP[key]] = value
            continue
        m = re.fullmatch(r"encoder\.layers\.(\d+)\.blocks\.(\d+)\.(.+)", key)
        if m:
            prefix = f"layers.{m[1]}.blocks.{m[2]}."
            rest = m[3]
            if rest in _HF_BLOCK:
                out[prefix + _HF_BLOCK[rest]] = value
            elif rest in (
                "attention.self.query.weight",
                "attention.self.key.weight",
                "attention.self.value.weight",
            ):
                qkv.setdefault(prefix, {})[rest.split(".")[2]] = value
            else:
                unknown.append(key)
            continue
        m = re.fullmatch(
            r"encoder\.layers\.(\d+)\.downsample\."
            r"(reduction\.weight|norm\.weight|norm\.bias)",
            key,
        )
        if m:
            out[f"layers.{m[1]}.downsample.{m[2]}"] = value
            continue
        unknown.append(key)
    for prefix, parts in qkv.items():
        if set(parts) != {"query", "key", "value"}:
            missing = sorted({"query", "key", "value"} - set(parts))
            raise CheckpointError(
                f"block {prefix} lacks the {missing} weight(s)",
                expected="query, key and value weights in every block",
            )
        out[prefix + "attn.qkv.weight"] = torch.cat([parts["query"], parts["key"], parts["value"]])
    if unknown:
        raise CheckpointError(
            f"has keys that are not part of a Swin V2 encoder: {unknown[:20]}",
            expected="the transformers Swinv2Model key layout",
        )
    return out


def convert_timm_swinv2_state_dict(
    state_dict: Mapping[str, torch.Tensor],
) -> dict[str, torch.Tensor]:
    """Map a timm / Microsoft Swin V2 state dict onto :class:`SwinV2Encoder` keys.

    Our keys *are* the Microsoft / timm < 0.9 layout, so this only drops heads and buffers
    (``relative_position_index``, ``relative_coords_table``, ``attn_mask``, ``k_bias``) and,
    for timm ≥ 0.9 checkpoints (no ``layers.0.downsample``: merging sits at the start of the
    next stage), moves ``layers.N.downsample`` to ``layers.(N-1).downsample``.
    Absolute position embeddings (``absolute_pos_embed``) raise :class:`CheckpointError`.
    """
    sd = {k: v for k, v in state_dict.items() if not _IGNORED.search(k)}
    if "absolute_pos_embed" in sd:
        raise CheckpointError(
            "uses absolute position embeddings, which SwinV2Encoder lacks",
            variable="absolute_pos_embed",
            expected="a model with ape=False",
        )
    has_downsample = [int(m[1]) for k in sd if (m := re.match(r"layers\.(\d+)\.downsample\.", k))]
    new_layout = bool(has_downsample) and min(has_downsample) > 0
    if not new_layout:
        return sd
    out = {}
    for k, v in sd.items():
        k = re.sub(
            r"^layers\.(\d+)\.downsample\.", lambda m: f"layers.{int(m[1]) - 1}.downsample.", k
        )
        out[k] = v
    return out


def adapt_stem(weight: torch.Tensor, in_chans: int, stem: str = "mean") -> torch.Tensor:
    """Adapt a patch-embedding weight ``C_out × C_ckpt × p × p`` to ``in_chans`` channels.

    ``"sum"``: the RGB filters summed — the network sees a single-channel image as if it were
    repeated into the three RGB channels (what docs/science.md §1.7 describes). ``"mean"``: their
    mean (a third of that; keeps the first activations' scale for an image normalised like one
    RGB channel). For ``in_chans > 1`` the reduced filter is repeated and divided by
    ``in_chans``, so an image repeated into all channels gives the same output. Weights that
    already have ``in_chans`` channels are returned unchanged.
    """
    if weight.shape[1] == in_chans:
        return weight
    if stem not in ("mean", "sum"):
        raise ConfigError(f"is {stem!r}", variable="stem", expected="'mean' or 'sum'")
    reduced = weight.sum(1, keepdim=True) if stem == "sum" else weight.mean(1, keepdim=True)
    return reduced.repeat(1, in_chans, 1, 1) / in_chans


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(path), device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError("does not exist", path=path) from None
    except Exception as exc:  # truncated zip, foreign pickle, bad safetensors header, ...
        raise CheckpointError(
            f"cannot be read as a weights file ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})",
            path=path,
            expected="a torch state dict (.pth/.bin/.pt) or .safetensors",
        ) from None
    for wrapper in ("model", "state_dict", "model_state_dict", "module"):
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(
            "does not hold a state dict of tensors",
            path=path,
            expected="a mapping of parameter names to tensors",
        )
    return dict(obj)


def _to_encoder_layout(
    sd: dict[str, torch.Tensor], path: Path
) -> tuple[dict[str, torch.Tensor], str]:
    hf_suffix = "embeddings.patch_embeddings.projection.weight"
    hf_key = next((k for k in sd if k.endswith(hf_suffix)), None)
    timm_key = next((k for k in sd if k.endswith("patch_embed.proj.weight")), None)
    if hf_key is not None:
        prefix = hf_key[: -len("embeddings.patch_embeddings.projection.weight")]
        sub = {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)}
        return convert_hf_swinv2_state_dict(sub), "transformers"
    if timm_key is not None:
        prefix = timm_key[: -len("patch_embed.proj.weight")]
        sub = {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)}
        return convert_timm_swinv2_state_dict(sub), "timm"
    raise CheckpointError(
        f"is not a Swin V2 checkpoint; its first keys are {sorted(sd)[:8]}",
        path=path,
        variable="patch embedding",
        expected="'patch_embed.proj.weight' (timm/Microsoft) or "
        "'embeddings.patch_embeddings.projection.weight' (transformers)",
    )


def _infer_architecture(sd: Mapping[str, torch.Tensor], path: Path) -> dict[str, Any]:
    try:
        proj = sd["patch_embed.proj.weight"]
        stages = sorted({int(m[1]) for k in sd if (m := re.match(r"layers\.(\d+)\.blocks\.", k))})
        depths = []
        for s in stages:
            pattern = re.compile(rf"layers\.{s}\.blocks\.(\d+)\.")
            depths.append(len({int(m[1]) for k in sd if (m := pattern.match(k))}))
        heads = [sd[f"layers.{s}.blocks.0.attn.logit_scale"].shape[0] for s in stages]
        fc1 = sd["layers.0.blocks.0.mlp.fc1.weight"]
    except KeyError as exc:
        raise CheckpointError(
            f"lacks key {exc.args[0]!r} needed to infer the architecture",
            path=path,
            expected="a complete Swin V2 state dict",
        ) from None
    return dict(
        patch_size=proj.shape[-1],
        embed_dim=proj.shape[0],
        depths=depths,
        num_heads=heads,
        mlp_ratio=fc1.shape[0] / fc1.shape[1],
        qkv_bias="layers.0.blocks.0.attn.q_bias" in sd,
    )


def load_pretrained_swinv2(
    path: str | os.PathLike[str],
    in_chans: int = 1,
    stem: str = "mean",
    *,
    model: SwinV2Encoder | None = None,
    **encoder_kwargs: Any,
) -> SwinV2Encoder:
    """Load a published Swin V2 checkpoint file into a :class:`SwinV2Encoder`.

    Reads ``torch.save`` files (``weights_only=True``; a ``{"model": sd}`` or
    ``{"state_dict": sd}`` wrapper is unwrapped) and ``.safetensors`` files, in the
    ``transformers`` layout (``embeddings.…``, ``encoder.layers.…``, optional ``swinv2.``
    prefix) or the timm / Microsoft layout (``patch_embed.…``, ``layers.N.…``, both the old
    and the timm ≥ 0.9 ``downsample`` placement). Classification heads and buffers are
    dropped; a 3-channel stem is adapted to ``in_chans`` with :func:`adapt_stem`.

    Parameters
    ----------
    path
        The checkpoint file.
    in_chans
        Input channels of the encoder (1 for SAR).
    stem
        ``"mean"`` or ``"sum"`` of the RGB filters (see :func:`adapt_stem`).
    model
        An encoder to load into (e.g. ``hybrid.encoder``); its architecture must match.
        Without it one is built from the architecture found in the file plus
        ``encoder_kwargs`` (``window_size``, ``img_size``, ``pretrained_window_sizes``,
        ``drop_path_rate``…: the window cannot be read from the weights — the CPB MLP works
        for any window).

    Raises
    ------
    CheckpointError
        Unreadable file, not a Swin V2 state dict, or keys / shapes that do not match the
        encoder (the message lists them).

    Examples
    --------
    >>> enc = load_pretrained_swinv2("swinv2_tiny_patch4_window16_256.pth", in_chans=1,
    ...                              stem="mean", window_size=16, img_size=512)  # doctest: +SKIP
    """
    path = Path(path)
    sd, layout = _to_encoder_layout(_read_state_dict(path), path)
    if "patch_embed.proj.weight" in sd:
        sd["patch_embed.proj.weight"] = adapt_stem(sd["patch_embed.proj.weight"], in_chans, stem)
    if model is None:
        arch = _infer_architecture(sd, path)
        arch.update(encoder_kwargs)
        arch["in_chans"] = in_chans
        model = SwinV2Encoder(**arch)
    elif encoder_kwargs:
        raise ConfigError(
            "encoder_kwargs are only used when no model is given", variable=",".join(encoder_kwargs)
        )
    expected = model.state_dict()
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    mismatched = [
        f"{k}: file {tuple(sd[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(sd) & set(expected))
        if sd[k].shape != expected[k].shape
    ]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:20]}{' …' if len(missing) > 20 else ''}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:20]}{' …' if len(unexpected) > 20 else ''}")
        if mismatched:
            parts.append(f"shape mismatches {mismatched[:20]}")
        raise CheckpointError(
            f"does not fit the encoder ({layout} layout): " + "; ".join(parts),
            path=path,
            expected="a Swin V2 checkpoint of the same architecture",
        )
    model.load_state_dict(sd, strict=True)
    return model
