"""The typed schemas of training and pretraining configs: one dataclass per section.

:mod:`workbench.training.config` hands them to OmegaConf (``OmegaConf.structured``), which
checks types, refuses unknown keys and merges the YAML file and the ``key=value`` overrides.
What a type cannot say (a range, a list length, a non-empty string) is written next to the
field with :func:`option` and checked after the merge (:func:`check_options`).

Examples
--------
>>> TrainerOptions().max_epochs, PretrainSchedulerOptions().name
(10, 'plateau')
>>> check_options({"max_epochs": 0}, TrainerOptions, "trainer")
('trainer.max_epochs', 0, 'an integer ≥ 1')
"""

from __future__ import annotations

import copy
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Literal, Union

__all__ = [
    "option",
    "describe",
    "check_options",
    "field_type",
    "ModelOptions",
    "DataOptions",
    "LossOptions",
    "OptimizerOptions",
    "SchedulerOptions",
    "ValidationOptions",
    "TrainerOptions",
    "CheckpointOptions",
    "InitOptions",
    "TrainConfig",
    "PretrainModelOptions",
    "PretrainDataOptions",
    "PretextOptions",
    "PretrainOptimizerOptions",
    "PretrainSchedulerOptions",
    "PretrainConfig",
    "PRETRAIN_METHODS",
]

PRETRAIN_METHODS: tuple[str, ...] = ("optsimmim", "opttranslator")


def option(
    default: Any = None,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    length: int | None = None,
    check: Callable[[Any], bool] | None = None,
    expected: str | None = None,
) -> Any:
    """A dataclass field with its default and the constraints its type cannot express:
    bounds (``ge``, ``gt``, ``le``, ``lt``), a list ``length``, or a ``check`` with the
    ``expected`` text that describes it in error messages."""
    meta = {"ge": ge, "gt": gt, "le": le, "lt": lt, "length": length, "check": check}
    meta["expected"] = expected
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return field(default=default, metadata=meta)


def _section(cls: type) -> Any:
    return field(default_factory=cls)


# --------------------------------------------------------------------------- training


@dataclass
class ModelOptions:
    name: str = "caffe_unet"
    preset: str | None = "small"
    kwargs: dict[str, Any] = option({}, expected="a mapping of model constructor arguments")


def _glacier_count_or_names(v: Any) -> bool:
    return not isinstance(v, int) or v >= 0


def _sources_ok(v: Any) -> bool:
    return v is None or (bool(v) and all(v.values()))


@dataclass
class DataOptions:
    kind: Literal["caffe", "stack", "demo"] = "demo"
    root: str | None = option(None, expected="a path or null")
    patch_size: int = option(64, ge=8)
    context_size: int | None = option(None, ge=8)
    batch_size: int = option(8, ge=1)
    val_batch_size: int = option(1, ge=1)
    num_workers: int = option(0, ge=0)
    samples_per_image: int = option(4, ge=1)
    normalization: Literal["dataset", "per_window"] = "dataset"
    # caffe
    split: Literal["image", "glacier", "random", "named"] | None = None
    val_fraction: float = option(0.1, ge=0, le=0.99)
    val_glaciers: int | list[str] | None = option(
        None,
        check=_glacier_count_or_names,
        expected="a count ≥ 0, a list of glacier names, or null",
    )
    test_glaciers: int | list[str] | None = option(
        None,
        check=_glacier_count_or_names,
        expected="a count ≥ 0, a list of glacier names, or null",
    )
    thin_fronts: bool = False
    # stacks
    stacks: list[str] | None = None
    fractions: list[float] = option([0.6, 0.2, 0.2], length=3)
    val_tiles: list[str] = option([])
    test_tiles: list[str] = option([])
    variables: list[str] = option(["sigma0_db", "coherence"])
    label: str = "outline"
    time_steps: int | None = option(None, ge=1)
    sources: dict[str, list[str]] | None = option(
        None, check=_sources_ok, expected="null or a mapping {source: [variables]}"
    )
    bands: list[str] | None = None
    val_windows: int = option(1, ge=1)
    # demo world in memory
    n_glaciers: int = option(3, ge=2)
    years: float = option(1.0, gt=0)
    size: int = option(128, ge=32)
    pixel_size: float = option(80.0, gt=0)
    world_seed: int = option(0, ge=0)
    resample_factors: list[int | float] | None = None  # e.g. [1, 4]: 20 m resampled
    resample_mode: Literal["all", "cycle"] = "all"  # or cycle: the training glaciers alternate


@dataclass
class LossOptions:
    kind: Literal["ce_dice", "ce", "dice", "focal", "focal_dice"] = "ce_dice"
    ce_weight: float = option(0.5, ge=0)
    dice_weight: float = option(0.5, ge=0)
    label_smoothing: float = option(0.1, ge=0, le=0.99)
    gamma: float = option(2.0, ge=0)
    class_weights: list[float] | None = None
    ignore_index: int = -100
    dice_smooth: float = option(1.0, ge=0)
    target_weight: float = option(1.0, ge=0)
    context_weight: float = option(1.0, ge=0)
    front_weight: float = option(1.0, ge=0)
    front_pos_weight: float = option(10.0, gt=0)
    aux_weight: float | None = option(None, ge=0)


@dataclass
class OptimizerOptions:
    name: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = option(0.01, gt=0)
    momentum: float = option(0.9, ge=0, le=1)
    weight_decay: float = option(1e-4, ge=0)
    nesterov: bool = False
    betas: list[float] = option([0.9, 0.999], length=2)


@dataclass
class SchedulerOptions:
    name: Literal["none", "cosine_restarts", "cosine", "plateau", "cyclic", "onecycle"] = "none"
    restarts: list[int] = option([10, 30, 70, 150])
    eta_min_ratio: float = option(0.0, ge=0, le=0.99)
    factor: float = option(0.5, gt=0, le=1)
    patience: int = option(5, ge=0)
    monitor: str = "auto"
    mode: Literal["auto", "min", "max"] = "auto"
    base_lr: float | None = option(None, gt=0)
    max_lr: float | None = option(None, gt=0)
    step_size_up: int | None = option(None, ge=1)
    cyclic_mode: Literal["triangular", "triangular2", "exp_range"] = "triangular"
    pct_start: float = option(0.1, gt=0, le=1)


@dataclass
class ValidationOptions:
    window: int | None = option(None, ge=8)
    keep: int | None = option(None, ge=1)
    overlap: float = option(0.5, ge=0, le=0.95)
    weighting: Literal["uniform", "gaussian"] = "uniform"
    batch_size: int = option(8, ge=1)
    resolution_m: Literal["meta"] | int | float | None = option(
        "meta",
        check=lambda v: v == "meta" or v > 0,
        expected="'meta', a pixel size in metres > 0, or null (unknown: report pixels)",
    )
    min_cluster_px: float | None = option(None, ge=0)


def _limit_ok(v: Any) -> bool:
    return v >= 1 if isinstance(v, int) else 0 < v <= 1


@dataclass
class TrainerOptions:
    """Handed to ``lightning.Trainer`` as they are (``num_threads`` sets torch's threads;
    ``precision: auto`` and ``deterministic: auto`` are resolved for the device first)."""

    max_epochs: int = option(10, ge=1)
    accelerator: str = "auto"
    devices: int | str | list[int] = option(
        "auto",
        check=lambda v: not isinstance(v, int) or v >= 1,
        expected="'auto', a device count ≥ 1 or a list of device ids",
    )
    strategy: str = "auto"
    num_nodes: int = option(1, ge=1)
    precision: Literal["auto", "32-true", "32", "bf16-mixed", "16-mixed", "64-true"] = "auto"
    deterministic: bool | Literal["auto", "warn"] = option(
        "auto", expected="'auto', 'warn', true or false"
    )
    num_sanity_val_steps: int = option(1, ge=-1)
    log_every_n_steps: int = option(10, ge=1)
    limit_train_batches: int | float | None = option(
        None, check=_limit_ok, expected="null, a number of batches ≥ 1, or a fraction in (0, 1]"
    )
    limit_val_batches: int | float | None = option(
        None, check=_limit_ok, expected="null, a number of batches ≥ 1, or a fraction in (0, 1]"
    )
    check_val_every_n_epoch: int = option(1, ge=1)
    gradient_clip_val: float | None = option(None, gt=0)
    accumulate_grad_batches: int = option(1, ge=1)
    enable_progress_bar: bool = True
    num_threads: int | None = option(None, ge=1)


@dataclass
class CheckpointOptions:
    monitor: str = "auto"  # "last": no selection, the last epoch is the product
    mode: Literal["auto", "min", "max"] = "auto"
    save_top_k: int = option(1, ge=-1)


@dataclass
class InitOptions:
    model: str | None = option(None, expected="a checkpoint path, a packaged name or null")
    encoder: str | None = option(None, expected="a path or null")
    stem: Literal["mean", "sum"] = "mean"


@dataclass
class TrainConfig:
    """A training config (``workbench train``); every section has its defaults."""

    name: str | None = None
    task: Literal["zones", "outlines"] = "zones"
    seed: int = option(0, ge=0)
    output_dir: str = "runs"
    test: bool = False
    model: ModelOptions = _section(ModelOptions)
    data: DataOptions = _section(DataOptions)
    loss: LossOptions = _section(LossOptions)
    optimizer: OptimizerOptions = _section(OptimizerOptions)
    scheduler: SchedulerOptions = _section(SchedulerOptions)
    augment: dict[str, Any] = option({}, expected="a mapping {operation: probability or {p, …}}")
    validation: ValidationOptions = _section(ValidationOptions)
    trainer: TrainerOptions = _section(TrainerOptions)
    checkpoint: CheckpointOptions = _section(CheckpointOptions)
    init: InitOptions = _section(InitOptions)


# --------------------------------------------------------------------------- pretraining


@dataclass
class PretrainModelOptions:
    name: Literal["ssl4sar_hybrid"] = "ssl4sar_hybrid"
    preset: str | None = "published"
    kwargs: dict[str, Any] = option({}, expected="a mapping of ssl4sar_hybrid arguments")


@dataclass
class PretrainDataOptions:
    kind: Literal["demo", "stack"] = "demo"
    root: str | None = option(None, expected="a path or null")
    stacks: list[str] | None = None
    sar: str = "sigma0_db"
    optical: str = "optical"
    bands: list[str] | None = None
    crop_size: int = option(512, ge=8)
    min_scale: float = option(0.7, gt=0, le=1)
    batch_size: int = option(8, ge=1)
    val_batch_size: int = option(8, ge=1)
    num_workers: int = option(0, ge=0)
    samples_per_image: int = option(1, ge=1)
    val_glaciers: int | list[str] = option(
        1,
        check=lambda v: v >= 1 if isinstance(v, int) else len(v) > 0,
        expected="a count ≥ 1 or a list of glacier (stack) names",
    )
    val_samples: int = option(32, ge=1)
    # demo world in memory
    n_glaciers: int = option(3, ge=2)
    years: float = option(1.0, gt=0)
    size: int = option(128, ge=32)
    pixel_size: float = option(80.0, gt=0)
    world_seed: int = option(1, ge=0)


@dataclass
class PretextOptions:
    mask_ratio: float = option(0.3, gt=0, lt=1)


@dataclass
class PretrainOptimizerOptions(OptimizerOptions):
    lr: float | None = option(None, gt=0)  # null: the published rate of the method


@dataclass
class PretrainSchedulerOptions(SchedulerOptions):
    name: Literal["none", "cosine_restarts", "cosine", "plateau", "cyclic", "onecycle"] = "plateau"


@dataclass
class PretrainConfig:
    """A pretraining config (``workbench pretrain``); every section has its defaults."""

    name: str | None = None
    method: Literal["optsimmim", "opttranslator"] = "optsimmim"
    seed: int = option(0, ge=0)
    output_dir: str = "runs"
    model: PretrainModelOptions = _section(PretrainModelOptions)
    data: PretrainDataOptions = _section(PretrainDataOptions)
    pretrain: PretextOptions = _section(PretextOptions)
    optimizer: PretrainOptimizerOptions = _section(PretrainOptimizerOptions)
    scheduler: PretrainSchedulerOptions = _section(PretrainSchedulerOptions)
    trainer: TrainerOptions = _section(TrainerOptions)
    checkpoint: CheckpointOptions = _section(CheckpointOptions)


# --------------------------------------------------------------------------- checks


def field_type(schema: type, name: str) -> Any:
    """The resolved type hint of field ``name`` of the dataclass ``schema``."""
    return typing.get_type_hints(schema)[name]


def _bounds(meta: Mapping[str, Any]) -> str:
    parts = [
        f"{sign} {meta[key]:g}"
        for key, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤"))
        if meta.get(key) is not None
    ]
    return " " + " and ".join(parts) if parts else ""


def describe(hint: Any, meta: Mapping[str, Any] | None = None) -> str:
    """What a field of type ``hint`` (with ``meta`` from :func:`option`) expects, in words.

    Examples
    --------
    >>> describe(int | None, {"ge": 1}), describe(Literal["a", "b"])
    ('an integer ≥ 1 or null', "one of ['a', 'b']")
    """
    meta = meta or {}
    if meta.get("expected"):
        return meta["expected"]
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        inner = rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
        return describe(inner, meta) + " or null"
    if origin is Literal:
        return f"one of {list(args)}"
    if hint is bool:
        return "true or false"
    if hint is int:
        return "an integer" + _bounds(meta)
    if hint is float:
        return "a number" + _bounds(meta)
    if hint is str:
        return "a non-empty string"
    if origin is list:
        item = {str: "strings", int: "integers"}.get(args[0] if args else Any, "numbers")
        n = meta.get("length")
        return f"a list of {n} {item}" if n else f"a list of {item}"
    if origin is dict or hint is dict:
        return "a mapping"
    if is_dataclass(hint):
        return "a mapping of options"
    return " or ".join(describe(a) for a in args) if args else str(hint)


def _ok(value: Any, hint: Any, meta: Mapping[str, Any]) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value != ""
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return False
        checks = (("ge", value.__ge__), ("gt", value.__gt__), ("le", value.__le__))
        if not all(meta.get(k) is None or op(meta[k]) for k, op in (*checks, ("lt", value.__lt__))):
            return False
    if isinstance(value, list) and meta.get("length") is not None:
        if len(value) != meta["length"]:
            return False
    return meta.get("check") is None or bool(meta["check"](value))


def check_options(
    node: Mapping[str, Any], schema: type, where: str = ""
) -> tuple[str, Any, str] | None:
    """The first option of ``node`` (a merged, plain section of ``schema``) that breaks its
    constraints, as ``(key path, value, what it expects)``, or ``None`` when all hold."""
    for f in fields(schema):
        key = f"{where}.{f.name}" if where else f.name
        hint, value = field_type(schema, f.name), node.get(f.name)
        if is_dataclass(hint):
            problem = check_options(value or {}, hint, key)
            if problem:
                return problem
        elif not _ok(value, hint, f.metadata):
            return key, value, describe(hint, f.metadata)
    return None
