"""Random streams and small array helpers shared by the parts of the simulator.

Each part draws from its own stream (``_rng(seed, _S_...)``), so that e.g. a longer series
keeps the terrain and the first dates unchanged.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

from workbench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    pass


# independent random streams, so that e.g. a longer series keeps the terrain and the
# first dates unchanged
(
    _S_TERRAIN,
    _S_FRONT,
    _S_EVENTS,
    _S_SPECKLE,
    _S_WEATHER,
    _S_COHERENCE,
    _S_OPTICAL,
    _S_ICEBERG,
    _S_PARAMS,
) = range(1, 10)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"is {seed!r}", variable="seed", expected="an integer ≥ 0")
    return int(seed)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, keys)]))


def _smoothstep(x: np.ndarray | float) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _field2d(
    rng: np.random.Generator,
    shape: tuple[int, int],
    px: float,
    beta: float,
    l_max_m: float,
    l_min_m: float = 0.0,
    pad: float = 0.25,
) -> np.ndarray:
    """Gaussian random field, power spectrum ∝ (k² + 1/l_max²)^(-beta/2), unit std (float32).

    Wavelengths are in metres so the field looks the same at any pixel size; a soft
    high-frequency cut at ``l_min_m`` band-limits it. Padding avoids periodic edges.
    """
    ny, nx = shape
    py, qx = int(ny * (1 + pad)) + 2, int(nx * (1 + pad)) + 2
    white = rng.standard_normal((py, qx), dtype=np.float32)
    spec = np.fft.rfft2(white)
    fy = np.fft.fftfreq(py, d=px).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(qx, d=px).astype(np.float32)[None, :]
    k2 = fy * fy + fx * fx
    filt = (k2 + np.float32(1.0 / l_max_m) ** 2) ** np.float32(-beta / 4.0)
    if l_min_m > 0:
        filt *= np.exp(-k2 * np.float32(l_min_m) ** 2)
    filt[0, 0] = 0.0
    out = np.fft.irfft2(spec * filt, s=(py, qx))[:ny, :nx].astype(np.float32)
    out -= out.mean()
    out /= out.std() + np.float32(1e-12)
    return out


def _streak_field(
    rng: np.random.Generator,
    shape: tuple[int, int],
    px: float,
    azimuth_deg: float,
    l_along_m: float,
    l_across_m: float,
) -> np.ndarray:
    """Anisotropic Gaussian field elongated along ``azimuth_deg`` (unit std, float32)."""
    ny, nx = shape
    py, qx = ny + 16, nx + 16
    white = rng.standard_normal((py, qx), dtype=np.float32)
    spec = np.fft.rfft2(white)
    fy = np.fft.fftfreq(py, d=px).astype(np.float32)[:, None]  # cycles/m, row axis = -north
    fx = np.fft.rfftfreq(qx, d=px).astype(np.float32)[None, :]
    a = math.radians(azimuth_deg)
    # frequency components along (east, north) = (fx, -fy)
    k_along = fx * math.sin(a) - fy * math.cos(a)
    k_across = fx * math.cos(a) + fy * math.sin(a)
    filt = np.exp(-2.0 * np.pi**2 * ((k_along * l_along_m) ** 2 + (k_across * l_across_m) ** 2))
    filt[0, 0] = 0.0
    out = np.fft.irfft2(spec * filt, s=(py, qx))[:ny, :nx].astype(np.float32)
    out -= out.mean()
    out /= out.std() + np.float32(1e-12)
    return out


def _noise1d(
    rng: np.random.Generator, n: int, dx: float, wavelength_m: float, bandwidth: float = 0.5
) -> np.ndarray:
    """1-D band-pass Gaussian noise centred on ``wavelength_m`` (unit std)."""
    m = int(n * 1.2) + 8
    white = rng.standard_normal(m)
    spec = np.fft.rfft(white)
    k = np.fft.rfftfreq(m, d=dx)
    with np.errstate(divide="ignore"):
        filt = np.exp(-0.5 * (np.log(np.maximum(k, 1e-12) * wavelength_m) / bandwidth) ** 2)
    filt[0] = 0.0
    out = np.fft.irfft(spec * filt, n=m)[:n]
    sd = out.std()
    return out / sd if sd > 0 else out


def _lowpass1d(rng: np.random.Generator, n: int, dx: float, l_min_m: float) -> np.ndarray:
    """1-D smooth noise (Gaussian spectrum, wavelengths ≳ l_min_m), unit std."""
    m = int(n * 1.2) + 8
    spec = np.fft.rfft(rng.standard_normal(m))
    k = np.fft.rfftfreq(m, d=dx)
    out = np.fft.irfft(spec * np.exp(-((k * l_min_m) ** 2)), n=m)[:n]
    out -= out.mean()
    sd = out.std()
    return out / sd if sd > 0 else out


def _shift(a: np.ndarray, dr: int, dc: int, fill: bool = False) -> np.ndarray:
    """``out[r, c] = a[r - dr, c - dc]`` (the neighbour at offset (-dr, -dc)), padded."""
    out = np.full_like(a, fill)
    ny, nx = a.shape
    out[max(dr, 0) : ny + min(dr, 0), max(dc, 0) : nx + min(dc, 0)] = a[
        max(-dr, 0) : ny + min(-dr, 0), max(-dc, 0) : nx + min(-dc, 0)
    ]
    return out


def _any4(mask: np.ndarray) -> np.ndarray:
    """True where at least one 4-neighbour is True."""
    out = np.zeros_like(mask)
    out[1:, :] |= mask[:-1, :]
    out[:-1, :] |= mask[1:, :]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


_S4 = ndimage.generate_binary_structure(2, 1)
_S8 = ndimage.generate_binary_structure(2, 2)


def _largest(mask: np.ndarray, structure: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    lab, n = ndimage.label(mask, structure=structure)
    if n <= 1:
        return mask.copy(), lab, n
    counts = np.bincount(lab.ravel())
    counts[0] = 0
    return lab == counts.argmax(), lab, n
