"""Overlapping windows and their smooth blending weights.

A scene is cut into windows on a regular grid (:func:`window_starts`: stride
``window · (1 − overlap)``, the last window flush with the border); every window's output is
multiplied by a weight map that is largest in the centre and small (never zero) at the
borders (:func:`window_weights`), added into an accumulator, and the accumulated sum is
divided by the accumulated weights. Because the result is a weighted *mean*, a model whose
output is constant gives exactly that constant everywhere (no seams), and a model that
returns the pixel coordinates of its window gives back the coordinate image exactly.

:func:`blend_windows` is that procedure for an in-memory array and any window function; the
scene engine (:func:`workbench.inference.predict`) uses the same grid and weights tile by
tile.

Examples
--------
>>> import numpy as np
>>> window_starts(10, 4, 0.5)
[0, 2, 4, 6]
>>> image = np.random.default_rng(0).normal(size=(1, 30, 45)).astype(np.float32)
>>> out = blend_windows(lambda x: x * 2, image, window=16, overlap=0.5)
>>> bool(np.allclose(out, image * 2, atol=1e-5))
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch

from workbench.data.patches import crop_padded, grid_starts
from workbench.errors import ConfigError

__all__ = ["SIGMA_SCALE", "WEIGHTINGS", "window_starts", "window_weights", "blend_windows"]

Weighting = Literal["gaussian", "cosine", "uniform"]
WEIGHTINGS: tuple[str, ...] = ("gaussian", "cosine", "uniform")
"""Blending weight profiles: Gaussian (σ = window / 8 by default), cosine (Hann) or uniform."""

_MIN_WEIGHT = 1e-3

SIGMA_SCALE = 1 / 8
"""σ of the Gaussian weight as a fraction of the window side (nnU-Net's 1/8). Chosen over
training validation's former 1/4 by measurement: on the caffe256 DBE fold (128 px windows)
MDE 18.19 vs 18.02 px, ECE 0.175 vs 0.191; on the demo world (64 px windows) MDE 656 vs
667 m, 0 vs 1 image without a front, ECE 0.113 vs 0.148 (uniform: 19.26 px, 1154 m)."""


def window_starts(length: int, window: int, overlap: float = 0.5) -> list[int]:
    """Start offsets of windows of ``window`` pixels covering ``0..length`` on one axis.

    The stride is ``round(window · (1 − overlap))`` (at least 1) and the last window is flush
    with the end, so every pixel is covered; a ``length`` up to ``window`` gives one window.
    Same grid as :func:`workbench.data.patches.grid_starts` (training's grid mode).

    Examples
    --------
    >>> window_starts(11, 4, 0.5)
    [0, 2, 4, 6, 7]
    >>> window_starts(3, 4)
    [0]
    """
    return grid_starts(int(length), int(window), float(overlap))


def _profile(n: int, kind: str, sigma_scale: float) -> np.ndarray:
    if kind == "uniform":
        return np.ones(n, np.float64)
    r = np.arange(n, dtype=np.float64) + 0.5  # pixel centres, window from 0 to n
    if kind == "gaussian":
        sigma = max(n * sigma_scale, 1e-6)
        return np.exp(-((r - n / 2.0) ** 2) / (2.0 * sigma**2))
    if kind == "cosine":
        return np.sin(np.pi * r / n) ** 2
    raise ConfigError(f"is {kind!r}", variable="weighting", expected=f"one of {WEIGHTINGS}")


def window_weights(
    shape: int | tuple[int, int], kind: Weighting = "gaussian", *, sigma_scale: float = SIGMA_SCALE
) -> np.ndarray:
    """Blending weights of one window: a separable profile, 1 at the centre, ≥ 1e-3 everywhere.

    Parameters
    ----------
    shape
        Window side, or ``(height, width)``.
    kind
        ``"gaussian"`` (σ = ``sigma_scale`` × side; 1/8 as in nnU-Net), ``"cosine"`` (Hann,
        ``sin²``) or ``"uniform"``.
    sigma_scale
        σ of the Gaussian as a fraction of the window side.

    Returns
    -------
    numpy.ndarray
        float32 ``(height, width)`` weights, maximum 1, clipped below at 1e-3 so a pixel
        covered only by window borders (the scene's edge) still gets a defined value.

    Examples
    --------
    >>> w = window_weights(8, "gaussian")
    >>> w.shape, float(w.max()) <= 1.0, float(w.min()) >= 1e-3
    ((8, 8), True, True)
    >>> bool((window_weights((3, 5), "uniform") == 1).all())
    True
    """
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape), int(shape))
    h, w = (int(s) for s in shape)
    if h < 1 or w < 1:
        raise ConfigError(f"window shape {(h, w)} is empty", variable="window", expected="≥ 1 px")
    if not (math.isfinite(sigma_scale) and sigma_scale > 0):
        raise ConfigError(f"is {sigma_scale!r}", variable="sigma_scale", expected="> 0")
    py, px = _profile(h, kind, sigma_scale), _profile(w, kind, sigma_scale)
    weights = np.outer(py / py.max(), px / px.max())
    return np.maximum(weights, _MIN_WEIGHT).astype(np.float32)


def blend_windows(
    fn: Callable[[Any], Any],
    image: Any,
    *,
    window: int | tuple[int, int],
    overlap: float = 0.5,
    weighting: Weighting = "gaussian",
    batch_size: int = 8,
    fill: float = 0.0,
) -> np.ndarray:
    """Apply ``fn`` to overlapping windows of ``image`` and blend the outputs smoothly.

    Parameters
    ----------
    fn
        Maps a batch of windows ``(B, *lead, h, w)`` (a torch tensor when ``image`` is one,
        else a NumPy array) to outputs ``(B, K, h, w)`` on the same pixels.
    image
        ``(*lead, H, W)`` array or tensor (e.g. ``(C, H, W)``).
    window
        Window side(s) in pixels; a side larger than the image is used with padding
        (``fill``) beyond the border.
    overlap
        Fraction of a window shared with its neighbour (0.5: stride = half a window).
    weighting
        See :func:`window_weights`.
    batch_size
        Windows per call of ``fn``.
    fill
        Value of pixels outside the image (for windows larger than the image).

    Returns
    -------
    numpy.ndarray
        float32 ``(K, H, W)``: ``Σ w·fn(window) / Σ w`` per pixel.

    Examples
    --------
    >>> yy, xx = np.mgrid[0:20, 0:33].astype(np.float32)
    >>> coords = np.stack([yy, xx])
    >>> out = blend_windows(lambda x: x, coords, window=8, overlap=0.5, weighting="cosine")
    >>> bool(np.allclose(out, coords))
    True
    """
    wy, wx = (window, window) if isinstance(window, (int, np.integer)) else window
    wy, wx = int(wy), int(wx)
    is_torch = isinstance(image, torch.Tensor)
    arr = image.detach().cpu().numpy() if is_torch else np.asarray(image)
    h, w = arr.shape[-2:]
    weights = window_weights((wy, wx), weighting)
    positions = [
        (y, x) for y in window_starts(h, wy, overlap) for x in window_starts(w, wx, overlap)
    ]
    acc: np.ndarray | None = None
    wsum = np.zeros((max(h, wy), max(w, wx)), np.float64)
    for i in range(0, len(positions), max(1, int(batch_size))):
        chunk = positions[i : i + max(1, int(batch_size))]
        batch = np.stack([crop_padded(arr, y, x, wy, wx, fill=fill) for y, x in chunk])
        out = fn(torch.from_numpy(batch) if is_torch else batch)
        out = (
            out.detach().cpu().float().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)
        )
        if out.ndim != 4 or out.shape[0] != len(chunk) or out.shape[-2:] != (wy, wx):
            raise ConfigError(
                f"fn returned shape {out.shape} for windows {batch.shape}",
                variable="fn",
                expected=f"({len(chunk)}, K, {wy}, {wx})",
            )
        if acc is None:
            acc = np.zeros((out.shape[1],) + wsum.shape, np.float64)
        for j, (y, x) in enumerate(chunk):
            acc[:, y : y + wy, x : x + wx] += out[j] * weights
            wsum[y : y + wy, x : x + wx] += weights
    assert acc is not None
    return (acc / wsum)[:, :h, :w].astype(np.float32)
