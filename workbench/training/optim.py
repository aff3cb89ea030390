"""Optimisers and learning-rate schedules of the papers.

* SSL4SAR fine-tuning: SGD (momentum 0.9, weight decay 1e-4), lr 0.01; pretraining used
  reduce-on-plateau (factor 0.5, patience 5).
* Svalbard time-series models: Adam lr 5e-4, cosine decay with warm restarts at epochs
  10, 30, 70, 150 (cycles of 10, 20, 40, 80 epochs): :class:`CosineRestartSchedule`.
* Cyclic learning rates (Smith 2017) through :class:`torch.optim.lr_scheduler.CyclicLR`.

:func:`build_optimizer` and :func:`build_scheduler` turn the ``optimizer`` / ``scheduler``
config sections into objects; the latter returns the dict Lightning's
``configure_optimizers`` expects (with ``interval`` and, for plateau, ``monitor``).

Examples
--------
>>> import torch
>>> p = [torch.nn.Parameter(torch.zeros(1))]
>>> opt = build_optimizer(p, name="adam", lr=5e-4)
>>> sched = CosineRestartSchedule(opt, restarts=(10, 30, 70, 150))
>>> lrs = []
>>> for epoch in range(31):
...     lrs.append(opt.param_groups[0]["lr"]); opt.step(); sched.step()
>>> lrs[0] == lrs[10] == lrs[30] == 5e-4, lrs[9] < 0.03 * 5e-4, lrs[29] < 0.01 * 5e-4
(True, True, True)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from workbench.errors import ConfigError

__all__ = [
    "OPTIMIZERS",
    "SCHEDULERS",
    "build_optimizer",
    "build_scheduler",
    "CosineRestartSchedule",
    "cosine_restart_factor",
]

OPTIMIZERS: tuple[str, ...] = ("sgd", "adam", "adamw")
SCHEDULERS: tuple[str, ...] = ("none", "cosine_restarts", "cosine", "plateau", "cyclic")


def build_optimizer(
    params: Iterable[Any],
    name: str = "sgd",
    lr: float = 0.01,
    *,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    nesterov: bool = False,
    betas: Sequence[float] = (0.9, 0.999),
) -> Optimizer:
    """An optimiser by name: ``"sgd"`` (SSL4SAR), ``"adam"`` (Svalbard) or ``"adamw"``.

    Parameters
    ----------
    params
        Parameters (or parameter groups).
    name, lr
        Optimiser and learning rate.
    momentum, nesterov
        SGD only (0.9 in SSL4SAR).
    weight_decay
        L2 penalty (SGD, Adam) or decoupled decay (AdamW); 1e-4 in SSL4SAR.
    betas
        Adam / AdamW only.
    """
    name = str(name).lower()
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ConfigError(f"is {lr!r}", variable="optimizer.lr", expected="a positive number")
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov
        )
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay)
    raise ConfigError(
        f"is {name!r}", variable="optimizer.name", expected=f"one of {list(OPTIMIZERS)}"
    )


def cosine_restart_factor(epoch: int, restarts: Sequence[int], eta_min_ratio: float = 0.0) -> float:
    """Multiplier of the base learning rate at ``epoch`` under cosine decay with warm restarts.

    Cycles are ``[0, r0), [r0, r1), …``: within a cycle ``[a, b)`` the factor is
    ``m + (1 − m)·(1 + cos(π (epoch − a) / (b − a))) / 2`` with ``m = eta_min_ratio``, so it
    is 1 at every restart epoch ``r_i`` and falls towards ``m`` just before the next one.
    After the last restart the last cycle length repeats.

    Examples
    --------
    >>> [round(cosine_restart_factor(e, (10, 30)), 3) for e in (0, 5, 9, 10, 20, 30, 40)]
    [1.0, 0.5, 0.024, 1.0, 0.5, 1.0, 0.5]
    """
    bounds = [0, *[int(r) for r in restarts]]
    if epoch >= bounds[-1]:
        length = bounds[-1] - bounds[-2]
        start = bounds[-1] + ((epoch - bounds[-1]) // length) * length
    else:
        i = bisect.bisect_right(bounds, epoch) - 1
        start, length = bounds[i], bounds[i + 1] - bounds[i]
    t = (epoch - start) / length
    return eta_min_ratio + (1.0 - eta_min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


class CosineRestartSchedule(LambdaLR):
    """Cosine decay with warm restarts at given epochs (stepped once per epoch).

    With ``restarts=(10, 30, 70, 150)`` (the Svalbard schedule) the learning rate is the base
    value at epochs 0, 10, 30, 70 and 150 and decays along a half cosine in between (cycles of
    10, 20, 40, 80 epochs) — :class:`torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`
    with ``T_0=10, T_mult=2`` for that case, but any increasing list of epochs works.

    Parameters
    ----------
    optimizer
        The optimiser.
    restarts
        Strictly increasing positive epochs at which the rate jumps back to its base value.
    eta_min_ratio
        The floor, as a fraction of the base rate (0 by default).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        restarts: Sequence[int] = (10, 30, 70, 150),
        eta_min_ratio: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        r = [int(v) for v in restarts]
        if not r or r[0] <= 0 or any(b <= a for a, b in zip(r, r[1:], strict=False)):
            raise ConfigError(
                f"is {list(restarts)}",
                variable="scheduler.restarts",
                expected="strictly increasing positive epochs, e.g. [10, 30, 70, 150]",
            )
        if not 0.0 <= eta_min_ratio < 1.0:
            raise ConfigError(
                f"is {eta_min_ratio}",
                variable="scheduler.eta_min_ratio",
                expected="0 <= eta_min_ratio < 1",
            )
        self.restarts = tuple(r)
        self.eta_min_ratio = float(eta_min_ratio)
        super().__init__(optimizer, self._factor, last_epoch=last_epoch)

    def _factor(self, epoch: int) -> float:
        return cosine_restart_factor(epoch, self.restarts, self.eta_min_ratio)

    def state_dict(self) -> dict[str, Any]:  # LambdaLR would try to pickle the bound method
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "lr_lambdas"})
        self.lr_lambdas = [self._factor] * len(self.optimizer.param_groups)


def build_scheduler(
    optimizer: Optimizer,
    name: str = "none",
    *,
    max_epochs: int | None = None,
    steps_per_epoch: int | None = None,
    monitor: str = "val_loss",
    mode: str = "min",
    restarts: Sequence[int] = (10, 30, 70, 150),
    eta_min_ratio: float = 0.0,
    factor: float = 0.5,
    patience: int = 5,
    base_lr: float | None = None,
    max_lr: float | None = None,
    step_size_up: int | None = None,
    cyclic_mode: str = "triangular",
    pct_start: float = 0.1,
) -> dict[str, Any] | None:
    """The Lightning ``lr_scheduler`` dict for a scheduler name, or ``None`` for ``"none"``.

    Parameters
    ----------
    optimizer
        The optimiser it drives.
    name
        ``"none"``; ``"cosine_restarts"`` (:class:`CosineRestartSchedule`, per epoch);
        ``"cosine"`` (one cosine decay over ``max_epochs``, per epoch); ``"plateau"``
        (:class:`~torch.optim.lr_scheduler.ReduceLROnPlateau` on ``monitor``, factor 0.5,
        patience 5 by default); ``"cyclic"`` (:class:`~torch.optim.lr_scheduler.CyclicLR`
        between ``base_lr`` and ``max_lr``, per step, half cycle ``step_size_up`` steps —
        default 2 epochs' worth); ``"onecycle"`` (:class:`~torch.optim.lr_scheduler.OneCycleLR`,
        per step over ``max_epochs × steps_per_epoch``: a warm-up over the first ``pct_start``
        of the steps from ``max_lr / 25`` to ``max_lr`` (default: the optimiser's lr), then a
        cosine decay to ``max_lr / 25e4``).
    max_epochs, steps_per_epoch
        Length of training (cosine) and of an epoch in steps (cyclic default).
    monitor, mode
        Metric and direction for plateau.

    Examples
    --------
    >>> p = [torch.nn.Parameter(torch.zeros(1))]
    >>> cfg = build_scheduler(build_optimizer(p, "sgd", 0.01), "plateau", monitor="val_mde")
    >>> cfg["monitor"], cfg["interval"], cfg["scheduler"].factor
    ('val_mde', 'epoch', 0.5)
    """
    name = str(name).lower()
    if name == "none":
        return None
    if name == "cosine_restarts":
        return {
            "scheduler": CosineRestartSchedule(optimizer, restarts, eta_min_ratio),
            "interval": "epoch",
            "frequency": 1,
        }
    if name == "cosine":
        if not max_epochs or max_epochs < 1:
            raise ConfigError(
                f"is {max_epochs!r}",
                variable="trainer.max_epochs",
                expected="a positive number of epochs for the cosine schedule",
            )
        lr0 = [g["lr"] for g in optimizer.param_groups]
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max_epochs, eta_min=eta_min_ratio * min(lr0)
        )
        return {"scheduler": sched, "interval": "epoch", "frequency": 1}
    if name == "plateau":
        if mode not in ("min", "max"):
            raise ConfigError(f"is {mode!r}", variable="scheduler.mode", expected="'min' or 'max'")
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=factor, patience=patience
        )
        return {
            "scheduler": sched,
            "interval": "epoch",
            "frequency": 1,
            "monitor": monitor,
            "strict": True,
        }
    if name == "onecycle":
        if not max_epochs or max_epochs < 1 or not steps_per_epoch:
            raise ConfigError(
                f"max_epochs {max_epochs!r}, steps per epoch {steps_per_epoch!r}",
                variable="scheduler.name",
                expected="a known length of training for the one-cycle schedule",
            )
        top = max_lr if max_lr is not None else optimizer.param_groups[0]["lr"]
        sched = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=top,
            total_steps=int(max_epochs) * int(steps_per_epoch),
            pct_start=float(pct_start),
        )
        return {"scheduler": sched, "interval": "step", "frequency": 1}
    if name == "cyclic":
        lr0 = optimizer.param_groups[0]["lr"]
        base = base_lr if base_lr is not None else lr0 / 10.0
        top = max_lr if max_lr is not None else lr0
        if not 0 < base < top:
            raise ConfigError(
                f"base_lr {base} and max_lr {top}",
                variable="scheduler.max_lr",
                expected="0 < base_lr < max_lr",
            )
        up = step_size_up or max(1, 2 * (steps_per_epoch or 1))
        momentum = "momentum" in optimizer.defaults and optimizer.defaults.get("momentum", 0) > 0
        sched = torch.optim.lr_scheduler.CyclicLR(
            optimizer,
            base_lr=base,
            max_lr=top,
            step_size_up=int(up),
            mode=cyclic_mode,
            cycle_momentum=momentum,
        )
        return {"scheduler": sched, "interval": "step", "frequency": 1}
    raise ConfigError(
        f"is {name!r}", variable="scheduler.name", expected=f"one of {list(SCHEDULERS)}"
    )
