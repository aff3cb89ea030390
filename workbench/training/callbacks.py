"""Callbacks and checkpoint I/O that make training runs robust.

* :class:`ExportBestCheckpoint` — whenever the monitored validation metric improves, write
  the model in the workbench checkpoint format (``best.pt``: weights, model arguments,
  normalisation, classes, run configuration, metrics) atomically, so ``load_model`` works on
  the best model at any time, even if the run is killed later. Its state (the best score so
  far) is saved in Lightning checkpoints, so a resumed run keeps improving on the same best.
* :class:`AtomicCheckpointIO` — Lightning checkpoints (``last.ckpt``, ``best-*.ckpt``) are
  written to a temporary file beside the target and renamed, so a run killed while saving
  never leaves a truncated ``last.ckpt`` to resume from.
* :class:`BatchSeed` — every training batch starts from global RNG states that are a function
  of ``(seed, epoch, batch)``, so dropout and anything else drawing from them gives the same numbers
  in a run resumed after a crash as in an uninterrupted one.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from workbench._io import atomic_path, safe_torch_load

__all__ = ["ExportBestCheckpoint", "AtomicCheckpointIO", "BatchSeed"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Torch checkpoint I/O that writes through a temporary file and an atomic rename, and
    reads with ``weights_only=True`` only."""

    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """Always safe (``weights_only=True``): a planted checkpoint cannot run code; an
        unreadable one is a :class:`~workbench.errors.CheckpointError` naming the file."""
        return safe_torch_load(
            path,
            expected="a Lightning checkpoint written by this run",
            map_location=map_location or "cpu",
        )

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        target = Path(path)
        with atomic_path(target) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options=storage_options)


class ExportBestCheckpoint(L.Callback):
    """Export the model to ``path`` (workbench format) each time ``monitor`` improves.

    Parameters
    ----------
    path
        Target file, e.g. ``run/best.pt``.
    monitor, mode
        The validation metric and ``"min"`` / ``"max"``. NaN never counts as an improvement
        (but the first validation is exported even if NaN, so a model file exists early).
        ``monitor="last"``: no selection, every epoch's model is exported (the file holds the
        last epoch's; ``best_score`` is that epoch number).

    Attributes
    ----------
    best_score
        The best value so far (``None`` before the first validation).
    best_metrics
        Every ``val_*`` metric of the best epoch, plus ``epoch`` and ``monitor``.
    """

    def __init__(self, path: str | Path, monitor: str, mode: str = "min") -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
        if monitor == "last":
            mode = "max"
        self.path = Path(path)
        self.monitor = monitor
        self.mode = mode
        self.best_score: float | None = None
        self.best_metrics: dict[str, Any] = {}

    @property
    def state_key(self) -> str:
        return f"ExportBestCheckpoint[{self.monitor}]"

    def _better(self, value: float) -> bool:
        if self.best_score is None:
            return True
        if not math.isfinite(value):
            return False
        if not math.isfinite(self.best_score):
            return True
        return value < self.best_score if self.mode == "min" else value > self.best_score

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = (
            trainer.current_epoch
            if self.monitor == "last"
            else trainer.callback_metrics.get(self.monitor)
        )
        if value is None:
            return
        value = float(value)
        if not self._better(value):
            return
        metrics = {
            k: float(v)
            for k, v in trainer.callback_metrics.items()
            if k.startswith("val_") and getattr(v, "numel", lambda: 1)() == 1
        }
        metrics.update(
            epoch=int(trainer.current_epoch),
            global_step=int(trainer.global_step),
            monitor=self.monitor,
        )
        self.best_score = value
        self.best_metrics = metrics
        if trainer.is_global_zero:
            pl_module.export(self.path, metrics=metrics)

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_metrics": dict(self.best_metrics)}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.best_score = state_dict.get("best_score")
        self.best_metrics = dict(state_dict.get("best_metrics") or {})


class BatchSeed(L.Callback):
    """Seed Python's, NumPy's and torch's global RNGs from ``(seed, epoch, batch)`` before
    every training batch.

    Lightning checkpoints do not hold the global RNG states, and a resumed run draws from them
    a different number of times before its first batch (data loader start-up), so without
    this a run resumed from ``last.ckpt`` draws other dropout masks than the uninterrupted
    run did. Seeding per batch makes each batch's draws independent of everything before it.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        s = np.random.SeedSequence(
            [self.seed, int(trainer.current_epoch), int(batch_idx), int(trainer.global_rank)]
        ).generate_state(1)[0]
        random.seed(int(s))
        np.random.seed(int(s))
        torch.manual_seed(int(s))  # also seeds every CUDA device
