"""SSL4SAR self-supervised multimodal pretraining: OptSimMIM and OptTranslator.

Labelled calving-front data are scarce (CaFFe: 681 images) but unlabelled Sentinel-1 images
are plentiful. SSL4SAR (Gourmelon et al. 2025, docs/science.md §1.9) pretrains the hybrid model's
Swin V2 encoder on 9,563 unlabelled SAR images of 14 Arctic glaciers, each paired with the
same pixel window of its glacier's ONE co-registered Sentinel-2 image (14 channels). The
optical image is the teacher: it shows the surface types — ice, snow, rock, open and turbid
water — without speckle, so predicting it from SAR makes the encoder learn features that
separate exactly the classes the calving-front task needs, without a single label.

* **OptSimMIM** (:class:`OptSimMIMTask`): 30 % of the SAR patch tokens (4 × 4 px) are
  replaced by a learned mask token after the patch embedding (:func:`random_token_mask`);
  the encoder and the residual CNN decoder predict the OPTICAL values of every pixel, and
  the L1 loss is taken on the masked tokens only (:func:`masked_l1_loss`), i.e. on
  ``4 × 4 × C`` optical values per masked token (:func:`patchify` shows the layout). The
  model must infer what is hidden from the context around it.
* **OptTranslator** (:class:`OptTranslatorTask`): the full SAR crop is translated into the
  ``C``-channel optical image; L1 loss on every valid pixel.

Both use the :class:`~workbench.models.SSL4SARHybrid` network (Swin V2 encoder + residual CNN
decoder, its 1×1 head giving ``C`` optical channels instead of 4 zones), 512 px crops with a
minimum scale of 0.7 (:class:`~workbench.training.datamodules.SarOpticalCrops`), SGD
(momentum 0.9, weight decay 1e-4), lr 1e-3 (OptSimMIM) or 5e-3 (OptTranslator) and
reduce-on-plateau (factor 0.5, patience 5) on the validation loss
(``workbench/configs/pretrain_optsimmim.yaml``, ``pretrain_opttranslator.yaml``).

Our choices where the paper is silent (docs/science.md §1.9): the decoder of OptSimMIM is the hybrid's residual CNN
decoder (SimMIM itself uses one linear layer); the optical targets are standardised per band
(mean/std of the training glaciers) so every band weighs the same in the L1 loss; the SAR
input is σ0 mapped to 8 bits like the CaFFe PNGs and standardised, as for the zone models;
masks are drawn per token (not in 32 px blocks as SimMIM does for Swin); batch size,
epochs and the validation split (one held-out glacier) are not published.

**Transfer.** :func:`pretrain` writes ``run/encoder.pt`` (a ``swinv2`` checkpoint of the best
epoch, with the SAR normalisation); ``init.encoder: PATH`` in a zone training config loads it
into ``ssl4sar_hybrid`` before fine-tuning (:func:`load_encoder_weights`, called by
:func:`workbench.training.build_task`)::

    workbench pretrain demo_pretrain                   # ~2 min on 2 CPU cores
    workbench train demo_zones model.name=ssl4sar_hybrid model.preset=small 'model.kwargs={}' \\
        init.encoder=runs/demo_pretrain/encoder.pt

A run folder (``output_dir/name``) holds ``config.yaml``, ``encoder.pt``,
``checkpoints/last.ckpt`` (``--resume``), ``checkpoints/best-EEE.ckpt`` (the whole task:
encoder, decoder, mask token) and CSV logs — the layout of :func:`workbench.training.fit`.

Examples
--------
>>> import torch
>>> mask = random_token_mask(2, 10, 10, 0.3, generator=torch.Generator().manual_seed(0))
>>> mask.sum(dim=(1, 2)).tolist()
[30, 30]
>>> task = OptSimMIMTask(preset="small", optical_channels=3)
>>> batch = {"image": torch.randn(2, 1, 32, 32), "optical": torch.randn(2, 3, 32, 32),
...          "valid": torch.ones(2, 32, 32, dtype=torch.bool)}
>>> bool(task.compute_loss(batch, mask=random_token_mask(2, 8, 8, 0.3))["loss"] > 0)
True
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
from torch import nn

from workbench.errors import ConfigError, DataError
from workbench.models import create_model, load_encoder_weights, save_checkpoint
from workbench.training.config import (
    PRETRAIN_DEFAULTS,
    PRETRAIN_METHODS,
    PUBLISHED_LR,
    dump_pretrain_config,
    list_pretrain_configs,
    load_pretrain_config,
)
from workbench.training.datamodules import SarOpticalDataModule
from workbench.training.optim import build_optimizer, build_scheduler
from workbench.training.runs import TrainResult, claim_run_dir, run_lightning, seed_run

__all__ = [
    "PRETRAIN_METHODS",
    "PRETRAIN_DEFAULTS",
    "PUBLISHED_LR",
    "random_token_mask",
    "patchify",
    "masked_l1_loss",
    "PretrainTask",
    "OptSimMIMTask",
    "OptTranslatorTask",
    "PRETRAIN_TASKS",
    "load_pretrain_config",
    "dump_pretrain_config",
    "list_pretrain_configs",
    "build_pretrain_datamodule",
    "build_pretrain_task",
    "pretrain",
    "load_encoder_weights",
]

# --------------------------------------------------------------------------- masks and losses


def random_token_mask(
    batch: int,
    height: int,
    width: int,
    ratio: float = 0.3,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """A boolean ``batch × height × width`` mask with exactly ``round(ratio·height·width)``
    ``True`` tokens per sample, drawn uniformly without replacement.

    Examples
    --------
    >>> m = random_token_mask(3, 16, 16, 0.3, generator=torch.Generator().manual_seed(1))
    >>> m.shape, m.sum(dim=(1, 2)).tolist()       # round(0.3 · 256) = 77
    (torch.Size([3, 16, 16]), [77, 77, 77])
    """
    if not (isinstance(ratio, (int, float)) and 0.0 <= ratio < 1.0):
        raise ConfigError(
            f"is {ratio!r}",
            variable="pretrain.mask_ratio",
            expected="a fraction of the tokens in [0, 1)",
        )
    n = int(height) * int(width)
    k = int(round(float(ratio) * n))
    noise = torch.rand(int(batch), n, generator=generator)
    mask = torch.zeros(int(batch), n, dtype=torch.bool)
    mask.scatter_(1, noise.argsort(dim=1)[:, :k], True)
    return mask.view(int(batch), int(height), int(width)).to(device)


def patchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """``B × C × H × W`` → ``B × N × (patch·patch·C)`` tokens (row-major over the token grid).

    Token ``n = ty·(W/patch) + tx`` holds the window ``[:, ty·p:(ty+1)·p, tx·p:(tx+1)·p]``
    as a ``p × p × C`` array (rows, columns, channels) flattened: the "4 × 4 × 14 optical
    values per token" that OptSimMIM predicts.

    Examples
    --------
    >>> x = torch.arange(2 * 4 * 4.0).view(1, 2, 4, 4)
    >>> tokens = patchify(x, 2)
    >>> tuple(tokens.shape), tokens[0, 1].view(2, 2, 2)[:, :, 0].tolist()
    ((1, 4, 8), [[2.0, 3.0], [6.0, 7.0]])
    """
    b, c, h, w = x.shape
    if h % patch or w % patch:
        raise DataError(
            f"has size {h} × {w}",
            variable="optical",
            expected=f"a multiple of the token size {patch}",
        )
    x = x.reshape(b, c, h // patch, patch, w // patch, patch)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // patch) * (w // patch), patch * patch * c)


def masked_l1_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    token_mask: torch.Tensor | None = None,
    valid: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean absolute error over the pixels of masked tokens (and valid pixels), all channels.

    Parameters
    ----------
    pred, target
        ``B × C × H × W``.
    token_mask
        ``B × h × w`` booleans, one per ``(H/h) × (W/w)`` token (``None``: every pixel, as
        OptTranslator).
    valid
        ``B × H × W`` booleans; invalid pixels never count.

    Returns
    -------
    torch.Tensor
        ``Σ |pred − target| / (C · number of counted pixels)`` (0 when nothing counts): the
        SimMIM normalisation, i.e. the mean over the ``p × p × C`` values of every masked
        token.

    Examples
    --------
    >>> pred, target = torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4)
    >>> pred[..., :2, :2] = 1.0                      # token (0, 0) is perfect
    >>> m = torch.tensor([[[True, False], [False, True]]])
    >>> masked_l1_loss(pred, target, m).item()      # (0 + 1) / 2 masked tokens
    0.5
    """
    b, c, h, w = pred.shape
    keep = torch.ones(b, h, w, dtype=torch.bool, device=pred.device)
    if token_mask is not None:
        th, tw = token_mask.shape[-2:]
        if h % th or w % tw or h // th != w // tw:
            raise DataError(
                f"is {th} × {tw} tokens for {h} × {w} pixels",
                variable="token_mask",
                expected="square tokens tiling the image",
            )
        p = h // th
        keep = token_mask.to(pred.device).repeat_interleave(p, 1).repeat_interleave(p, 2)
    if valid is not None:
        keep = keep & valid.to(pred.device).bool()
    weight = keep[:, None].to(pred.dtype)
    total = ((pred - target).abs() * weight).sum()
    return total / (weight.sum() * c).clamp_min(1.0)


# --------------------------------------------------------------------------- tasks


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


class PretrainTask(L.LightningModule):
    """Shared machinery of the two SSL4SAR pretext tasks (a Lightning module).

    Parameters
    ----------
    preset, model_kwargs
        The :class:`~workbench.models.SSL4SARHybrid` network (``create_model("ssl4sar_hybrid",
        preset, **model_kwargs)``); ``in_chans`` is 1 and ``num_classes`` is
        ``optical_channels`` (the head predicts the optical bands).
    optical_channels, optical_bands
        Channels (and names) of the optical targets.
    mask_ratio
        OptSimMIM: fraction of masked tokens (0.3).
    optimizer, scheduler
        The config sections (:func:`~workbench.training.optim.build_optimizer`,
        :func:`~workbench.training.optim.build_scheduler`; the plateau schedule watches
        ``val_loss``).
    normalization, optical_normalization
        Of the SAR input (exported with the encoder) and of the optical targets.
    train_config, max_epochs, seed
        The run configuration (exported), the number of epochs, the seed of the masks.
    """

    method: ClassVar[str] = ""
    monitor: str = "val_loss"
    mode: str = "min"

    def __init__(
        self,
        preset: str | None = "published",
        model_kwargs: Mapping[str, Any] | None = None,
        optical_channels: int = 14,
        mask_ratio: float = 0.3,
        optimizer: Mapping[str, Any] | None = None,
        scheduler: Mapping[str, Any] | None = None,
        normalization: Mapping[str, Any] | None = None,
        optical_normalization: Mapping[str, Any] | None = None,
        optical_bands: Sequence[str] | None = None,
        train_config: Mapping[str, Any] | None = None,
        max_epochs: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.configure_models()

    def configure_models(self) -> None:
        """Build ``self.model``: the hybrid with an optical head."""
        kwargs = dict(self.hparams.model_kwargs or {})
        for key, allowed in (
            ("in_chans", 1),
            ("num_classes", self.hparams.optical_channels),
            ("target_size", None),
            ("front_head", False),
        ):
            if key in kwargs and kwargs[key] != allowed:
                raise ConfigError(
                    f"is {kwargs[key]!r}",
                    variable=f"model.kwargs.{key}",
                    expected=f"{allowed!r} or unset for pretraining (it follows "
                    "from the data and the pretext task)",
                )
        kwargs.update(in_chans=1, num_classes=int(self.hparams.optical_channels))
        self.model = create_model("ssl4sar_hybrid", preset=self.hparams.preset, **kwargs)

    @property
    def patch_size(self) -> int:
        """The encoder's token size in pixels (4)."""
        return int(self.model.encoder.config["patch_size"])

    def forward(self, image: torch.Tensor, token_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The predicted (normalised) optical image ``B × C × H × W``."""
        return self.model(image).logits

    def make_mask(
        self, batch: Mapping[str, Any], stage: str, batch_idx: int
    ) -> torch.Tensor | None:
        """The token mask of a batch (``None`` for tasks without masking)."""
        return None

    def compute_loss(
        self, batch: Mapping[str, Any], mask: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """``{"loss": …, "pred": …}`` of a batch (``mask``: the token mask, if any)."""
        pred = self(batch["image"], mask)
        loss = masked_l1_loss(pred, batch["optical"], mask, batch.get("valid"))
        return {"loss": loss, "pred": pred}

    def _step(self, batch: Mapping[str, Any], batch_idx: int, stage: str) -> torch.Tensor:
        mask = self.make_mask(batch, stage, batch_idx)
        out = self.compute_loss(batch, mask)
        bs = int(batch["image"].shape[0])
        on_step = stage == "train"
        self.log(
            f"{stage}_loss",
            out["loss"],
            on_step=on_step,
            on_epoch=True,
            prog_bar=True,
            batch_size=bs,
            sync_dist=True,
        )
        if mask is not None and stage == "val":  # how well the visible part is reproduced
            visible = masked_l1_loss(out["pred"], batch["optical"], ~mask, batch.get("valid"))
            self.log("val_loss_visible", visible, on_epoch=True, batch_size=bs, sync_dist=True)
        return out["loss"]

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        return self._step(batch, batch_idx, "train")

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        self._step(batch, batch_idx, "val")

    def on_train_epoch_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "set_epoch"):
            dm.set_epoch(self.current_epoch)

    def configure_optimizers(self) -> Any:
        opt_cfg = dict(self.hparams.optimizer or {"name": "sgd"})
        if opt_cfg.get("lr") is None:
            opt_cfg["lr"] = PUBLISHED_LR.get(self.method, 1e-3)
        optimizer = build_optimizer(self.parameters(), **opt_cfg)  # incl. the mask token
        sched = dict(self.hparams.scheduler or {"name": "none"})
        monitor = sched.pop("monitor", "auto")
        mode = sched.pop("mode", "auto")
        monitor = self.monitor if monitor == "auto" else monitor
        mode = (self.mode if monitor == self.monitor else "min") if mode == "auto" else mode
        name = sched.pop("name", "none")
        steps = None
        if name == "cyclic" and self._trainer is not None:
            total = self._trainer.estimated_stepping_batches
            if total not in (None, math.inf):
                steps = max(1, int(total) // max(1, int(self._trainer.max_epochs or 1)))
        scheduler = build_scheduler(
            optimizer,
            name,
            max_epochs=self.hparams.max_epochs,
            steps_per_epoch=steps,
            monitor=monitor,
            mode=mode,
            **sched,
        )
        return (
            optimizer if scheduler is None else {"optimizer": optimizer, "lr_scheduler": scheduler}
        )

    def export(self, path: Any, metrics: Mapping[str, Any] | None = None) -> Path:
        """Write the ENCODER (a ``swinv2`` checkpoint with the SAR normalisation), atomically.

        This is the file ``init.encoder`` of a zone training config points at.
        """
        return save_checkpoint(
            self.model.encoder,
            path,
            normalization=self.hparams.normalization,
            train_config=self.hparams.train_config,
            metrics=metrics,
        )


class OptSimMIMTask(PretrainTask):
    """OptSimMIM: predict the optical values of masked SAR tokens (L1 on masked tokens only).

    ``mask_ratio`` (0.3) of the ``4 × 4`` px tokens of every crop are replaced by a learned
    mask token right after the encoder's patch embedding (a forward hook on
    ``model.encoder.patch_embed``, so the network itself is the unchanged hybrid whose
    encoder is transferred). Training masks are drawn from ``(seed, epoch, batch, rank)``,
    validation masks from ``(seed, batch)`` only — the same masks every epoch, so the
    validation loss is comparable across epochs. ``val_loss_visible`` is the L1 on the
    unmasked tokens (logged for information).
    """

    method = "optsimmim"

    def configure_models(self) -> None:
        super().configure_models()
        dim = int(self.model.encoder.config["embed_dim"])
        self.mask_token = nn.Parameter(torch.zeros(dim))
        nn.init.trunc_normal_(self.mask_token, std=0.02)  # as SimMIM
        self._active_mask: torch.Tensor | None = None
        self.model.encoder.patch_embed.register_forward_hook(self._insert_mask_token)

    def _insert_mask_token(
        self, module: nn.Module, args: Any, tokens: torch.Tensor
    ) -> torch.Tensor:
        """Forward hook: masked tokens (``B × h × w × C``) become the mask token."""
        mask = self._active_mask
        if mask is None:
            return tokens
        h, w = tokens.shape[1:3]
        mh, mw = mask.shape[-2:]
        if (mh, mw) != (h, w):  # the hybrid padded its input: padding tokens stay unmasked
            mask = torch.nn.functional.pad(mask, (0, w - mw, 0, h - mh), value=False)
        m = mask[..., None].to(tokens.dtype)
        return tokens * (1 - m) + self.mask_token.to(tokens.dtype) * m

    def forward(self, image: torch.Tensor, token_mask: torch.Tensor | None = None) -> torch.Tensor:
        self._active_mask = None if token_mask is None else token_mask.to(image.device)
        try:
            return self.model(image).logits
        finally:
            self._active_mask = None

    def make_mask(self, batch: Mapping[str, Any], stage: str, batch_idx: int) -> torch.Tensor:
        image = batch["image"]
        b, _, h, w = image.shape
        p = self.patch_size
        if h % p or w % p:
            raise ConfigError(
                f"gives {h} × {w} px crops",
                variable="data.crop_size",
                expected=f"a multiple of the token size {p} for OptSimMIM",
            )
        if stage == "train":
            seed = _seed(self.hparams.seed, 1, self.current_epoch, batch_idx, self.global_rank)
        else:
            seed = _seed(self.hparams.seed, 2, batch_idx, self.global_rank)
        gen = torch.Generator().manual_seed(seed)
        return random_token_mask(
            b, h // p, w // p, float(self.hparams.mask_ratio), generator=gen, device=image.device
        )


class OptTranslatorTask(PretrainTask):
    """OptTranslator: translate the whole SAR crop into the optical image (L1 on valid pixels)."""

    method = "opttranslator"


PRETRAIN_TASKS: dict[str, type[PretrainTask]] = {
    "optsimmim": OptSimMIMTask,
    "opttranslator": OptTranslatorTask,
}


# --------------------------------------------------------------------------- building


def build_pretrain_datamodule(cfg: Mapping[str, Any]) -> SarOpticalDataModule:
    """The :class:`~workbench.training.datamodules.SarOpticalDataModule` of a resolved config."""
    d = dict(cfg["data"])
    common = dict(
        val_glaciers=d["val_glaciers"],
        crop_size=d["crop_size"],
        min_scale=d["min_scale"],
        batch_size=d["batch_size"],
        val_batch_size=d["val_batch_size"],
        num_workers=d["num_workers"],
        samples_per_image=d["samples_per_image"],
        val_samples=d["val_samples"],
        sar=d["sar"],
        optical=d["optical"],
        bands=d["bands"],
        seed=cfg["seed"],
    )
    if d["kind"] == "stack":
        return SarOpticalDataModule(d["stacks"] or d["root"], **common)
    return SarOpticalDataModule(
        None,
        root=d["root"],
        n_glaciers=d["n_glaciers"],
        years=d["years"],
        size=d["size"],
        pixel_size=d["pixel_size"],
        world_seed=d["world_seed"],
        **common,
    )


def build_pretrain_task(cfg: Mapping[str, Any], dm: SarOpticalDataModule) -> PretrainTask:
    """The pretext task of a resolved config (``dm`` must be set up)."""
    return PRETRAIN_TASKS[cfg["method"]](
        preset=cfg["model"]["preset"],
        model_kwargs=dict(cfg["model"]["kwargs"] or {}),
        optical_channels=dm.optical_channels,
        mask_ratio=cfg["pretrain"]["mask_ratio"],
        optimizer=dict(cfg["optimizer"]),
        scheduler=dict(cfg["scheduler"]),
        normalization=dm.normalization_dict(),
        optical_normalization=dm.optical_normalization_dict(),
        optical_bands=list(dm.optical_bands),
        train_config=copy.deepcopy(dict(cfg)),
        max_epochs=cfg["trainer"]["max_epochs"],
        seed=cfg["seed"],
    )


# --------------------------------------------------------------------------- the run


def pretrain(
    config: str | os.PathLike[str] | Mapping[str, Any],
    *,
    overrides: Sequence[str] = (),
    resume: bool = False,
    overwrite: bool = False,
    callbacks: Sequence[L.Callback] = (),
    run_dir: str | os.PathLike[str] | None = None,
) -> TrainResult:
    """Pretrain the SSL4SAR encoder (OptSimMIM or OptTranslator) and export it.

    Parameters
    ----------
    config
        A YAML path, a packaged pretraining config (``"demo_pretrain"``,
        ``"pretrain_optsimmim"``, ``"pretrain_opttranslator"``) or a mapping
        (:func:`load_pretrain_config`).
    overrides
        Dotted ``key=value`` overrides, e.g. ``["trainer.max_epochs=3", "method=opttranslator"]``.
    resume, overwrite, callbacks, run_dir
        As in :func:`workbench.training.fit`: continue from ``checkpoints/last.ckpt``;
        replace an existing run; extra Lightning callbacks; the run folder.

    Returns
    -------
    TrainResult
        ``best_checkpoint`` is ``run_dir/encoder.pt``: the encoder of the epoch with the
        lowest ``val_loss`` (a ``swinv2`` workbench checkpoint; ``init.encoder`` of a zone
        config, or :func:`load_encoder_weights`). ``history()`` gives the CSV logs.

    Examples
    --------
    >>> result = pretrain("demo_pretrain", overrides=["trainer.max_epochs=1"])  # doctest: +SKIP
    >>> load_model(result.best_checkpoint).model_name                            # doctest: +SKIP
    'swinv2'
    """
    t0 = time.perf_counter()
    cfg = load_pretrain_config(config, overrides)
    run = Path(run_dir) if run_dir is not None else Path(cfg["output_dir"]) / cfg["name"]
    encoder_path = run / "encoder.pt"
    ckpt_path = claim_run_dir(
        run, resume=resume, overwrite=overwrite, product=encoder_path, what="pretraining run"
    )
    seed_run(cfg)
    dm = build_pretrain_datamodule(cfg)
    dm.setup("fit")
    task = build_pretrain_task(cfg, dm)
    trainer, best_ckpt, exporter = run_lightning(
        cfg,
        run,
        task,
        dm,
        export=encoder_path,
        config_text=dump_pretrain_config(cfg),
        ckpt_path=ckpt_path,
        callbacks=callbacks,
    )
    monitor, mode = exporter.monitor, exporter.mode
    last = run / "checkpoints" / "last.ckpt"
    return TrainResult(
        run_dir=run,
        best_checkpoint=encoder_path,
        lightning_best=Path(best_ckpt.best_model_path) if best_ckpt.best_model_path else None,
        last_checkpoint=last if last.exists() else None,
        monitor=monitor,
        mode=mode,
        best_score=exporter.best_score,
        metrics=dict(exporter.best_metrics),
        epochs=int(trainer.current_epoch),
        seconds=time.perf_counter() - t0,
        interrupted=bool(trainer.interrupted),
        config=cfg,
    )
