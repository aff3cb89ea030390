"""Seasonal shapes of the synthetic world, functions of the day of year: the front's
annual cycle, snow wetness, ice mélange and fast sea ice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from workbench.data.synthetic._numerics import _smoothstep

if TYPE_CHECKING:  # pragma: no cover
    pass


def _season_front(doy: np.ndarray) -> np.ndarray:
    """Seasonal front cycle in [0, 1]: maximum ≈ 9 June (doy 160), minimum ≈ 2 October."""
    d_max, fall = 160.0, 115.0
    x = (np.asarray(doy, dtype=float) - d_max) % 365.25
    return np.where(
        x < fall,
        0.5 + 0.5 * np.cos(np.pi * x / fall),
        0.5 - 0.5 * np.cos(np.pi * (x - fall) / (365.25 - fall)),
    )


def _wetness(doy: np.ndarray | float) -> np.ndarray:
    """Wet-snow fraction: 0 until late May, 1 from late June to mid-August, 0 from late Sept."""
    doy = np.asarray(doy, dtype=float)
    return _smoothstep((doy - 145.0) / 30.0) * (1.0 - _smoothstep((doy - 228.0) / 37.0))


def _melange(doy: np.ndarray | float) -> np.ndarray:
    """Mélange extent factor: forms in November, full December–April, gone by late June."""
    doy = np.asarray(doy, dtype=float)
    grow = _smoothstep((doy - 300.0) / 40.0)
    decay = 1.0 - _smoothstep((doy - 115.0) / 55.0)
    return np.where(doy >= 200.0, grow, decay)


def _sea_ice(doy: np.ndarray | float) -> np.ndarray:
    """Fast-ice factor: forms in late January, full in March–April, breaks up in May."""
    doy = np.asarray(doy, dtype=float)
    return _smoothstep((doy - 25.0) / 30.0) * (1.0 - _smoothstep((doy - 125.0) / 25.0))
