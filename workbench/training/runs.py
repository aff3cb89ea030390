"""Run helpers shared by :func:`~workbench.training.fit` and
:func:`~workbench.training.pretrain`: the run folder, seeding, the Lightning trainer and what a
run returns.

A run folder ``output_dir/name/`` holds ``config.yaml``, the exported product (``best.pt`` or
``encoder.pt``), ``checkpoints/last.ckpt`` (``--resume``), ``checkpoints/best-EEE.ckpt`` and
CSV logs (``logs/version_N/metrics.csv``; TensorBoard logs when installed).

Examples
--------
>>> resolve_precision("32-true", "cpu")
'32-true'
>>> import tempfile
>>> claim_run_dir(Path(tempfile.mkdtemp()) / "run", resume=False, overwrite=False,
...               product=Path("best.pt"), what="training run") is None   # a fresh folder
True
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch

from workbench._io import atomic_path, ensure_dir, safe_torch_load
from workbench.device import mps_available
from workbench.errors import CheckpointError, ConfigError
from workbench.training.callbacks import AtomicCheckpointIO, BatchSeed, ExportBestCheckpoint

__all__ = ["TrainResult", "resolve_precision", "claim_run_dir", "seed_run", "run_lightning"]


@dataclasses.dataclass
class TrainResult:
    """What :func:`~workbench.training.fit` and :func:`~workbench.training.pretrain` return.

    Attributes
    ----------
    run_dir
        The run folder.
    best_checkpoint
        ``run_dir/best.pt``, the best model in the workbench format (``load_model``).
    lightning_best, last_checkpoint
        The Lightning checkpoints of the best and the last epoch.
    monitor, mode, best_score
        The selection metric, its direction and its best value.
    metrics
        Every validation metric of the best epoch (and ``test_*`` with ``test: true``).
    epochs
        Epochs completed (counting those before a resume).
    seconds
        Wall-clock time of this call.
    interrupted
        Whether training was stopped early (Ctrl-C); resume with ``resume=True``.
    config
        The resolved configuration.
    """

    run_dir: Path
    best_checkpoint: Path
    lightning_best: Path | None
    last_checkpoint: Path | None
    monitor: str
    mode: str
    best_score: float | None
    metrics: dict[str, Any]
    epochs: int
    seconds: float
    interrupted: bool
    config: dict[str, Any]

    @property
    def metrics_csv(self) -> list[Path]:
        """The CSV log files, oldest first (one per start or resume)."""
        return sorted(
            (self.run_dir / "logs").glob("version_*/metrics.csv"),
            key=lambda p: int(p.parent.name.split("_")[-1]),
        )

    def history(self) -> Any:
        """All CSV logs of the run as one pandas DataFrame (rows in logging order)."""
        import pandas as pd

        frames = [pd.read_csv(p) for p in self.metrics_csv]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def resolve_precision(precision: str, accelerator: str = "auto") -> str:
    """``"auto"`` → ``"bf16-mixed"`` on a CUDA GPU with bfloat16, else ``"32-true"``.

    Mixed precision on the CPU is refused with a :class:`ConfigError` (slow and not what
    the papers did).

    Examples
    --------
    >>> resolve_precision("auto", "cpu")
    '32-true'
    """
    gpu = torch.cuda.is_available() and accelerator in ("auto", "gpu", "cuda")
    if precision == "auto":
        return "bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"
    if precision in ("bf16-mixed", "16-mixed") and not gpu:
        raise ConfigError(
            f"is {precision!r} without a CUDA GPU",
            variable="trainer.precision",
            expected="'auto' or '32-true' here (mixed precision only on GPU)",
        )
    return precision


def _is_rank_zero() -> bool:
    return int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0


def _loggers(run_dir: Path) -> list[Any]:
    from lightning.pytorch.loggers import CSVLogger

    loggers: list[Any] = [CSVLogger(run_dir, name="logs")]
    try:
        import tensorboard  # noqa: F401
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(run_dir, name="tensorboard", default_hp_metric=False))
    except ImportError:
        pass
    return loggers


def claim_run_dir(
    run: Path, *, resume: bool, overwrite: bool, product: Path, what: str
) -> str | None:
    """The run-folder rules of :func:`fit` and :func:`~workbench.training.pretrain`: the
    checkpoint to resume from (``run/checkpoints/last.ckpt`` with ``resume``), else ``None``
    after making sure nothing is silently replaced (an existing run, i.e. checkpoints or the
    exported ``product``, is deleted only with ``overwrite``).

    Raises
    ------
    ConfigError
        ``run`` already holds a run and neither ``resume`` nor ``overwrite`` was given.
    """
    ckpt_dir = run / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    if resume and last.is_file():
        # checked (safely) before anything is written, so a bad file leaves the run as it was
        ckpt = safe_torch_load(last, expected="a Lightning checkpoint written by this run")
        missing = [
            k
            for k in ("state_dict", "epoch", "loops")
            if not isinstance(ckpt, dict) or k not in ckpt
        ]
        if missing:
            raise CheckpointError(
                f"is not a Lightning checkpoint (no {', '.join(missing)})",
                path=last,
                expected="the last.ckpt a training run wrote, or "
                "--overwrite to start the run again",
            )
        return str(last)
    if _is_rank_zero():
        if resume:
            warnings.warn(f"{last} does not exist: starting {run} from scratch", stacklevel=3)
        has_run = run.exists() and (ckpt_dir.exists() or product.exists())
        if has_run and overwrite:
            shutil.rmtree(run)
        elif has_run:
            raise ConfigError(
                f"already holds a {what}",
                path=run,
                expected="--resume to continue it, --overwrite to replace it, "
                "or another name (name=… / --run-dir)",
            )
    return None


def seed_run(cfg: Mapping[str, Any]) -> None:
    """Torch threads (``trainer.num_threads``) and every seed (``seed``), before any data or
    model is built."""
    if cfg["trainer"]["num_threads"]:
        torch.set_num_threads(int(cfg["trainer"]["num_threads"]))
    L.seed_everything(cfg["seed"], workers=True, verbose=False)


def run_lightning(
    cfg: Mapping[str, Any],
    run: Path,
    task: L.LightningModule,
    dm: L.LightningDataModule,
    *,
    export: Path,
    config_text: str,
    ckpt_path: str | None,
    callbacks: Sequence[L.Callback] = (),
) -> tuple[L.Trainer, Any, ExportBestCheckpoint]:
    """Write ``run/config.yaml``, build the Lightning trainer of ``cfg["trainer"]`` (atomic
    checkpoints: ``checkpoints/best-*.ckpt`` and ``last.ckpt``, the best model exported to
    ``export``, CSV/TensorBoard logs, progress bar) and fit ``task`` on ``dm``, resuming from
    ``ckpt_path``. Returns the trainer, its ``ModelCheckpoint`` and the exporter (whose
    ``monitor``/``mode`` are the resolved ``checkpoint.monitor``/``mode``)."""
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, TQDMProgressBar

    tr = dict(cfg["trainer"])
    deterministic = tr["deterministic"]
    if deterministic == "auto":  # cheap on the CPU; on a GPU it would slow convolutions down
        on_gpu = (torch.cuda.is_available() or mps_available()) and tr["accelerator"] != "cpu"
        deterministic = not on_gpu
    precision = resolve_precision(tr["precision"], tr["accelerator"])
    monitor = cfg["checkpoint"]["monitor"]
    monitor = task.monitor if monitor == "auto" else monitor
    mode = cfg["checkpoint"]["mode"]
    mode = (task.mode if monitor == task.monitor else "min") if mode == "auto" else mode
    if _is_rank_zero():
        ensure_dir(run)
        with atomic_path(run / "config.yaml") as tmp:
            tmp.write_text(config_text)

    best_ckpt = ModelCheckpoint(
        dirpath=run / "checkpoints",
        filename="best-{epoch:03d}",
        monitor=monitor,
        mode=mode,
        save_top_k=cfg["checkpoint"]["save_top_k"],
        save_last=False,
        auto_insert_metric_name=False,
    )
    # ``last.ckpt`` is every completed epoch, whatever the metric did: a checkpoint of its own
    # without a monitor. (With lightning >= 2.6, ``save_last=True`` beside a monitor rewrites
    # last.ckpt only when the metric improves, so a crash would lose every epoch since then.)
    # Lightning runs checkpoint callbacks last and in list order, so last.ckpt also holds
    # this epoch's state of ``best_ckpt`` and of the exporter.
    last_ckpt = ModelCheckpoint(
        dirpath=run / "checkpoints",
        filename="last",
        monitor=None,
        save_top_k=1,
        save_last=False,
        enable_version_counter=False,
    )
    exporter = ExportBestCheckpoint(export, monitor=monitor, mode=mode)
    if monitor == "last":  # no selection: the last epoch's model is the product
        best_ckpt = last_ckpt
    checkpoints = [last_ckpt] if best_ckpt is last_ckpt else [best_ckpt, last_ckpt]
    all_callbacks: list[L.Callback] = [
        *checkpoints,
        exporter,
        BatchSeed(cfg["seed"]),
        LearningRateMonitor("epoch"),
    ]
    if tr["enable_progress_bar"]:
        all_callbacks.append(TQDMProgressBar())
    all_callbacks += list(callbacks)
    limits = {k: tr[k] for k in ("limit_train_batches", "limit_val_batches") if tr[k] is not None}
    trainer = L.Trainer(
        default_root_dir=run,
        max_epochs=tr["max_epochs"],
        accelerator=tr["accelerator"],
        devices=tr["devices"],
        strategy=tr["strategy"],
        num_nodes=tr["num_nodes"],
        precision=precision,
        deterministic=deterministic,
        logger=_loggers(run),
        callbacks=all_callbacks,
        plugins=[AtomicCheckpointIO()],
        enable_progress_bar=tr["enable_progress_bar"],
        log_every_n_steps=tr["log_every_n_steps"],
        num_sanity_val_steps=tr["num_sanity_val_steps"],
        check_val_every_n_epoch=tr["check_val_every_n_epoch"],
        gradient_clip_val=tr["gradient_clip_val"],
        accumulate_grad_batches=tr["accumulate_grad_batches"],
        enable_model_summary=tr["enable_progress_bar"],
        **limits,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")  # Lightning internals
        trainer.fit(task, datamodule=dm, ckpt_path=ckpt_path)
    return trainer, best_ckpt, exporter
