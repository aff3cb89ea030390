"""Glacier Workbench: calving fronts, glacier outlines and retreat curves from SAR images.

Subpackages follow the data flow (files → scene stack → patches → model → probabilities →
products → retreat curves → views): :mod:`workbench.data`, :mod:`workbench.models`,
:mod:`workbench.training`, :mod:`workbench.evaluation`, :mod:`workbench.inference`,
:mod:`workbench.geo`, :mod:`workbench.viz`.
"""

from importlib.metadata import PackageNotFoundError, version

from workbench.errors import WorkbenchError

try:
    __version__ = version("glacier-workbench")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["WorkbenchError", "__version__"]
