"""Training: Lightning tasks, losses, schedules, device-side augmentation, data modules, ``fit``.

The entry point is :func:`fit` (also ``workbench train CONFIG.yaml key=value …``); configs for
every model of the papers ship in ``workbench/configs`` (:func:`list_configs`). SSL4SAR
self-supervised pretraining of the Swin V2 encoder (OptSimMIM, OptTranslator) is
:func:`pretrain` (``workbench pretrain CONFIG``, :func:`list_pretrain_configs`); its
``encoder.pt`` initialises ``ssl4sar_hybrid`` through ``init.encoder``.

Examples
--------
>>> from workbench.training import list_configs, load_config
>>> "demo_zones" in list_configs()
True
>>> cfg = load_config("demo_zones", ["trainer.max_epochs=1"])
>>> cfg["model"]["name"], cfg["trainer"]["max_epochs"]
('caffe_unet', 1)
"""

from workbench.training.augment import OPS as AUGMENTATIONS
from workbench.training.augment import Augmenter, validate_augment_config
from workbench.training.callbacks import AtomicCheckpointIO, ExportBestCheckpoint
from workbench.training.config import (
    DEFAULTS,
    apply_overrides,
    config_path,
    dump_config,
    list_configs,
    load_config,
    validate_config,
)
from workbench.training.datamodules import (
    CaffeDataModule,
    DemoWorldDataModule,
    SarOpticalCrops,
    SarOpticalDataModule,
    StackDataModule,
    StackZoneFrames,
    ZoneImageDataset,
    add_slope,
    collate_eval,
)
from workbench.training.fit import TrainResult, build_datamodule, build_task, fit, resolve_precision
from workbench.training.losses import (
    SegmentationLoss,
    binary_front_loss,
    cross_entropy,
    dice_loss,
    focal_loss,
)
from workbench.training.optim import (
    CosineRestartSchedule,
    build_optimizer,
    build_scheduler,
    cosine_restart_factor,
)
from workbench.training.pretrain import (
    PRETRAIN_DEFAULTS,
    OptSimMIMTask,
    OptTranslatorTask,
    PretrainTask,
    build_pretrain_datamodule,
    build_pretrain_task,
    list_pretrain_configs,
    load_encoder_weights,
    load_pretrain_config,
    masked_l1_loss,
    patchify,
    pretrain,
    random_token_mask,
)
from workbench.training.tasks import (
    BaseTask,
    OutlineSegmentationTask,
    ZoneSegmentationTask,
    predict_tiled,
)

__all__ = [
    "fit",
    "TrainResult",
    "load_config",
    "validate_config",
    "apply_overrides",
    "dump_config",
    "list_configs",
    "config_path",
    "DEFAULTS",
    "build_datamodule",
    "build_task",
    "resolve_precision",
    "BaseTask",
    "ZoneSegmentationTask",
    "OutlineSegmentationTask",
    "predict_tiled",
    "CaffeDataModule",
    "StackDataModule",
    "DemoWorldDataModule",
    "ZoneImageDataset",
    "StackZoneFrames",
    "collate_eval",
    "add_slope",
    "Augmenter",
    "AUGMENTATIONS",
    "validate_augment_config",
    "SegmentationLoss",
    "cross_entropy",
    "dice_loss",
    "focal_loss",
    "binary_front_loss",
    "build_optimizer",
    "build_scheduler",
    "CosineRestartSchedule",
    "cosine_restart_factor",
    "ExportBestCheckpoint",
    "AtomicCheckpointIO",
    "pretrain",
    "load_pretrain_config",
    "list_pretrain_configs",
    "PRETRAIN_DEFAULTS",
    "build_pretrain_datamodule",
    "build_pretrain_task",
    "PretrainTask",
    "OptSimMIMTask",
    "OptTranslatorTask",
    "random_token_mask",
    "patchify",
    "masked_l1_loss",
    "load_encoder_weights",
    "SarOpticalDataModule",
    "SarOpticalCrops",
]
