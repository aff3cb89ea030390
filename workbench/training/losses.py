"""Segmentation losses of the papers: cross-entropy + Dice (SSL4SAR) and focal loss (Svalbard).

Every loss takes ``logits`` ``B × K × H × W``, integer ``target`` ``B × H × W`` and an optional
boolean ``valid`` mask ``B × H × W`` (pixels where it is ``False`` are ignored, e.g. padding
beyond the image border or nodata). Pixels whose target equals ``ignore_index`` are ignored
too. Losses are means over the counted pixels, so a batch with more padding does not weigh
less.

* :func:`cross_entropy` — cross-entropy with label smoothing and class weights, reduced the way
  :func:`torch.nn.functional.cross_entropy` reduces it (weighted mean).
* :func:`dice_loss` — soft multi-class Dice, ``1 − mean_k (2 Σ p t + s) / (Σ p + Σ t + s)``, the
  sums pooled over the batch (classes absent from prediction and target count as perfect).
* :func:`focal_loss` — ``−Σ_k w_k q_k (1 − p_k)^γ log p_k`` with label-smoothed targets ``q``;
  with ``γ = 0`` it equals :func:`cross_entropy` exactly.
* :class:`SegmentationLoss` — a configurable weighted sum of those (``"ce_dice"`` 0.5/0.5 by
  default; ``"focal"`` with γ = 2 and smoothing 0.1 for the time-series models).

Examples
--------
>>> import torch
>>> target = torch.tensor([[[0, 1], [1, 0]]])
>>> perfect = 50.0 * torch.nn.functional.one_hot(target, 2).permute(0, 3, 1, 2).float()
>>> round(dice_loss(perfect, target).item(), 6)
0.0
>>> loss = SegmentationLoss("ce_dice", num_classes=2, label_smoothing=0.0)
>>> loss(perfect, target).item() < 1e-6
True
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from workbench.errors import ConfigError

__all__ = [
    "LOSS_KINDS",
    "cross_entropy",
    "dice_loss",
    "focal_loss",
    "binary_front_loss",
    "SegmentationLoss",
]

LOSS_KINDS: tuple[str, ...] = ("ce_dice", "ce", "dice", "focal", "focal_dice")
"""Names accepted by :class:`SegmentationLoss`."""


def _keep_mask(target: torch.Tensor, valid: torch.Tensor | None, ignore_index: int) -> torch.Tensor:
    keep = target != ignore_index
    if valid is not None:
        if valid.shape != target.shape:
            raise ConfigError(
                f"valid mask has shape {tuple(valid.shape)}, target {tuple(target.shape)}",
                variable="valid",
                expected="a B × H × W mask like the target",
            )
        keep = keep & valid.bool()
    return keep


def _check(logits: torch.Tensor, target: torch.Tensor) -> None:
    if logits.ndim < 2 or target.shape != logits.shape[:1] + logits.shape[2:]:
        raise ConfigError(
            f"logits {tuple(logits.shape)} do not fit target {tuple(target.shape)}",
            variable="target",
            expected="logits B × K × H × W and target B × H × W",
        )


def _weights(
    class_weights: torch.Tensor | Sequence[float] | None, k: int, like: torch.Tensor
) -> torch.Tensor | None:
    if class_weights is None:
        return None
    w = torch.as_tensor(class_weights, dtype=like.dtype, device=like.device)
    if w.shape != (k,):
        raise ConfigError(
            f"has {w.numel()} values for {k} classes",
            variable="class_weights",
            expected=f"{k} non-negative weights",
        )
    return w


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float = 2.0,
    label_smoothing: float = 0.0,
    class_weights: torch.Tensor | Sequence[float] | None = None,
    valid: torch.Tensor | None = None,
    ignore_index: int = -100,
) -> torch.Tensor:
    """Focal loss (Lin et al. 2017) with label smoothing; ``gamma=0`` is cross-entropy.

    Per pixel ``i``: ``l_i = −Σ_k w_k q_ik (1 − p_ik)^γ log p_ik`` with
    ``q_i = (1 − ε)·onehot(y_i) + ε/K``; the result is ``Σ_i l_i / Σ_i w_{y_i}`` over the
    counted pixels (the reduction :func:`torch.nn.functional.cross_entropy` uses with weights).

    Parameters
    ----------
    logits, target
        ``B × K × …`` logits and ``B × …`` class ids.
    gamma
        Focusing parameter (2 in the Svalbard study).
    label_smoothing
        ``ε`` in ``[0, 1)`` (0.1 in the Svalbard study).
    class_weights
        Optional ``K`` weights.
    valid, ignore_index
        Pixels to ignore (see the module docstring).

    Examples
    --------
    >>> logits = torch.randn(2, 3, 4, 4); target = torch.randint(0, 3, (2, 4, 4))
    >>> ce = torch.nn.functional.cross_entropy(logits, target, label_smoothing=0.1)
    >>> bool(torch.isclose(focal_loss(logits, target, gamma=0, label_smoothing=0.1), ce))
    True
    """
    _check(logits, target)
    if not 0.0 <= label_smoothing < 1.0:
        raise ConfigError(
            f"is {label_smoothing}", variable="label_smoothing", expected="0 <= label_smoothing < 1"
        )
    k = logits.shape[1]
    keep = _keep_mask(target, valid, ignore_index)
    safe = torch.where(keep, target, torch.zeros_like(target)).long()
    logp = F.log_softmax(logits.float(), dim=1)
    q = F.one_hot(safe, k).movedim(-1, 1).to(logp.dtype)
    q = q * (1.0 - label_smoothing) + label_smoothing / k
    mod = (1.0 - logp.exp()).clamp_min(0.0).pow(gamma) if gamma else torch.ones_like(logp)
    w = _weights(class_weights, k, logp)
    term = q * mod * logp
    if w is not None:
        term = term * w.view(1, k, *([1] * (logits.ndim - 2)))
    per_px = -term.sum(dim=1)
    denom = w[safe] if w is not None else torch.ones_like(per_px)
    keep_f = keep.to(per_px.dtype)
    total = (denom * keep_f).sum()
    return (per_px * keep_f).sum() / total.clamp_min(torch.finfo(per_px.dtype).tiny)


def cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    label_smoothing: float = 0.0,
    class_weights: torch.Tensor | Sequence[float] | None = None,
    valid: torch.Tensor | None = None,
    ignore_index: int = -100,
) -> torch.Tensor:
    """Cross-entropy with label smoothing, class weights and a valid mask.

    Equal to :func:`torch.nn.functional.cross_entropy` (``reduction="mean"``) on the counted
    pixels; it is :func:`focal_loss` with ``γ = 0``.
    """
    return focal_loss(
        logits,
        target,
        gamma=0.0,
        label_smoothing=label_smoothing,
        class_weights=class_weights,
        valid=valid,
        ignore_index=ignore_index,
    )


def dice_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    smooth: float = 1.0,
    class_weights: torch.Tensor | Sequence[float] | None = None,
    valid: torch.Tensor | None = None,
    ignore_index: int = -100,
) -> torch.Tensor:
    """Soft multi-class Dice loss on the softmax probabilities.

    ``1 − Σ_k w_k D_k / Σ_k w_k`` with ``D_k = (2 Σ p_k t_k + s) / (Σ p_k + Σ t_k + s)``,
    sums over every counted pixel of the batch. A perfect prediction gives 0; a class absent
    from both prediction and target gives ``D_k = 1``.

    Examples
    --------
    >>> target = torch.zeros(1, 4, 4, dtype=torch.long)
    >>> wrong = torch.tensor([-20.0, 20.0]).view(1, 2, 1, 1).expand(1, 2, 4, 4)
    >>> round(dice_loss(wrong, target, smooth=0.0).item(), 3)      # class 0 D=0, class 1 D=0
    1.0
    """
    _check(logits, target)
    k = logits.shape[1]
    keep = _keep_mask(target, valid, ignore_index)
    safe = torch.where(keep, target, torch.zeros_like(target)).long()
    probs = F.softmax(logits.float(), dim=1)
    onehot = F.one_hot(safe, k).movedim(-1, 1).to(probs.dtype)
    m = keep.unsqueeze(1).to(probs.dtype)
    dims = [0] + list(range(2, logits.ndim))
    inter = (probs * onehot * m).sum(dims)
    card = (probs * m).sum(dims) + (onehot * m).sum(dims)
    dice = (2.0 * inter + smooth) / (card + smooth).clamp_min(torch.finfo(probs.dtype).tiny)
    w = _weights(class_weights, k, probs)
    if w is None:
        return 1.0 - dice.mean()
    return 1.0 - (w * dice).sum() / w.sum().clamp_min(torch.finfo(probs.dtype).tiny)


def binary_front_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    pos_weight: float = 1.0,
    valid: torch.Tensor | None = None,
) -> torch.Tensor:
    """Binary cross-entropy of a ``B × 1 × H × W`` front head against a ``B × H × W`` mask.

    ``pos_weight`` up-weights the rare front pixels (a one-pixel line is ~0.5 % of a patch).
    """
    if logits.ndim == target.ndim + 1:
        logits = logits.squeeze(1)
    if logits.shape != target.shape:
        raise ConfigError(
            f"front logits {tuple(logits.shape)} vs mask {tuple(target.shape)}",
            variable="front",
            expected="B × 1 × H × W logits and a B × H × W mask",
        )
    per_px = F.binary_cross_entropy_with_logits(
        logits.float(),
        target.float(),
        reduction="none",
        pos_weight=torch.tensor(float(pos_weight), device=logits.device),
    )
    if valid is None:
        return per_px.mean()
    m = valid.to(per_px.dtype)
    return (per_px * m).sum() / m.sum().clamp_min(1.0)


class SegmentationLoss(nn.Module):
    """A weighted sum of cross-entropy / focal and Dice terms.

    Parameters
    ----------
    kind
        ``"ce_dice"`` (SSL4SAR: ``ce_weight``·CE + ``dice_weight``·Dice), ``"ce"``, ``"dice"``,
        ``"focal"`` (the Svalbard models) or ``"focal_dice"`` (``ce_weight``·focal +
        ``dice_weight``·Dice).
    num_classes
        ``K``; checked against the logits.
    ce_weight, dice_weight
        Weights of the two terms of the combined kinds (0.5 / 0.5 by default).
    label_smoothing
        Label smoothing of the CE / focal term.
    gamma
        Focal exponent.
    class_weights
        Optional per-class weights (CE / focal and Dice).
    ignore_index
        Target value to ignore.
    dice_smooth
        Additive smoothing of the Dice ratio.

    Examples
    --------
    >>> loss = SegmentationLoss("focal", num_classes=2, gamma=2.0, label_smoothing=0.1)
    >>> logits = torch.zeros(1, 2, 3, 3); target = torch.ones(1, 3, 3, dtype=torch.long)
    >>> round(loss(logits, target).item(), 4)          # 0.5² · log 2
    0.1733
    """

    def __init__(
        self,
        kind: str = "ce_dice",
        *,
        num_classes: int | None = None,
        ce_weight: float = 0.5,
        dice_weight: float = 0.5,
        label_smoothing: float = 0.0,
        gamma: float = 2.0,
        class_weights: Sequence[float] | None = None,
        ignore_index: int = -100,
        dice_smooth: float = 1.0,
    ) -> None:
        super().__init__()
        if kind not in LOSS_KINDS:
            raise ConfigError(
                f"is {kind!r}", variable="loss.kind", expected=f"one of {list(LOSS_KINDS)}"
            )
        if class_weights is not None:
            cw = torch.as_tensor(list(class_weights), dtype=torch.float32)
            if num_classes is not None and cw.numel() != num_classes:
                raise ConfigError(
                    f"has {cw.numel()} values for {num_classes} classes",
                    variable="loss.class_weights",
                    expected=f"{num_classes} non-negative weights",
                )
            if (cw < 0).any():
                raise ConfigError(
                    f"is {cw.tolist()}",
                    variable="loss.class_weights",
                    expected="non-negative weights",
                )
            self.register_buffer("class_weights", cw, persistent=False)
        else:
            self.class_weights = None
        self.kind = kind
        self.num_classes = num_classes
        self.ce_weight = float(ce_weight)
        self.dice_weight = float(dice_weight)
        self.label_smoothing = float(label_smoothing)
        self.gamma = float(gamma)
        self.ignore_index = int(ignore_index)
        self.dice_smooth = float(dice_smooth)

    def extra_repr(self) -> str:
        return (
            f"kind={self.kind!r}, ce_weight={self.ce_weight}, dice_weight={self.dice_weight}, "
            f"label_smoothing={self.label_smoothing}, gamma={self.gamma}"
        )

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The loss of ``logits`` against ``target`` on the ``valid`` pixels."""
        if self.num_classes is not None and logits.shape[1] != self.num_classes:
            raise ConfigError(
                f"logits have {logits.shape[1]} classes",
                variable="num_classes",
                expected=f"{self.num_classes} classes",
            )
        kw = dict(class_weights=self.class_weights, valid=valid, ignore_index=self.ignore_index)
        if self.kind in ("ce", "ce_dice"):
            first = focal_loss(
                logits, target, gamma=0.0, label_smoothing=self.label_smoothing, **kw
            )
        elif self.kind in ("focal", "focal_dice"):
            first = focal_loss(
                logits, target, gamma=self.gamma, label_smoothing=self.label_smoothing, **kw
            )
        else:
            first = None
        if self.kind in ("ce", "focal"):
            return first
        dice = dice_loss(logits, target, smooth=self.dice_smooth, **kw)
        if first is None:
            return dice
        return self.ce_weight * first + self.dice_weight * dice
