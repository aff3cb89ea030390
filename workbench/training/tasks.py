"""Lightning tasks: calving-front zone segmentation and glacier-outline segmentation.

A task owns a registry model (:func:`workbench.models.create_model`), its loss, optimiser and
schedule, and the validation metrics of its paper. Like torchgeo's trainers, the constructor
takes plain values only (saved as hyper-parameters, so a Lightning checkpoint rebuilds the
task) and calls :meth:`BaseTask.configure_models`, :meth:`~BaseTask.configure_losses` and
:meth:`~BaseTask.configure_metrics`.

* :class:`ZoneSegmentationTask` — 4 CaFFe zones; optional front head (BCE); optional
  target/context loss (SSL4SAR: the loss on the centre ``target_size`` crop AND on the full
  context output). Validation: whole images predicted with a sliding window, fronts
  extracted from the predicted zones with :func:`workbench.evaluation.zones_to_front` and
  compared with the reference front: the pooled MDE (metres when the pixel size is known,
  else pixels), the count of images without a predicted front, and the mean zone IoU
  (:func:`workbench.evaluation.zone_metrics`). Checkpoints are chosen on ``val_mde_sel``
  (min): the MDE divided by the fraction of images with a predicted front.
* :class:`OutlineSegmentationTask` — 2 classes (glacier / not glacier) from time series
  (``B × T × C × H × W``: IceMapper3D, ConvLSTM U-Net) or multi-source dicts (GlaViTU, with its
  deep-supervision loss at weight ``aux_loss_weight`` = 0.5). Validation: whole scenes,
  TP/FP/FN pooled over all of them (:class:`workbench.evaluation.OutlineCounts`): IoU, F1,
  precision, recall. Checkpoints are chosen on ``val_iou`` (max).

Metrics are reduced over all processes (sums gathered with ``all_gather``), so they are the
same under DDP as on one device.

Examples
--------
>>> import torch
>>> task = ZoneSegmentationTask(model="caffe_unet", preset="small")
>>> batch = {"image": torch.rand(2, 1, 32, 32), "mask": torch.randint(0, 4, (2, 32, 32)),
...          "valid": torch.ones(2, 32, 32, dtype=torch.bool)}
>>> loss = task.compute_loss(task(batch["image"]), batch)["loss"]
>>> bool(loss > 0)
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lightning as L
import torch

from workbench.errors import ConfigError
from workbench.inference.tiling import predict_tiled
from workbench.metrics import OutlineCounts, mean_distance_error, zone_metrics, zones_to_front
from workbench.models import SegmentationOutput, create_model, save_checkpoint
from workbench.training.losses import SegmentationLoss, binary_front_loss
from workbench.training.optim import build_optimizer, build_scheduler

__all__ = [
    "BaseTask",
    "ZoneSegmentationTask",
    "OutlineSegmentationTask",
    "predict_tiled",
    "center_crop",
]


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """The centre ``size × size`` of the last two dims (offset ``(H − size) // 2``).

    The same offset as the target inside the context of
    :class:`~workbench.data.patches.CaffePatchDataset` and the models' ``target`` output.
    """
    top = (x.shape[-2] - size) // 2
    left = (x.shape[-1] - size) // 2
    return x[..., top : top + size, left : left + size]


def _spatial(x: Any) -> tuple[int, int]:
    ref = next(v for v in x.values() if v is not None) if isinstance(x, Mapping) else x
    return int(ref.shape[-2]), int(ref.shape[-1])


def _first(x: Any) -> torch.Tensor:
    return next(v for v in x.values() if v is not None) if isinstance(x, Mapping) else x


def _finite(v: float) -> float:
    return v if math.isfinite(v) else math.nan


class BaseTask(L.LightningModule):
    """Shared machinery: model from the registry, loss, optimiser/schedule, tiled evaluation.

    Parameters
    ----------
    model, preset, model_kwargs
        Passed to :func:`workbench.models.create_model`.
    loss
        Keyword arguments of :class:`~workbench.training.losses.SegmentationLoss` plus the
        task's loss weights (see the subclasses).
    optimizer
        ``{"name", "lr", "momentum", "weight_decay", …}`` for
        :func:`~workbench.training.optim.build_optimizer`.
    scheduler
        ``{"name", …}`` for :func:`~workbench.training.optim.build_scheduler`; ``monitor``
        ``"auto"`` is ``val_loss``.
    validation
        ``{"window", "keep", "overlap", "weighting", "batch_size"}`` of the sliding window, and
        for zones ``resolution_m`` / ``min_cluster_px``.
    normalization
        The input normalisation (stored in exported checkpoints).
    train_config
        The full run configuration (stored in exported checkpoints).
    max_epochs
        For the cosine schedule.
    """

    #: metric that selects checkpoints, and its direction
    monitor: str = "val_loss"
    mode: str = "min"
    num_classes: int = 2

    def __init__(
        self,
        model: str = "caffe_unet",
        preset: str | None = "small",
        model_kwargs: Mapping[str, Any] | None = None,
        loss: Mapping[str, Any] | None = None,
        optimizer: Mapping[str, Any] | None = None,
        scheduler: Mapping[str, Any] | None = None,
        validation: Mapping[str, Any] | None = None,
        normalization: Mapping[str, Any] | None = None,
        train_config: Mapping[str, Any] | None = None,
        max_epochs: int | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.configure_models()
        self.configure_losses()
        self.configure_metrics()

    # -- torchgeo-style configuration --------------------------------------------------------
    def configure_models(self) -> None:
        """Build ``self.model`` from the registry."""
        kwargs = dict(self.hparams.model_kwargs or {})
        kwargs.setdefault("num_classes", self.num_classes)
        self.model = create_model(self.hparams.model, preset=self.hparams.preset, **kwargs)

    def _loss_options(self) -> dict[str, Any]:
        return dict(self.hparams.loss or {})

    _TASK_LOSS_KEYS: tuple[str, ...] = ()

    def configure_losses(self) -> None:
        """Build ``self.criterion`` (:class:`SegmentationLoss`) from the ``loss`` options."""
        opts = {k: v for k, v in self._loss_options().items() if k not in self._TASK_LOSS_KEYS}
        self.criterion = SegmentationLoss(num_classes=self.model.config.get("num_classes"), **opts)

    def configure_metrics(self) -> None:
        """Reset the metric accumulators (one set per stage)."""
        self._acc: dict[str, dict[str, float]] = {}

    # -- forward / optimisation ----------------------------------------------------------------
    def forward(self, x: Any) -> SegmentationOutput:
        return self.model(x)

    def configure_optimizers(self) -> Any:
        opt_cfg = dict(self.hparams.optimizer or {"name": "sgd", "lr": 0.01})
        optimizer = build_optimizer(self.model.parameters(), **opt_cfg)
        sched_cfg = dict(self.hparams.scheduler or {"name": "none"})
        monitor = sched_cfg.pop("monitor", "auto")
        mode = sched_cfg.pop("mode", "auto")
        if monitor == "auto":
            monitor = "val_loss"
        if mode == "auto":
            mode = self.mode if monitor == self.monitor else "min"
        name = sched_cfg.pop("name", "none")
        steps = None
        trainer = self._trainer
        if name in ("cyclic", "onecycle") and trainer is not None:
            total = trainer.estimated_stepping_batches
            if total not in (None, math.inf):
                steps = max(1, int(total) // max(1, int(trainer.max_epochs or 1)))
        scheduler = build_scheduler(
            optimizer,
            name,
            max_epochs=self.hparams.max_epochs,
            steps_per_epoch=steps,
            monitor=monitor,
            mode=mode,
            **sched_cfg,
        )
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def on_train_epoch_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "set_epoch"):
            dm.set_epoch(self.current_epoch)

    def compute_loss(
        self, out: SegmentationOutput, batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        """``{"loss": total, …components}`` of a model output against a batch."""
        raise NotImplementedError

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        out = self.model(batch["image"])
        losses = self.compute_loss(out, batch)
        bs = _first(batch["image"]).shape[0]
        self.log(
            "train_loss",
            losses["loss"],
            on_step=True,
            on_epoch=True,
            prog_bar=True,
            batch_size=bs,
            sync_dist=True,
        )
        for k, v in losses.items():
            if k != "loss":
                self.log(
                    f"train_{k}", v, on_step=False, on_epoch=True, batch_size=bs, sync_dist=True
                )
        return losses["loss"]

    # -- evaluation ----------------------------------------------------------------------------
    def _val_opt(self, key: str, default: Any) -> Any:
        v = (self.hparams.validation or {}).get(key, default)
        return default if v is None else v

    def predict_full(self, image: Any) -> dict[str, torch.Tensor]:
        """Sliding-window prediction of whole images with the ``validation`` options."""
        window = self._val_opt("window", None)
        if window is None:
            window = max(_spatial(image))
        return predict_tiled(
            self.model,
            image,
            window=int(window),
            keep=self._val_opt("keep", None),
            overlap=self._val_opt("overlap", 0.5),
            batch_size=self._val_opt("batch_size", 8),
            weighting=self._val_opt("weighting", "uniform"),
        )

    def _accumulate(self, stage: str, values: Mapping[str, float]) -> None:
        acc = self._acc.setdefault(stage, {})
        for k, v in values.items():
            acc[k] = acc.get(k, 0.0) + float(v)

    def _reduced(self, stage: str, keys: list[str]) -> dict[str, float]:
        acc = self._acc.get(stage, {})
        dtype = torch.float32 if self.device.type == "mps" else torch.float64
        t = torch.tensor([acc.get(k, 0.0) for k in keys], dtype=dtype, device=self.device)
        if self._trainer is not None and self._trainer.world_size > 1:
            t = self._trainer.strategy.reduce(t, reduce_op="sum")  # sums over all processes
        return dict(zip(keys, t.tolist(), strict=False))

    def _eval_step(self, batch: Mapping[str, Any], stage: str) -> None:
        raise NotImplementedError

    def _eval_epoch_end(self, stage: str) -> None:
        raise NotImplementedError

    def on_validation_epoch_start(self) -> None:
        self._acc["val"] = {}

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_start(self) -> None:
        self._acc["test"] = {}

    def test_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    # -- export ----------------------------------------------------------------------------------
    def export(self, path: Any, metrics: Mapping[str, Any] | None = None) -> Any:
        """Write the model in the workbench checkpoint format (atomic), for ``load_model``."""
        return save_checkpoint(
            self.model,
            path,
            normalization=self.hparams.normalization,
            train_config=self.hparams.train_config,
            metrics=metrics,
            baselines=getattr(self, "baselines", None),
        )


class ZoneSegmentationTask(BaseTask):
    """Calving-front zone segmentation (CaFFe classes NA, rock, glacier, ocean).

    Loss options (``loss`` mapping) besides those of
    :class:`~workbench.training.losses.SegmentationLoss`:

    ``target_size``
        Size of the centre target crop (None: plain patches). With it, the loss is
        ``target_weight · L(target) + context_weight · L(context)`` (SSL4SAR); the target
        logits are the model's ``target`` output or the centre crop of its logits.
    ``target_weight``, ``context_weight``
        1.0 and 1.0 by default.
    ``front_weight``, ``front_pos_weight``
        Weight of the front-head BCE (1.0) and its positive-class weight (10.0); used only
        when the model has a front head (``front_head=True``).

    Checkpoints are selected on ``val_mde_sel`` = ``val_mde / val_coverage``, where
    ``val_coverage`` is the fraction of validation images (with a reference front) that have a
    predicted front. The benchmark MDE leaves images without a predicted front out (and
    counts them), so on its own it rewards a model that finds fronts only on the easy images —
    early in training it often does; dividing by the coverage charges for the missing ones
    and equals the MDE when every image has a front. ``val_mde`` (the benchmark number,
    metres or pixels), ``val_mde_px``, ``val_no_front`` and ``val_miou`` are logged too;
    ``checkpoint.monitor: val_mde`` selects on the bare MDE.

    Validation options: ``resolution_m`` (``"meta"``: the pixel size in each image's metadata;
    a number; or ``None``: unknown, MDE in pixels and ``min_cluster_px`` required) and
    ``min_cluster_px`` (front clusters of at most this many pixels are dropped; default: CaFFe's
    750 m in pixels).
    """

    monitor = "val_mde_sel"
    mode = "min"
    num_classes = 4
    _TASK_LOSS_KEYS = (
        "target_size",
        "target_weight",
        "context_weight",
        "front_weight",
        "front_pos_weight",
    )

    def compute_loss(
        self, out: SegmentationOutput, batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        opts = self._loss_options()
        mask, valid = batch["mask"], batch.get("valid")
        t = opts.get("target_size")
        parts: dict[str, torch.Tensor] = {}
        if t:
            tw, cw = float(opts.get("target_weight", 1.0)), float(opts.get("context_weight", 1.0))
            tlog = out.target if out.target is not None else center_crop(out.logits, t)
            tvalid = None if valid is None else center_crop(valid, t)
            parts["loss_target"] = self.criterion(tlog, center_crop(mask, t), tvalid)
            parts["loss_context"] = self.criterion(out.logits, mask, valid)
            total = tw * parts["loss_target"] + cw * parts["loss_context"]
        else:
            total = parts["loss_zones"] = self.criterion(out.logits, mask, valid)
        fw = float(opts.get("front_weight", 1.0))
        if out.front is not None and batch.get("front") is not None and fw > 0:
            pw = float(opts.get("front_pos_weight", 10.0))
            front = batch["front"]
            if t:
                tf = out.target_front if out.target_front is not None else center_crop(out.front, t)
                fl = binary_front_loss(
                    tf,
                    center_crop(front, t),
                    pos_weight=pw,
                    valid=None if valid is None else center_crop(valid, t),
                ) + binary_front_loss(out.front, front, pos_weight=pw, valid=valid)
            else:
                fl = binary_front_loss(out.front, front, pos_weight=pw, valid=valid)
            parts["loss_front"] = fl
            total = total + fw * fl
        return {"loss": total, **parts}

    def _mde_options(self) -> dict[str, Any]:
        res = (self.hparams.validation or {}).get("resolution_m", "meta")
        mcp = (self.hparams.validation or {}).get("min_cluster_px")
        if res is None and mcp is None:
            raise ConfigError(
                "is null but validation.min_cluster_px is not set",
                variable="validation.resolution_m",
                expected="a pixel size, 'meta', or min_cluster_px for unknown sizes",
            )
        return {"resolution_m": res, "min_cluster_px": mcp}

    def _eval_step(self, batch: Mapping[str, Any], stage: str) -> None:
        out = self.predict_full(batch["image"])
        logits = out["logits"]
        mask, valid = batch["mask"], batch.get("valid")
        bs = logits.shape[0]
        loss = self.criterion(logits, mask, valid)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, sync_dist=True, batch_size=bs)
        pred = logits.argmax(1).cpu().numpy()
        ref = mask.cpu().numpy()
        vmask = valid.cpu().numpy() if valid is not None else None
        metas = list(batch.get("meta") or [{}] * bs)
        opts = self._mde_options()
        fronts = batch.get("front")
        refs = []
        for i in range(bs):
            if fronts is not None:
                refs.append(fronts[i].cpu().numpy().astype(bool))
            else:
                res = opts["resolution_m"]
                res = metas[i].get("resolution_m") if res == "meta" else res
                refs.append(zones_to_front(ref[i], res, min_cluster_px=opts["min_cluster_px"]))
        miou_sum, miou_n = 0.0, 0
        for i in range(bs):
            zm = zone_metrics(pred[i], ref[i], 4, valid=None if vmask is None else vmask[i])
            if math.isfinite(zm.mean_iou):
                miou_sum += zm.mean_iou
                miou_n += 1
        res = mean_distance_error(list(pred), refs, metas, from_zones=True, **opts)
        values = {
            "miou_sum": miou_sum,
            "miou_n": miou_n,
            "n_images": res.n_images,
            "n_no_front": res.n_no_front,
            "n_no_ref": res.n_no_reference,
            "n_dist": res.n_distances,
            "sum_px": float(res.distances_px.sum()) if res.n_distances else 0.0,
        }
        if res.n_distances:
            if res.resolution_known:
                values["sum_m"] = float(res.distances_m.sum())
            else:
                values["unknown_m"] = 1.0
        if "front" in out:
            fpred = [f[0] for f in (out["front"].sigmoid() > 0.5).cpu().numpy()]
            fres = mean_distance_error(fpred, refs, metas, resolution_m=opts["resolution_m"])
            values.update(
                {
                    "f_n_dist": fres.n_distances,
                    "f_sum_px": float(fres.distances_px.sum()) if fres.n_distances else 0.0,
                }
            )
        self._accumulate(stage, values)

    def _eval_epoch_end(self, stage: str) -> None:
        keys = [
            "miou_sum",
            "miou_n",
            "n_images",
            "n_no_front",
            "n_no_ref",
            "n_dist",
            "sum_px",
            "sum_m",
            "unknown_m",
            "f_n_dist",
            "f_sum_px",
        ]
        r = self._reduced(stage, keys)
        n = r["n_dist"]
        mde_px = r["sum_px"] / n if n else math.nan
        metres = r["unknown_m"] == 0 and self._mde_options()["resolution_m"] is not None
        mde = (r["sum_m"] / n if n else math.nan) if metres else mde_px
        with_ref = r["n_images"] - r["n_no_ref"]
        coverage = (with_ref - r["n_no_front"]) / with_ref if with_ref > 0 else 0.0
        metrics = {
            f"{stage}_mde": mde,
            f"{stage}_mde_px": mde_px,
            f"{stage}_mde_sel": mde / coverage if coverage > 0 else math.nan,
            f"{stage}_coverage": coverage,
            f"{stage}_no_front": r["n_no_front"],
            f"{stage}_images": r["n_images"],
            f"{stage}_miou": r["miou_sum"] / r["miou_n"] if r["miou_n"] else math.nan,
        }
        if r["f_n_dist"]:
            metrics[f"{stage}_front_head_mde_px"] = r["f_sum_px"] / r["f_n_dist"]
        # already summed over all processes: sync_dist only averages identical values
        self.log_dict(
            {k: _finite(float(v)) for k, v in metrics.items() if k != f"{stage}_mde"},
            sync_dist=True,
        )
        self.log(f"{stage}_mde", _finite(float(mde)), prog_bar=True, sync_dist=True)


class OutlineSegmentationTask(BaseTask):
    """Glacier-outline segmentation (2 classes) from time series or multi-source inputs.

    Loss options besides those of :class:`~workbench.training.losses.SegmentationLoss`:
    ``aux_weight`` — weight of the deep-supervision output (GlaViTU's ``aux``); ``None``
    takes the model's ``aux_loss_weight`` (0.5 in the paper).
    """

    monitor = "val_iou"
    mode = "max"
    num_classes = 2
    _TASK_LOSS_KEYS = ("aux_weight",)

    def compute_loss(
        self, out: SegmentationOutput, batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        mask, valid = batch["mask"], batch.get("valid")
        parts = {"loss_main": self.criterion(out.logits, mask, valid)}
        total = parts["loss_main"]
        if out.aux is not None:
            w = self._loss_options().get("aux_weight")
            if w is None:
                w = getattr(self.model, "aux_loss_weight", 0.5)
            parts["loss_aux"] = self.criterion(out.aux, mask, valid)
            total = total + float(w) * parts["loss_aux"]
        return {"loss": total, **parts}

    def _eval_step(self, batch: Mapping[str, Any], stage: str) -> None:
        logits = self.predict_full(batch["image"])["logits"]
        mask, valid = batch["mask"], batch.get("valid")
        bs = logits.shape[0]
        loss = self.criterion(logits, mask, valid)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, sync_dist=True, batch_size=bs)
        counts = OutlineCounts()
        pred = (logits.argmax(1) == 1).cpu().numpy()
        counts.update(
            pred, mask.cpu().numpy() == 1, valid=None if valid is None else valid.cpu().numpy()
        )
        self._accumulate(
            stage, {"tp": counts.tp, "fp": counts.fp, "fn": counts.fn, "tn": counts.tn}
        )

    def _eval_epoch_end(self, stage: str) -> None:
        r = self._reduced(stage, ["tp", "fp", "fn", "tn"])
        c = OutlineCounts(int(r["tp"]), int(r["fp"]), int(r["fn"]), int(r["tn"]))
        metrics = {f"{stage}_{k}": _finite(float(v)) for k, v in c.metrics().items()}
        self.log_dict({k: v for k, v in metrics.items() if k != f"{stage}_iou"}, sync_dist=True)
        self.log(f"{stage}_iou", metrics[f"{stage}_iou"], prog_bar=True, sync_dist=True)
