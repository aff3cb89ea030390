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

__all__ = [
    "DEMO_KINDS",
    "demo_checkpoint",
    "demo_checkpoint_name",
    "packaged_checkpoints",
    "resolve_checkpoint",
]

DEMO_KINDS: tuple[str, ...] = ("zones", "outlines")
"""The packaged demo models."""


def demo_checkpoint_name(kind: str) -> str:
    """``"zones"`` / ``"demo_zones"`` → ``"demo_zones.pt"`` (and the same for outlines)."""
    k = str(kind).removesuffix(".pt").removeprefix("demo_")
    if k not in DEMO_KINDS:
        raise ConfigError(
            f"is {kind!r}",
            variable="kind",
            expected=f"one of {list(DEMO_KINDS)} (or demo_zones / demo_outlines)",
        )
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
        raise CheckpointError(
            "is missing",
            path=path,
            expected="the packaged demo model; rebuild it with "
            "`python -m workbench.checkpoints.build`",
        )
    return path


def packaged_checkpoints() -> dict[str, Path]:
    """The models shipped with the package, by name: the demo models and, once built
    (``python -m workbench.checkpoints.build_caffe256``), ``caffe256_zones`` (real SAR).

    >>> sorted(packaged_checkpoints())
    ['caffe256_zones', 'demo_outlines', 'demo_zones']
    """
    folder = Path(str(resources.files("workbench.checkpoints")))
    return {p.stem: p for p in sorted(folder.glob("*.pt"))}


def resolve_checkpoint(value: str | os.PathLike[str]) -> Path:
    """A checkpoint argument as a path: an existing file as it is, else a packaged model by
    name (``demo_zones``, ``demo_outlines``, ``caffe256_zones``; with or without ``.pt``).

    >>> resolve_checkpoint("demo_zones").name
    'demo_zones.pt'
    >>> resolve_checkpoint("nowhere.pt")
    Traceback (most recent call last):
    ...
    workbench.errors.CheckpointError: nowhere.pt: does not exist (expected a checkpoint file, or a packaged model name: ...)
    """
    path = Path(value)
    if path.exists():
        return path
    name = str(value).removesuffix(".pt")
    packaged = packaged_checkpoints()
    if name in packaged:
        return packaged[name]
    raise CheckpointError(
        "does not exist",
        path=path,
        expected="a checkpoint file, or a packaged model name: " + ", ".join(packaged),
    )
