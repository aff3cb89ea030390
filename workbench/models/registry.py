"""The model registry: names → classes, with named presets of keyword arguments.

Every model is registered under a name with two presets at least:

- ``"published"``: the configuration of the paper (the class defaults), the default preset;
- ``"small"``: a few thousand to ~100 k parameters, for tests and CPU demos.

``create_model(name, preset=..., **overrides)`` merges the preset with the overrides; the
model remembers the full resolved arguments in ``model.config`` (see
:class:`workbench.models.base.WorkbenchModel`).

Examples
--------
>>> from workbench.models import create_model, list_models, list_presets
>>> "ssl4sar_hybrid" in list_models()
True
>>> list_presets("icemapper3d")
['published', 'small']
>>> model = create_model("icemapper3d", preset="small", temporal_pooling="attention")
>>> model.config["temporal_pooling"]
'attention'
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

from workbench.errors import ConfigError
from workbench.models.base import WorkbenchModel

__all__ = [
    "register_model",
    "create_model",
    "list_models",
    "list_presets",
    "get_model_class",
    "preset_kwargs",
    "count_parameters",
    "PUBLISHED_PARAMETERS",
    "parameter_rows",
    "parameter_table",
]

M = TypeVar("M", bound=type[WorkbenchModel])


@dataclass
class _Entry:
    cls: type[WorkbenchModel]
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)


_REGISTRY: dict[str, _Entry] = {}


def register_model(
    name: str, *, presets: Mapping[str, Mapping[str, Any]] | None = None
) -> Callable[[M], M]:
    """Class decorator: register a :class:`WorkbenchModel` subclass under ``name``.

    ``presets`` maps preset names to keyword arguments; ``"published"`` (``{}``: the class
    defaults) is added when absent.
    """

    def decorate(cls: M) -> M:
        if not issubclass(cls, WorkbenchModel):
            raise TypeError(f"{cls.__name__} must subclass WorkbenchModel to be registered")
        if name in _REGISTRY and _REGISTRY[name].cls is not cls:
            raise ValueError(f"a model named {name!r} is already registered")
        all_presets: dict[str, dict[str, Any]] = {"published": {}}
        all_presets.update({k: dict(v) for k, v in (presets or {}).items()})
        cls.model_name = name
        _REGISTRY[name] = _Entry(cls, all_presets)
        return cls

    return decorate


def list_models() -> list[str]:
    """Names of the registered models, sorted."""
    return sorted(_REGISTRY)


def _entry(name: str) -> _Entry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            "is not a registered model", variable=name, expected=f"one of {list_models()}"
        ) from None


def get_model_class(name: str) -> type[WorkbenchModel]:
    """The class registered under ``name`` (its docstring documents the model)."""
    return _entry(name).cls


def list_presets(name: str) -> list[str]:
    """Preset names of model ``name``, ``"published"`` first."""
    presets = list(_entry(name).presets)
    return sorted(presets, key=lambda p: (p != "published", p))


def preset_kwargs(name: str, preset: str | None = "published") -> dict[str, Any]:
    """The keyword arguments of a preset (``None``: no preset, i.e. the class defaults)."""
    entry = _entry(name)
    if preset is None:
        return {}
    if preset not in entry.presets:
        raise ConfigError(
            f"has no preset {preset!r}", variable=name, expected=f"one of {list_presets(name)}"
        )
    return dict(entry.presets[preset])


def create_model(name: str, preset: str | None = "published", **kwargs: Any) -> WorkbenchModel:
    """Build model ``name`` from a preset, with ``kwargs`` overriding the preset's values.

    Parameters
    ----------
    name
        A name from :func:`list_models`.
    preset
        ``"published"`` (default: the paper's configuration), ``"small"`` (tests, CPU demos),
        or ``None`` for the bare class defaults.
    **kwargs
        Constructor arguments of the model class (see its docstring).

    Raises
    ------
    ConfigError
        Unknown model, preset or keyword argument.
    """
    entry = _entry(name)
    arguments = preset_kwargs(name, preset)
    arguments.update(kwargs)
    params = inspect.signature(entry.cls.__init__).parameters
    unknown = sorted(set(arguments) - set(params) - {"self"})
    if unknown:
        valid = [p for p in params if p != "self"]
        raise ConfigError(
            f"does not take argument(s) {unknown}", variable=name, expected=f"some of {valid}"
        )
    return entry.cls(**arguments)


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters of ``model`` (meta-device models included)."""
    return sum(p.numel() for p in model.parameters())


PUBLISHED_PARAMETERS: dict[str, tuple[float | None, str]] = {
    "swinv2": (
        27.6e6,
        "Swin V2 tiny encoder (timm swinv2_tiny 28.3 M minus its 0.77 M "
        "ImageNet head; docs/science.md §1.7)",
    ),
    "ssl4sar_hybrid": (
        None,
        "not published (docs/science.md §1.7); encoder ≈ 27.6 M + our decoder",
    ),
    "caffe_unet": (None, "not published (docs/science.md §1.6)"),
    "icemapper3d": (4.4e6, "docs/science.md §2.2, 2 input features"),
    "convlstm_unet": (None, "not published (docs/science.md §2.3)"),
    "glavitu": (10.0e6, "docs/science.md §3.2, 4 sources (optical 6, dem 2, sar 4, coherence 1)"),
}
"""Published parameter counts (``None`` where the sources give none), with where they come from."""


def parameter_rows(presets: tuple[str, ...] = ("published", "small")) -> list[dict[str, Any]]:
    """Parameter counts of every registered model and preset, built on the ``meta`` device.

    Returns one dict per (model, preset) with ``model``, ``preset``, ``params``, ``published``
    (or ``None``), ``difference`` (relative, or ``None``) and ``source``.
    """
    rows = []
    for name in list_models():
        for preset in presets:
            if preset not in _entry(name).presets:
                continue
            with torch.device("meta"):
                model = create_model(name, preset=preset)
            n = count_parameters(model)
            published, source = PUBLISHED_PARAMETERS.get(name, (None, ""))
            if preset != "published":
                published, source = None, ""
            diff = (n - published) / published if published else None
            rows.append(
                dict(
                    model=name,
                    preset=preset,
                    params=n,
                    published=published,
                    difference=diff,
                    source=source,
                )
            )
    return rows


def parameter_table(presets: tuple[str, ...] = ("published", "small")) -> str:
    """A Markdown table of :func:`parameter_rows` (what ``docs/models.md`` shows).

    Examples
    --------
    >>> print(parameter_table(presets=("small",)).splitlines()[0])
    | model | preset | parameters | published | difference | source of the published figure |
    """

    def fmt(n: float) -> str:
        return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.1f} k"

    lines = [
        "| model | preset | parameters | published | difference | source of the published figure |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in parameter_rows(presets):
        pub = fmt(r["published"]) if r["published"] else "—"
        diff = f"{100 * r['difference']:+.1f} %" if r["difference"] is not None else "—"
        lines.append(
            f"| `{r['model']}` | {r['preset']} | {fmt(r['params'])} ({r['params']:,}) "
            f"| {pub} | {diff} | {r['source']} |"
        )
    return "\n".join(lines)
