"""The packaged demo models: small checkpoints trained on the synthetic demo world.

``demo_checkpoint("zones")`` is a calving-front zone model (``caffe_unet``, config
``demo_zones``) and ``demo_checkpoint("outlines")`` the time-series glacier-outline model
(``icemapper3d`` small, config ``demo_outlines``). Both carry a calibration map fitted on the
validation glacier in ``metrics["calibration"]`` and their held-out evaluation in
``metrics["evaluation"]``. ``python -m workbench.checkpoints.build`` trains, calibrates,
evaluates and writes them again from scratch; docs/demo_models.md has their numbers.

Examples
--------
>>> from workbench.checkpoints import demo_checkpoint, DEMO_KINDS
>>> DEMO_KINDS
('zones', 'outlines')
>>> demo_checkpoint("zones").name
'demo_zones.pt'
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from workbench.errors import CheckpointError, ConfigError

__all__ = ["DEMO_KINDS", "demo_checkpoint", "demo_checkpoint_name", "resolve_checkpoint"]

DEMO_KINDS: tuple[str, ...] = ("zones", "outlines")
"""The packaged demo models."""


def demo_checkpoint_name(kind: str) -> str:
    """``"zones"`` / ``"demo_zones"`` → ``"demo_zones.pt"`` (and the same for outlines)."""
    k = str(kind).removesuffix(".pt").removeprefix("demo_")
    if k not in DEMO_KINDS:
        raise ConfigError(f"is {kind!r}", variable="kind",
                          expected=f"one of {list(DEMO_KINDS)} (or demo_zones / demo_outlines)")
    return f"demo_{k}.pt"


def demo_checkpoint(kind: str = "zones") -> Path:
    """Path of a packaged demo checkpoint (for :func:`workbench.models.load_model`).

    Parameters
    ----------
    kind
        ``"zones"`` (calving-front zones) or ``"outlines"`` (glacier outlines from time
        series); ``"demo_zones"`` / ``"demo_outlines"`` work too.

    Raises
    ------
    CheckpointError
        The file is missing (a checkout without it: ``python -m workbench.checkpoints.build``).
    """
    name = demo_checkpoint_name(kind)
    path = Path(str(resources.files("workbench.checkpoints") / name))
    if not path.is_file():
        raise CheckpointError("is missing", path=path,
                              expected="the packaged demo model; rebuild it with "
                                       "`python -m workbench.checkpoints.build`")
    return path


def resolve_checkpoint(value: str | os.PathLike[str]) -> Path:
    """A checkpoint argument as a path: an existing file as it is, else a packaged model by
    name (``demo_zones``, ``demo_outlines``, with or without ``.pt``).

    >>> resolve_checkpoint("demo_zones").name
    'demo_zones.pt'
    >>> resolve_checkpoint("nowhere.pt")
    Traceback (most recent call last):
    ...
    workbench.errors.CheckpointError: nowhere.pt: does not exist (expected a checkpoint file, or a packaged model name: demo_zones, demo_outlines)
    """
    path = Path(value)
    if path.exists():
        return path
    name = str(value).removesuffix(".pt")
    if name in tuple(f"demo_{k}" for k in DEMO_KINDS):
        return demo_checkpoint(name)
    raise CheckpointError("does not exist", path=path,
                          expected="a checkpoint file, or a packaged model name: "
                                   + ", ".join(f"demo_{k}" for k in DEMO_KINDS))
