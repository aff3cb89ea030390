"""What every model in the zoo shares: remembered constructor arguments and one output type.

:class:`WorkbenchModel` is the base class of every registered model. It records the keyword
arguments each instance was built with in ``model.config`` (a plain dict of numbers, strings,
lists and dicts) so that :func:`workbench.models.save_checkpoint` can store them and
:func:`workbench.models.load_model` can rebuild the same model with nothing else.

:class:`SegmentationOutput` is what every segmentation model's ``forward`` returns, always, so
training and inference code reads ``out.logits`` whatever the model and its options.

Examples
--------
>>> import torch
>>> from workbench.models import create_model
>>> model = create_model("caffe_unet", preset="small")
>>> model.config["num_classes"]
4
>>> out = model(torch.zeros(1, 1, 32, 32))
>>> tuple(out.logits.shape)
(1, 4, 32, 32)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

import torch
from torch import nn

from workbench.errors import ConfigError, DataError

__all__ = [
    "WorkbenchModel",
    "SegmentationOutput",
    "ModelInputError",
    "plain_config",
    "zone_classes",
    "glacier_classes",
]


class ModelInputError(DataError, ValueError):
    """A model was given an input it cannot use (missing source, wrong shape or channel count).

    Subclasses both :class:`workbench.errors.DataError` and :class:`ValueError`, so either
    ``except`` clause catches it.
    """


class SegmentationOutput(NamedTuple):
    """What a segmentation model's ``forward`` returns.

    Attributes
    ----------
    logits
        ``B × K × H × W`` class logits at the input resolution (softmax/argmax is the caller's
        job). For a target/context model this is the full *context* output.
    front
        ``B × 1 × H × W`` calving-front logits (sigmoid is the caller's job), only for models
        built with ``front_head=True``; else ``None``.
    target
        ``B × K × t × t`` logits of the centre target crop, only for models built with
        ``target_size=t``; else ``None``.
    target_front
        Centre crop of ``front``, when both options are on; else ``None``.
    aux
        Deep-supervision logits ``B × K × H × W`` (GlaViTU), only in training mode; the loss
        weight the paper uses is the model's ``aux_loss_weight`` attribute. ``None`` in eval.
    """

    logits: torch.Tensor
    front: torch.Tensor | None = None
    target: torch.Tensor | None = None
    target_front: torch.Tensor | None = None
    aux: torch.Tensor | None = None

    def tensors(self) -> dict[str, torch.Tensor]:
        """The outputs that are present, by name (for losses, tests and logging)."""
        return {k: v for k, v in self._asdict().items() if v is not None}


_PLAIN = (str, int, float, bool, type(None))


def plain_config(value: Any, *, where: str = "config") -> Any:
    """Return ``value`` as plain data (tuples become lists), or raise :class:`ConfigError`.

    Plain data is what ``torch.load(..., weights_only=True)`` can read back: ``None``, bools,
    numbers, strings, and lists / string-keyed dicts of those.

    Examples
    --------
    >>> plain_config({"depths": (2, 2), "sources": {"sar": 4}})
    {'depths': [2, 2], 'sources': {'sar': 4}}
    """
    if value is None or type(value) in _PLAIN:
        return value
    for kind in (bool, int, float, str):  # subclasses (IntEnum, TorchVersion, …) → base type
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, (list, tuple)):
        return [plain_config(v, where=f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(
                    f"has a non-string key {k!r}", variable=where, expected="string keys only"
                )
            out[k] = plain_config(v, where=f"{where}[{k!r}]")
        return out
    raise ConfigError(
        f"holds a {type(value).__name__}, which a checkpoint cannot store",
        variable=where,
        expected="None, bool, int, float, str, list or dict of those",
    )


def zone_classes(num_classes: int) -> dict[str, Any] | None:
    """The CaFFe zone encoding (names and on-disk values 0/64/127/254) for 4-class models."""
    from workbench.data.encoding import ZONE_CLASSES, ZONE_VALUES

    if num_classes != len(ZONE_CLASSES):
        return None
    return {"names": list(ZONE_CLASSES), "values": list(ZONE_VALUES)}


def glacier_classes(num_classes: int) -> dict[str, Any] | None:
    """The binary glacier-mask encoding (0 not glacier, 1 glacier) for 2-class models."""
    if num_classes != 2:
        return None
    return {"names": ["not_glacier", "glacier"], "values": [0, 1]}


class WorkbenchModel(nn.Module):
    """Base class of every model in the zoo: remembers its constructor keyword arguments.

    After ``__init__`` the instance has ``config``: every argument of the most-derived class's
    ``__init__`` (defaults filled in) as plain data. ``type(model)(**model.config)`` builds an
    identical (freshly initialised) model. ``model_name`` is the registry name, set by
    :func:`workbench.models.register_model`.

    Subclasses must take keyword-representable arguments only (no ``*args``/``**kwargs``) and
    plain values (numbers, strings, lists, dicts), so checkpoints can be loaded with
    ``weights_only=True``.
    """

    model_name: ClassVar[str] = ""
    config: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            return
        original = cls.__dict__["__init__"]
        signature = inspect.signature(original)
        for p in signature.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(
                    f"{cls.__name__}.__init__ takes *args/**kwargs; a WorkbenchModel "
                    "must list its arguments so they can be stored in checkpoints"
                )

        @functools.wraps(original)
        def __init__(self: WorkbenchModel, *args: Any, **kw: Any) -> None:
            original(self, *args, **kw)
            if type(self) is cls:  # only the most-derived class records the config
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                arguments = dict(bound.arguments)
                arguments.pop(next(iter(signature.parameters)))  # self
                self.config = plain_config(arguments, where=f"{cls.__name__} argument")

        cls.__init__ = __init__  # type: ignore[method-assign,assignment]

    def default_classes(self) -> dict[str, Any] | None:
        """The class encoding stored in checkpoints when none is given (``None``: unknown).

        ``{"names": [...], "values": [...]}``; ``values`` are the on-disk label values.
        """
        return None

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of parameters (works on the ``meta`` device too)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def extra_repr(self) -> str:  # shown by print(model)
        return f"model_name={self.model_name!r}" if self.model_name else ""
