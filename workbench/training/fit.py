"""``fit(config) -> TrainResult``: one function behind ``workbench train`` and the notebooks.

A run lives in ``output_dir/name/``::

    config.yaml                 the resolved configuration (every option)
    best.pt                     the best model in the workbench format (load_model works on it)
    checkpoints/last.ckpt       Lightning checkpoint of the last epoch (for --resume)
    checkpoints/best-EEE.ckpt   Lightning checkpoint of the best epoch
    logs/version_N/metrics.csv  CSV logs (always); tensorboard/version_N/ (when installed)

Everything is seeded (``lightning.seed_everything``); on the CPU the run is deterministic.
Devices, strategy (e.g. ``ddp``) and precision come from the ``trainer`` section and are handed
to Lightning; ``precision: auto`` is ``bf16-mixed`` on a CUDA GPU that supports it and
``32-true`` elsewhere.

Examples
--------
>>> result = fit({"task": "zones", "data": {"kind": "demo", "n_glaciers": 3, "years": 0.1,
...               "size": 48, "pixel_size": 200.0, "patch_size": 32, "batch_size": 4},
...               "trainer": {"max_epochs": 1, "enable_progress_bar": False},
...               "output_dir": tempfile.mkdtemp()})           # doctest: +SKIP
>>> load_model(result.best_checkpoint).checkpoint_info.metrics["monitor"]   # doctest: +SKIP
'val_mde_sel'
"""

from __future__ import annotations

import inspect
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L

from workbench.checkpoints import resolve_checkpoint
from workbench.errors import ConfigError, DataError
from workbench.evaluation.baselines import FixedFront
from workbench.models import (
    get_model_class,
    load_encoder_weights,
    load_weights_into,
    read_checkpoint_info,
)
from workbench.training.config import dump_config, load_config
from workbench.training.datamodules import (
    CaffeDataModule,
    DemoWorldDataModule,
    StackDataModule,
    _WorkbenchDataModule,
)
from workbench.training.runs import (
    TrainResult,
    claim_run_dir,
    resolve_precision,
    run_lightning,
    seed_run,
)
from workbench.training.tasks import BaseTask, OutlineSegmentationTask, ZoneSegmentationTask

__all__ = [
    "fit",
    "TrainResult",
    "build_datamodule",
    "build_task",
    "resolve_precision",
    "claim_run_dir",
    "seed_run",
    "run_lightning",
    "TASKS",
]

TASKS: dict[str, type[BaseTask]] = {
    "zones": ZoneSegmentationTask,
    "outlines": OutlineSegmentationTask,
}


def build_datamodule(cfg: Mapping[str, Any]) -> _WorkbenchDataModule:
    """The data module of a resolved configuration's ``data`` section (with ``init.model``,
    normalised as that checkpoint's model was trained)."""
    dm = _datamodule(cfg)
    start = _init_checkpoint(cfg)
    if start is not None:
        norm = read_checkpoint_info(start).normalization
        if norm is not None:
            dm._restored_norm = dict(norm)
    return dm


def _init_checkpoint(cfg: Mapping[str, Any]) -> Path | None:
    """The checkpoint named by ``init.model`` (a path or a packaged name), or ``None``."""
    value = (cfg.get("init") or {}).get("model")
    return None if value is None else resolve_checkpoint(value)


def _datamodule(cfg: Mapping[str, Any]) -> _WorkbenchDataModule:
    d = dict(cfg["data"])
    task = cfg["task"]
    common = dict(
        patch_size=d["patch_size"],
        batch_size=d["batch_size"],
        val_batch_size=d["val_batch_size"],
        num_workers=d["num_workers"],
        samples_per_image=d["samples_per_image"],
        augment=cfg["augment"],
        seed=cfg["seed"],
        context_size=d["context_size"],
        normalization=d["normalization"],
    )
    stack_opts = dict(
        time_steps=d["time_steps"],
        variables=d["variables"],
        label=d["label"],
        sources=d["sources"],
        bands=d["bands"],
        val_windows=d["val_windows"],
    )
    kind = d["kind"]
    if kind == "caffe":
        split = d["split"] or ("glacier" if d["val_glaciers"] else "image")
        return CaffeDataModule(
            d["root"],
            split=split,
            val_fraction=d["val_fraction"],
            val_glaciers=d["val_glaciers"] or [],
            test_glaciers=d["test_glaciers"] or [],
            thin_fronts=d["thin_fronts"],
            **common,
        )
    if kind == "stack":
        stacks = d["stacks"] if d["stacks"] else d["root"]
        split = d["split"] or ("named" if d["val_tiles"] else "random")
        return StackDataModule(
            stacks,
            split=split,
            fractions=d["fractions"],
            val_tiles=d["val_tiles"],
            test_tiles=d["test_tiles"],
            **common,
            **stack_opts,
        )
    val = d["val_glaciers"] if d["val_glaciers"] is not None else 1
    test = d["test_glaciers"] if d["test_glaciers"] is not None else 1
    return DemoWorldDataModule(
        task,
        root=d["root"],
        n_glaciers=d["n_glaciers"],
        years=d["years"],
        size=d["size"],
        pixel_size=d["pixel_size"],
        world_seed=d["world_seed"],
        val_glaciers=val,
        test_glaciers=test,
        resample_factors=d["resample_factors"],
        resample_mode=d["resample_mode"],
        **common,
        **(stack_opts if task == "outlines" else {}),
    )


def _model_kwargs(cfg: Mapping[str, Any], dm: _WorkbenchDataModule) -> dict[str, Any]:
    """Model kwargs with the channel counts (and target size) that follow from the data."""
    kwargs = dict(cfg["model"]["kwargs"] or {})
    params = inspect.signature(get_model_class(cfg["model"]["name"]).__init__).parameters
    derived = dict(dm.input_kwargs())
    d = cfg["data"]
    if cfg["task"] == "zones" and d["context_size"] is not None:
        derived["target_size"] = d["patch_size"]
    for key, value in derived.items():
        if key not in params:
            continue
        if key in kwargs and kwargs[key] != value:
            raise ConfigError(
                f"is {kwargs[key]!r} but the data give {value!r}",
                variable=f"model.kwargs.{key}",
                expected=f"{value!r}, or leave it unset (it follows from the data)",
            )
        kwargs[key] = value
    return kwargs


def build_task(cfg: Mapping[str, Any], dm: _WorkbenchDataModule) -> BaseTask:
    """The Lightning task of a resolved configuration (``dm`` must be set up).

    With ``init.model`` every weight comes from that checkpoint (fine-tuning; the data module
    then uses its normalisation, see :func:`build_datamodule`). With ``init.encoder`` the model's Swin V2 encoder is loaded from that file
    (:func:`workbench.models.load_encoder_weights`) before training starts.
    """
    d = cfg["data"]
    loss = dict(cfg["loss"])
    if cfg["task"] == "zones":
        loss["target_size"] = d["patch_size"] if d["context_size"] is not None else None
        for key in ("aux_weight",):
            loss.pop(key, None)
    else:
        for key in ("target_weight", "context_weight", "front_weight", "front_pos_weight"):
            loss.pop(key, None)
    validation = dict(cfg["validation"])
    if validation["window"] is None:
        validation["window"] = d["context_size"] or d["patch_size"]
    if validation["keep"] is None and d["context_size"] is not None and cfg["task"] == "zones":
        validation["keep"] = d["patch_size"]
    scheduler = dict(cfg["scheduler"])
    task = TASKS[cfg["task"]](
        model=cfg["model"]["name"],
        preset=cfg["model"]["preset"],
        model_kwargs=_model_kwargs(cfg, dm),
        loss=loss,
        optimizer=dict(cfg["optimizer"]),
        scheduler=scheduler,
        validation=validation,
        normalization=dm.normalization_dict(),
        train_config=dict(cfg),
        max_epochs=cfg["trainer"]["max_epochs"],
    )
    init = cfg.get("init") or {}
    start = _init_checkpoint(cfg)
    if start is not None:  # fine-tuning: every weight of a trained model
        load_weights_into(task.model, start)
    if init.get("encoder"):  # a pretrained encoder (SSL4SAR pretraining or published weights)
        load_encoder_weights(task.model, init["encoder"], stem=init.get("stem", "mean"))
    if cfg["task"] == "zones":  # what a guess from the same training labels scores
        try:
            task.baselines = {"fixed_front": FixedFront.from_fronts(dm.training_fronts()).to_dict()}
        except DataError:
            task.baselines = None  # no training image has a front
    return task


def fit(
    config: str | os.PathLike[str] | Mapping[str, Any],
    *,
    overrides: Sequence[str] = (),
    resume: bool = False,
    overwrite: bool = False,
    callbacks: Sequence[L.Callback] = (),
    run_dir: str | os.PathLike[str] | None = None,
) -> TrainResult:
    """Train a model from a configuration and export the best one in the workbench format.

    Parameters
    ----------
    config
        A YAML path, a packaged config name (``"demo_zones"``) or a mapping
        (see :mod:`workbench.training.config`).
    overrides
        Dotted ``key=value`` overrides, e.g. ``["trainer.max_epochs=3", "optimizer.lr=1e-3"]``.
    resume
        Continue from ``checkpoints/last.ckpt`` of the run folder (model, optimiser,
        scheduler, epoch, best score, normalisation, augmentation generator); starts from
        scratch when there is nothing to resume.
    overwrite
        Delete an existing run folder first. Without ``resume`` or ``overwrite`` an existing
        run folder with checkpoints is an error (nothing is silently replaced).
    callbacks
        Extra Lightning callbacks.
    run_dir
        The run folder (default ``output_dir/name``).

    Returns
    -------
    TrainResult

    Raises
    ------
    ConfigError
        Invalid configuration (naming the key), or an existing run without resume/overwrite.
    """
    t0 = time.perf_counter()
    cfg = load_config(config, overrides)
    run = Path(run_dir) if run_dir is not None else Path(cfg["output_dir"]) / cfg["name"]
    ckpt_path = claim_run_dir(
        run, resume=resume, overwrite=overwrite, product=run / "best.pt", what="training run"
    )
    seed_run(cfg)
    dm = build_datamodule(cfg)
    dm.setup("fit")
    task = build_task(cfg, dm)
    trainer, best_ckpt, exporter = run_lightning(
        cfg,
        run,
        task,
        dm,
        export=run / "best.pt",
        config_text=dump_config(cfg),
        ckpt_path=ckpt_path,
        callbacks=callbacks,
    )
    monitor, mode = exporter.monitor, exporter.mode
    last = run / "checkpoints" / "last.ckpt"

    metrics = dict(exporter.best_metrics)
    best_pt = run / "best.pt"
    if (
        cfg["test"]
        and not trainer.interrupted
        and dm.test_dataset is not None
        and best_pt.is_file()
    ):
        # Test the exported best model itself, not the ModelCheckpoint's idea of the best: a
        # run folder that was moved loses that callback's state on --resume (Lightning then
        # saves the last weights as a new "best"), while best.pt and its exporter never do.
        from workbench.models import load_model

        task.model.load_state_dict(load_model(best_pt, device="cpu").state_dict())
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*LeafSpec.*")
            out = trainer.test(task, datamodule=dm, verbose=False)
        test_metrics = {k: float(v) for k, v in (out[0] if out else {}).items()}
        metrics.update(test_metrics)
        if trainer.is_global_zero:
            task.export(best_pt, metrics=metrics)  # the best weights, now with test metrics
    return TrainResult(
        run_dir=run,
        best_checkpoint=run / "best.pt",
        lightning_best=Path(best_ckpt.best_model_path) if best_ckpt.best_model_path else None,
        last_checkpoint=last if last.exists() else None,
        monitor=monitor,
        mode=mode,
        best_score=exporter.best_score,
        metrics=metrics,
        epochs=int(trainer.current_epoch),
        seconds=time.perf_counter() - t0,
        interrupted=bool(trainer.interrupted),
        config=cfg,
    )
