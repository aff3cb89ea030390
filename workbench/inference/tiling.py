"""The one tiled predictor: windows, overlap, blending weight and batching of whole images.

Training validation (:meth:`workbench.training.BaseTask.predict_full`), ``workbench evaluate``
and ``workbench predict`` all go through :func:`predict_tiled`, so a validation MDE and a
prediction product of the same checkpoint come from the same numbers.

Examples
--------
>>> import torch
>>> from workbench.models import create_model
>>> model = create_model("caffe_unet", preset="small").eval()
>>> tuple(predict_tiled(model, torch.zeros(1, 1, 20, 24), window=16)["logits"].shape)
(1, 4, 20, 24)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from workbench.data.patches import grid_starts
from workbench.errors import ConfigError
from workbench.inference.blending import SIGMA_SCALE, window_weights
from workbench.models import SegmentationOutput

__all__ = ["SIGMA_SCALE", "predict_tiled"]


def _spatial(x: Any) -> tuple[int, int]:
    ref = _first(x)
    return int(ref.shape[-2]), int(ref.shape[-1])


def _first(x: Any) -> torch.Tensor:
    return next(v for v in x.values() if v is not None) if isinstance(x, Mapping) else x


def _map(x: Any, fn: Any) -> Any:
    if isinstance(x, Mapping):
        return {k: (fn(v) if v is not None else None) for k, v in x.items()}
    return fn(x)


@torch.no_grad()
def predict_tiled(
    model: torch.nn.Module,
    image: Any,
    *,
    window: int,
    keep: int | None = None,
    overlap: float = 0.5,
    batch_size: int = 8,
    weighting: str = "uniform",
    sigma_scale: float = SIGMA_SCALE,
) -> dict[str, torch.Tensor]:
    """Sliding-window prediction of whole images: ``{"logits": B×K×H×W[, "front": B×1×H×W]}``.

    The image (``B × … × H × W`` or a dict of those) is zero-padded (0 = the channel mean after
    normalisation) and cut into ``window``-sized tiles; only the centre ``keep`` pixels of
    each tile's output are used (``keep < window``: target/context inference, every pixel is
    predicted with context around it), and overlapping predictions are averaged with the
    weights of :func:`~workbench.inference.blending.window_weights` over the kept centre
    (``"uniform"``, ``"gaussian"`` with σ = ``sigma_scale`` × keep, or ``"cosine"``).

    Examples
    --------
    >>> from workbench.models import create_model
    >>> model = create_model("caffe_unet", preset="small").eval()
    >>> out = predict_tiled(model, torch.zeros(1, 1, 40, 50), window=32, keep=16)
    >>> tuple(out["logits"].shape)
    (1, 4, 40, 50)
    """
    h, w = _spatial(image)
    keep = int(keep or window)
    window = int(window)
    if keep > window:
        raise ConfigError(
            f"keeps {keep} px of {window} px tiles",
            variable="validation.keep",
            expected="keep ≤ window",
        )
    m = (window - keep) // 2
    m2 = window - keep - m
    pb, pr = max(0, keep - h), max(0, keep - w)
    padded = _map(image, lambda t: F.pad(t, (m, m2 + pr, m, m2 + pb)))
    ys = grid_starts(h + pb, keep, overlap)
    xs = grid_starts(w + pr, keep, overlap)
    positions = [(y, x) for y in ys for x in xs]
    weight = torch.from_numpy(window_weights(keep, weighting, sigma_scale=sigma_scale))
    acc: dict[str, torch.Tensor] = {}
    wsum = None
    b = _first(image).shape[0]
    per_chunk = max(1, batch_size // max(b, 1))
    for i in range(0, len(positions), per_chunk):
        chunk = positions[i : i + per_chunk]
        tiles = _map(
            padded,
            lambda t, chunk=chunk: torch.cat(
                [t[..., y : y + window, x : x + window] for y, x in chunk], dim=0
            ),
        )
        out = model(tiles)
        outputs = {"logits": out.logits}
        if isinstance(out, SegmentationOutput) and out.front is not None:
            outputs["front"] = out.front
        for name, val in outputs.items():
            val = val[..., m : m + keep, m : m + keep].float()
            if name not in acc:
                acc[name] = torch.zeros(b, val.shape[1], h + pb, w + pr, device=val.device)
            wt = weight.to(val.device)
            for j, (y, x) in enumerate(chunk):
                acc[name][:, :, y : y + keep, x : x + keep] += val[j * b : (j + 1) * b] * wt
        if wsum is None:
            wsum = torch.zeros(h + pb, w + pr, device=acc["logits"].device)
        wt = weight.to(wsum.device)
        for y, x in chunk:
            wsum[y : y + keep, x : x + keep] += wt
    return {k: (v / wsum)[..., :h, :w] for k, v in acc.items()}
