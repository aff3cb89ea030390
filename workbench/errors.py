"""One small error hierarchy, raised at the boundary with the file, variable and expectation.

Every error the workbench raises on bad input is a :class:`WorkbenchError`, so a caller can
catch all of them at once, or one family (data, checkpoint, config) at a time.

Examples
--------
>>> from workbench.errors import StackValidationError
>>> raise StackValidationError("has no CRS", path="scene.tif", variable="sigma0_db",
...                            expected="a projected CRS such as EPSG:32633")
Traceback (most recent call last):
...
workbench.errors.StackValidationError: scene.tif: variable 'sigma0_db' has no CRS (expected a projected CRS such as EPSG:32633)
"""

from __future__ import annotations

import os
from typing import Any

__all__ = [
    "WorkbenchError",
    "DataError",
    "FileFormatError",
    "StackValidationError",
    "LabelEncodingError",
    "CheckpointError",
    "ConfigError",
]


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on bad input.

    Parameters
    ----------
    message
        What is wrong, as a sentence fragment ("has no CRS").
    path
        The file or folder concerned, if any.
    variable
        The variable, band or key concerned, if any.
    expected
        What was expected instead, if it helps the user.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        variable: str | None = None,
        expected: Any = None,
    ) -> None:
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        self.variable = variable
        self.expected = expected
        super().__init__(self._format())

    def _format(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(f"{self.path}: ")
        if self.variable is not None:
            parts.append(f"variable {self.variable!r} ")
        parts.append(self.message)
        if self.expected is not None:
            parts.append(f" (expected {self.expected})")
        return "".join(parts)


class DataError(WorkbenchError):
    """Input data is missing, unreadable or inconsistent."""


class FileFormatError(DataError):
    """A file cannot be read: unreadable, truncated, or not the format it claims to be."""


class StackValidationError(DataError):
    """A scene stack breaks the conventions (dims, CRS, grid, dates, units, values)."""


class LabelEncodingError(DataError):
    """A label raster holds values outside its encoding (e.g. CaFFe zones 0/64/127/254)."""


class CheckpointError(WorkbenchError):
    """A checkpoint is truncated, foreign, or lacks what is needed to rebuild the model."""


class ConfigError(WorkbenchError):
    """A configuration file or option is invalid."""
