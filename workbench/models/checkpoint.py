"""One checkpoint format for every model: ``save_checkpoint`` and ``load_model``.

A checkpoint is a ``torch.save`` file of plain data and tensors only, so it loads with
``torch.load(..., weights_only=True)`` (no code can run while loading)::

    {
      "format": "glacier-workbench-model",   # CHECKPOINT_FORMAT
      "format_version": 1,                   # CHECKPOINT_VERSION
      "model_name": "ssl4sar_hybrid",        # registry name
      "model_kwargs": {...},                 # model.config: every constructor argument
      "state_dict": {...},                   # tensors, on the CPU
      "normalization": {"mean": [...], "std": [...]} or None,
      "classes": {"names": [...], "values": [...]} or None,   # values: on-disk encoding
      "train_config": {...} or None,
      "metrics": {...} or None,
      "created": "2025-01-01T00:00:00+00:00",
      "versions": {"workbench": "0.1.0", "torch": "2.x"},
    }

:func:`load_model` returns the rebuilt model (eval mode, on the chosen device) with a
``checkpoint_info`` attribute (:class:`CheckpointInfo`) holding everything but the weights.
:func:`read_checkpoint_info` reads that metadata without building the model.

Examples
--------
>>> import tempfile, pathlib, torch
>>> from workbench.models import create_model, save_checkpoint, load_model
>>> model = create_model("caffe_unet", preset="small")
>>> path = pathlib.Path(tempfile.mkdtemp()) / "unet.pt"
>>> _ = save_checkpoint(model, path, normalization={"mean": [0.3], "std": [0.2]})
>>> loaded = load_model(path, device="cpu")
>>> loaded.checkpoint_info.classes["values"]
[0, 64, 127, 254]
"""

from __future__ import annotations

import datetime as _dt
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from workbench._io import atomic_path, safe_torch_load
from workbench.device import resolve_device
from workbench.errors import CheckpointError, WorkbenchError
from workbench.models.base import WorkbenchModel, plain_config
from workbench.models.registry import create_model, list_models

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CheckpointInfo",
    "save_checkpoint",
    "load_model",
    "load_weights_into",
    "read_checkpoint_info",
]

CHECKPOINT_FORMAT = "glacier-workbench-model"
CHECKPOINT_VERSION = 1
_REQUIRED = ("format", "format_version", "model_name", "model_kwargs", "state_dict")


@dataclass(frozen=True)
class CheckpointInfo:
    """Everything a checkpoint holds besides the weights."""

    path: str
    model_name: str
    model_kwargs: dict[str, Any]
    normalization: dict[str, Any] | None
    classes: dict[str, Any] | None
    train_config: dict[str, Any] | None
    metrics: dict[str, Any] | None
    format_version: int
    created: str | None
    versions: dict[str, str]
    baselines: dict[str, Any] | None = None


def _unwrap(model: nn.Module) -> nn.Module:
    model = getattr(model, "_orig_mod", model)  # torch.compile
    if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    return model


def _to_plain(value: Any, where: str) -> Any:
    """Numbers from NumPy / 0-d tensors become Python numbers, paths strings, then plain_config."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return _to_plain(value.tolist(), where)
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, numbers.Number) and not isinstance(value, (bool, int, float)):
        return value.item() if hasattr(value, "item") else float(value)  # type: ignore[arg-type]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # NumPy arrays
        return _to_plain(value.tolist(), where)
    if isinstance(value, Mapping):
        return {
            str(k) if not isinstance(k, str) else k: _to_plain(v, f"{where}[{k!r}]")
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_to_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return plain_config(value, where=where)


def _check_classes(classes: Any, model: WorkbenchModel) -> dict[str, Any] | None:
    if classes is None:
        return model.default_classes()
    if isinstance(classes, Sequence) and not isinstance(classes, str):
        classes = {"names": list(classes), "values": None}
    classes = _to_plain(classes, "classes")
    if not isinstance(classes, dict) or not isinstance(classes.get("names"), list):
        raise CheckpointError(
            "must be a list of class names or a dict with 'names'",
            variable="classes",
            expected="{'names': [...], 'values': [...] or None}",
        )
    classes.setdefault("values", None)
    n = model.config.get("num_classes")
    if n is not None and len(classes["names"]) != n:
        raise CheckpointError(
            f"names {len(classes['names'])} classes for a model with {n}",
            variable="classes",
            expected=f"{n} class names",
        )
    if classes["values"] is not None and len(classes["values"]) != len(classes["names"]):
        raise CheckpointError("has a different number of values and names", variable="classes")
    return classes


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _check_normalization(normalization: Any) -> dict[str, Any] | None:
    if normalization is None:
        return None
    norm = _to_plain(normalization, "normalization")
    if not isinstance(norm, dict):
        raise CheckpointError(
            "must be a dict",
            variable="normalization",
            expected="{'mean': [...], 'std': [...]} or one such dict per source",
        )
    if "mean" in norm or "std" in norm:
        mean, std = norm.get("mean"), norm.get("std")
        if mean is None or std is None or len(_as_list(mean)) != len(_as_list(std)):
            raise CheckpointError(
                f"has mean {mean} and std {std}",
                variable="normalization",
                expected="'mean' and 'std' of the same length",
            )
        if any(not isinstance(s, (int, float)) or s <= 0 for s in _as_list(std)):
            raise CheckpointError(
                f"has std {std}", variable="normalization", expected="positive standard deviations"
            )
    return norm


def save_checkpoint(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    normalization: Mapping[str, Any] | None = None,
    classes: Mapping[str, Any] | Sequence[str] | None = None,
    train_config: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    baselines: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` and what is needed to use it to ``path``, atomically.

    Parameters
    ----------
    model
        A registered :class:`~workbench.models.WorkbenchModel` (a ``torch.compile``-d or
        ``DataParallel``-wrapped one is unwrapped).
    path
        Target file; written through a temporary file and renamed, so a failed save leaves
        any previous file intact.
    normalization
        How inputs were normalised, e.g. ``{"mean": [...], "std": [...]}`` per channel, or
        one such dict per source for GlaViTU; ``None`` if inputs are used as they are.
    classes
        Class names (list) or ``{"names": [...], "values": [...]}`` with the on-disk values;
        default: the model's own (CaFFe zones 0/64/127/254 for the zone models, 0/1 for the
        glacier-mask models).
    train_config, metrics
        Plain dicts (NumPy / tensor scalars are converted), stored as they are.
    baselines
        Model-free baselines built from the training labels, e.g. ``{"fixed_front":
        FixedFront.to_dict()}`` (:mod:`workbench.evaluation.baselines`), so an evaluation on
        any data can report what a guess from the same training labels scores.

    Returns
    -------
    Path
        The written file.
    """
    model = _unwrap(model)
    if not isinstance(model, WorkbenchModel) or not model.model_name:
        raise CheckpointError(
            f"cannot save a {type(model).__name__}",
            path=path,
            expected="a registered WorkbenchModel (see list_models())",
        )
    try:
        payload = {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_VERSION,
            "model_name": model.model_name,
            "model_kwargs": plain_config(model.config, where="model_kwargs"),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "normalization": _check_normalization(normalization),
            "classes": _check_classes(classes, model),
            "train_config": _to_plain(train_config, "train_config") if train_config else None,
            "metrics": _to_plain(metrics, "metrics") if metrics else None,
            "baselines": _to_plain(baselines, "baselines") if baselines else None,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "versions": {"workbench": _workbench_version(), "torch": str(torch.__version__)},
        }
    except WorkbenchError as exc:
        if exc.path is None:
            raise CheckpointError(
                exc.message, path=path, variable=exc.variable, expected=exc.expected
            ) from None
        raise
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def _workbench_version() -> str:
    try:
        from importlib.metadata import version

        return version("glacier-workbench")
    except Exception:  # not installed as a distribution
        return "unknown"


def _read(path: Path) -> dict[str, Any]:
    obj = safe_torch_load(path, expected="a checkpoint written by save_checkpoint")
    if not isinstance(obj, dict):
        raise CheckpointError(
            f"holds a {type(obj).__name__}, not a workbench checkpoint",
            path=path,
            expected=f"a dict with keys {list(_REQUIRED)}",
        )
    if "format" not in obj and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(
            "is a plain state dict: it lacks the model name and arguments",
            path=path,
            expected="a checkpoint written by save_checkpoint "
            "(or load the state dict into a model you build)",
        )
    missing = [k for k in _REQUIRED if k not in obj]
    if missing:
        raise CheckpointError(
            f"lacks key(s) {missing}",
            path=path,
            expected=f"a workbench checkpoint with keys {list(_REQUIRED)}",
        )
    if obj["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"has format {obj['format']!r}",
            path=path,
            variable="format",
            expected=repr(CHECKPOINT_FORMAT),
        )
    version = obj["format_version"]
    if not isinstance(version, int) or version > CHECKPOINT_VERSION or version < 1:
        raise CheckpointError(
            f"has format version {version!r}",
            path=path,
            variable="format_version",
            expected=f"1..{CHECKPOINT_VERSION} (update the workbench for newer)",
        )
    if not isinstance(obj["model_kwargs"], dict) or not isinstance(obj["state_dict"], dict):
        raise CheckpointError(
            "has malformed model_kwargs or state_dict", path=path, expected="dicts"
        )
    return obj


def _info(obj: Mapping[str, Any], path: Path) -> CheckpointInfo:
    return CheckpointInfo(
        path=str(path),
        model_name=obj["model_name"],
        model_kwargs=dict(obj["model_kwargs"]),
        normalization=obj.get("normalization"),
        classes=obj.get("classes"),
        train_config=obj.get("train_config"),
        metrics=obj.get("metrics"),
        format_version=obj["format_version"],
        created=obj.get("created"),
        versions=dict(obj.get("versions") or {}),
        baselines=obj.get("baselines"),
    )


def read_checkpoint_info(path: str | os.PathLike[str]) -> CheckpointInfo:
    """Read a checkpoint's metadata (model name, arguments, normalisation, classes, …)."""
    path = Path(path)
    return _info(_read(path), path)


def _checked_state(
    obj: Mapping[str, Any], info: CheckpointInfo, model: nn.Module, path: Path
) -> dict[str, torch.Tensor]:
    """The checkpoint's state dict, refused unless it fits ``model`` exactly and is finite."""
    state = obj["state_dict"]
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(state) & set(expected))
        if not isinstance(state[k], torch.Tensor) or state[k].shape != expected[k].shape
    ]
    if missing or unexpected or mismatched:
        parts = [
            f"{label} {keys[:20]}{' …' if len(keys) > 20 else ''}"
            for label, keys in (
                ("missing keys", missing),
                ("unexpected keys", unexpected),
                ("shape mismatches", mismatched),
            )
            if keys
        ]
        raise CheckpointError(
            "has weights that do not fit the model: " + "; ".join(parts),
            path=path,
            variable="state_dict",
            expected=f"the state dict of {info.model_name}",
        )
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(
            f"has non-finite (NaN or infinite) weights in {len(bad)} tensors "
            f"{bad[:5]}{' …' if len(bad) > 5 else ''}: the training diverged",
            path=path,
            variable="state_dict",
            expected="finite weights (a checkpoint of an earlier, finite epoch)",
        )
    return state


def load_weights_into(model: nn.Module, path: str | os.PathLike[str]) -> CheckpointInfo:
    """Copy every weight of the checkpoint at ``path`` into ``model`` (in place), e.g. to
    fine-tune a trained model on a new glacier. The model must be the checkpoint's
    architecture with the same arguments.

    Raises
    ------
    CheckpointError
        As :func:`load_model`, and when ``model`` is not the checkpoint's model (names both).

    Examples
    --------
    >>> from workbench.checkpoints import demo_checkpoint
    >>> info = read_checkpoint_info(demo_checkpoint("zones"))
    >>> model = create_model(info.model_name, preset=None, **info.model_kwargs)
    >>> load_weights_into(model, demo_checkpoint("zones")).model_name
    'caffe_unet'
    """
    path = Path(path)
    obj = _read(path)
    info = _info(obj, path)
    name = getattr(_unwrap(model), "model_name", "") or None
    if name is not None and name != info.model_name:
        raise CheckpointError(
            f"holds a {info.model_name!r} model, not {name!r}",
            path=path,
            variable="model_name",
            expected=f"a {name!r} checkpoint",
        )
    target = _unwrap(model)
    state = _checked_state(obj, info, target, path)
    with torch.no_grad():
        target.load_state_dict(state, strict=True)
    return info


def load_model(path: str | os.PathLike[str], device: str | torch.device = "auto") -> WorkbenchModel:
    """Rebuild the model saved at ``path``, load its weights, put it in eval mode on ``device``.

    The returned model has a ``checkpoint_info`` attribute (:class:`CheckpointInfo`) with the
    normalisation, class encoding, training configuration and metrics.

    Raises
    ------
    CheckpointError
        Missing, truncated or foreign file (a plain state dict, an arbitrary pickle — never
        executed, ``weights_only=True``), unknown model, arguments the model no longer takes,
        or weights that do not fit (the message lists the keys), or are not finite.
    """
    path = Path(path)
    obj = _read(path)
    info = _info(obj, path)
    if info.model_name not in list_models():
        raise CheckpointError(
            f"holds an unknown model {info.model_name!r}",
            path=path,
            variable="model_name",
            expected=f"one of {list_models()}",
        )
    try:
        model = create_model(info.model_name, preset=None, **info.model_kwargs)
    except (WorkbenchError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"has arguments that do not build {info.model_name!r}: {exc}",
            path=path,
            variable="model_kwargs",
        ) from None
    model.load_state_dict(_checked_state(obj, info, model, path), strict=True)
    model.to(resolve_device(device)).eval()
    model.checkpoint_info = info  # type: ignore[assignment]  # torch types module attributes as Tensor | Module
    return model
