"""Calibrated confidence (GlaViTU, docs/science.md §3.4): entropy confidence, ECE, reliability
curves, a fitted confidence map and temperature scaling.

* :func:`entropy_confidence` — ``1 − H(p) / log2(K)`` of the softmax ``p`` (base-2 Shannon
  entropy; for 2 classes exactly ``1 − H2(p)``).
* :func:`reliability_curve` / :class:`ReliabilityCurve` — per-bin pixel counts, mean
  confidence and accuracy; can be accumulated image by image.
* :func:`expected_calibration_error` — ``Σ_b n_b·|conf_b − acc_b| / Σ_b n_b``, pooled over
  pixels.
* :class:`CalibrationMap` — raw → calibrated confidence, fitted on validation data from a
  100-bin reliability curve (isotonic regression + monotone PCHIP, pinned at (0,0), (1,1)).
* :class:`TemperatureScaling` — one temperature fitted by minimising the NLL of validation
  logits.

Both fitted objects serialise to plain dicts (``to_dict``/``from_dict``) so they can be
stored in a model checkpoint.

Examples
--------
>>> import numpy as np
>>> conf = np.array([0.9, 0.9, 0.6, 0.6]); correct = np.array([1, 1, 1, 0])
>>> round(expected_calibration_error(conf, correct, n_bins=10), 4)   # (2·0.1 + 2·0.1) / 4
0.1
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from workbench.errors import ConfigError, DataError

__all__ = [
    "entropy_confidence",
    "ReliabilityCurve",
    "reliability_curve",
    "expected_calibration_error",
    "CalibrationMap",
    "TemperatureScaling",
]

_MAP_VERSION = 1


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().float().numpy() if x.is_floating_point() else x.detach().cpu().numpy()
    return np.asarray(x)


def _flat_pair(confidence: Any, correct: Any, valid: Any | None) -> tuple[np.ndarray, np.ndarray]:
    """Flatten (lists of) confidence/correct arrays into two 1-D arrays, applying ``valid``."""
    if isinstance(confidence, list | tuple):
        if not isinstance(correct, list | tuple) or len(correct) != len(confidence):
            raise DataError(
                "confidence is a list but correct is not a list of the same length",
                variable="correct",
                expected="matching lists of arrays",
            )
        valid_list = list(valid) if isinstance(valid, list | tuple) else [valid] * len(correct)
        pairs = [
            _flat_pair(c, k, v) for c, k, v in zip(confidence, correct, valid_list, strict=True)
        ]
        if not pairs:
            return np.empty(0), np.empty(0)
        return (np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]))
    c = _to_numpy(confidence).astype(np.float64, copy=False)
    k = _to_numpy(correct)
    if c.shape != k.shape:
        raise DataError(
            f"confidence has shape {c.shape} but correct {k.shape}",
            variable="correct",
            expected="arrays of the same shape",
        )
    k = k.astype(np.float64, copy=False)
    if valid is not None:
        v = _to_numpy(valid).astype(bool)
        if v.shape != c.shape:
            raise DataError(
                f"valid mask has shape {v.shape}, confidence {c.shape}",
                variable="valid",
                expected="a mask of the same shape",
            )
        c, k = c[v], k[v]
    c, k = c.ravel(), k.ravel()
    finite = np.isfinite(c)
    if not finite.all():
        c, k = c[finite], k[finite]
    if c.size and (c.min() < 0 or c.max() > 1):
        raise DataError(
            f"confidence outside [0, 1] (min {c.min():.3g}, max {c.max():.3g})",
            variable="confidence",
            expected="values in [0, 1]",
        )
    return c, k


# --------------------------------------------------------------------------- confidence


def entropy_confidence(probs: Any, axis: int) -> np.ndarray:
    """Confidence ``1 − H(p) / log2(K)`` of class probabilities along ``axis``.

    ``H`` is the Shannon entropy in bits (``0·log 0 = 0``) and ``K`` the number of classes
    (the size of ``axis``). GlaViTU (docs/science.md §3.4) defines confidence as ``1 − H`` for its
    2-class maps, where ``log2(2) = 1`` makes this exactly ``1 − H2(p)``. For ``K > 2`` the
    raw entropy goes up to ``log2(K) > 1``; dividing by it (a deviation, for K > 2 only)
    keeps the confidence in ``[0, 1]``: 1 for a one-hot vector, 0 for the uniform one.

    Parameters
    ----------
    probs
        Probabilities (softmax output), NumPy array or torch tensor; they are clipped to
        ``[0, 1]`` but not renormalised.
    axis
        The class axis (e.g. 1 for ``(N, K, H, W)``, 0 for ``(K, H, W)``).

    Returns
    -------
    numpy.ndarray
        float64 confidence with ``axis`` removed, in ``[0, 1]``.

    Examples
    --------
    >>> entropy_confidence(np.array([[0.5, 0.5], [1.0, 0.0], [0.9, 0.1]]), axis=1).round(4)
    array([0.   , 1.   , 0.531])
    >>> float(entropy_confidence(np.full(4, 0.25), axis=0))
    0.0
    """
    p = np.clip(_to_numpy(probs).astype(np.float64), 0.0, 1.0)
    k = p.shape[axis]
    if k < 2:
        raise DataError(
            f"has {k} class along axis {axis}", variable="probs", expected="at least 2 classes"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.sum(np.where(p > 0, p * np.log2(p), 0.0), axis=axis)
    return np.clip(1.0 - h / math.log2(k), 0.0, 1.0)


# --------------------------------------------------------------------------- reliability


@dataclasses.dataclass
class ReliabilityCurve:
    """Binned calibration statistics, accumulable over images.

    Bins are ``n_bins`` equal-width intervals of ``[0, 1]``; a confidence ``c`` falls into
    bin ``min(floor(c · n_bins), n_bins − 1)`` (so 1.0 is in the last bin).

    Attributes
    ----------
    n_bins
        Number of bins.
    count
        ``(n_bins,)`` pixels per bin.
    sum_confidence, sum_correct
        ``(n_bins,)`` sums of confidence and of correctness per bin.

    Examples
    --------
    >>> rc = ReliabilityCurve(4)
    >>> _ = rc.update(np.array([0.1, 0.2, 0.9]), np.array([0, 1, 1]))
    >>> rc.count.tolist(), rc.accuracy.round(2).tolist()
    ([2, 0, 0, 1], [0.5, nan, nan, 1.0])
    """

    n_bins: int = 100
    count: np.ndarray = dataclasses.field(default=None)  # type: ignore[assignment]
    sum_confidence: np.ndarray = dataclasses.field(default=None)  # type: ignore[assignment]
    sum_correct: np.ndarray = dataclasses.field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if int(self.n_bins) < 1:
            raise ConfigError(f"n_bins={self.n_bins}", variable="n_bins", expected="≥ 1")
        self.n_bins = int(self.n_bins)
        for name, dtype in (
            ("count", np.int64),
            ("sum_confidence", np.float64),
            ("sum_correct", np.float64),
        ):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(self.n_bins, dtype))
            else:
                setattr(self, name, np.asarray(getattr(self, name), dtype))

    def update(
        self, confidence: Any, correct: Any, *, valid: Any | None = None
    ) -> ReliabilityCurve:
        """Add pixels (arrays of any shape, or lists of arrays); returns ``self``."""
        c, k = _flat_pair(confidence, correct, valid)
        idx = np.minimum((c * self.n_bins).astype(np.int64), self.n_bins - 1)
        self.count += np.bincount(idx, minlength=self.n_bins)
        self.sum_confidence += np.bincount(idx, weights=c, minlength=self.n_bins)
        self.sum_correct += np.bincount(idx, weights=k, minlength=self.n_bins)
        return self

    @property
    def edges(self) -> np.ndarray:
        """``(n_bins + 1,)`` bin edges."""
        return np.linspace(0.0, 1.0, self.n_bins + 1)

    @property
    def centers(self) -> np.ndarray:
        """``(n_bins,)`` bin centres."""
        e = self.edges
        return (e[:-1] + e[1:]) / 2

    @property
    def mean_confidence(self) -> np.ndarray:
        """Mean confidence per bin (NaN for empty bins)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.sum_confidence / self.count, np.nan)

    @property
    def accuracy(self) -> np.ndarray:
        """Fraction correct per bin (NaN for empty bins)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.sum_correct / self.count, np.nan)

    @property
    def n(self) -> int:
        """Total pixels."""
        return int(self.count.sum())

    @property
    def ece(self) -> float:
        """``Σ_b n_b·|conf_b − acc_b| / Σ_b n_b`` (NaN when empty)."""
        if self.n == 0:
            return math.nan
        gap = np.abs(self.sum_confidence - self.sum_correct)  # = n_b·|conf_b − acc_b|
        return float(gap.sum() / self.n)

    def to_dict(self) -> dict[str, Any]:
        """Counts and sums as lists, plus the ECE."""
        return {
            "n_bins": self.n_bins,
            "count": self.count.tolist(),
            "sum_confidence": self.sum_confidence.tolist(),
            "sum_correct": self.sum_correct.tolist(),
            "ece": None if math.isnan(self.ece) else self.ece,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReliabilityCurve:
        """Inverse of :meth:`to_dict`."""
        return cls(
            int(d["n_bins"]),
            np.asarray(d["count"]),
            np.asarray(d["sum_confidence"]),
            np.asarray(d["sum_correct"]),
        )


def reliability_curve(
    confidence: Any, correct: Any, n_bins: int = 100, *, valid: Any | None = None
) -> ReliabilityCurve:
    """Reliability curve of confidence vs. correctness pooled over all pixels.

    Parameters
    ----------
    confidence
        Confidence in ``[0, 1]`` (any shape, or a list of arrays).
    correct
        Whether each pixel's prediction is right (bool/0-1, same shape(s)).
    n_bins
        Equal-width bins on ``[0, 1]`` (GlaViTU: 100).
    valid
        Optional mask of pixels to use.

    Examples
    --------
    >>> rc = reliability_curve(np.array([0.05, 0.95, 0.95]), np.array([0, 1, 0]), n_bins=2)
    >>> rc.mean_confidence.tolist(), rc.accuracy.tolist()
    ([0.05, 0.95], [0.0, 0.5])
    """
    return ReliabilityCurve(n_bins).update(confidence, correct, valid=valid)


def expected_calibration_error(
    confidence: Any, correct: Any, n_bins: int = 100, *, valid: Any | None = None
) -> float:
    """Expected calibration error ``Σ_b n_b·|conf_b − acc_b| / Σ_b n_b``, pooled over pixels.

    ``conf_b`` and ``acc_b`` are the mean confidence and accuracy of the pixels in bin ``b``
    (equal-width bins on ``[0, 1]``, see :class:`ReliabilityCurve`). Default 100 bins, like
    GlaViTU's reliability curve; with few pixels per bin the ECE is biased upwards, so use
    fewer bins for small samples.

    Examples
    --------
    >>> conf = np.array([0.15, 0.15, 0.85, 0.85, 0.85])
    >>> correct = np.array([0, 1, 1, 1, 0])
    >>> round(expected_calibration_error(conf, correct, n_bins=10), 4)  # (2·.35 + 3·.1833)/5
    0.25
    """
    return reliability_curve(confidence, correct, n_bins, valid=valid).ece


# --------------------------------------------------------------------------- calibration map


def _isotonic(y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted pool-adjacent-violators: nondecreasing fit; returns (values, block sizes)."""
    vals: list[float] = []
    wts: list[float] = []
    sizes: list[int] = []
    for yi, wi in zip(y.tolist(), w.tolist(), strict=True):
        vals.append(yi)
        wts.append(wi)
        sizes.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            wt = wts[-2] + wts[-1]
            v = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / wt
            s = sizes[-2] + sizes[-1]
            del vals[-1], wts[-1], sizes[-1]
            vals[-1], wts[-1], sizes[-1] = v, wt, s
    return np.asarray(vals), np.asarray(sizes)


class CalibrationMap:
    """Monotone map raw confidence → calibrated confidence, fitted on validation data.

    Fitting (GlaViTU's recipe, docs/science.md §3.4, with our concrete choices):

    1. a reliability curve with ``n_bins`` (100) equal-width bins; bins with fewer than
       ``min_count`` pixels are dropped;
    2. weighted (by pixel count) isotonic regression of bin accuracy on bin mean confidence
       (pool-adjacent-violators), so the map never decreases;
    3. each pooled block becomes one knot at its weighted mean confidence and accuracy;
       knots at or beyond 0 and 1 are dropped and the pins ``(0, 0)`` and ``(1, 1)`` added;
    4. a monotone cubic (PCHIP) interpolant through the knots smooths the staircase; it is
       C¹, stays between neighbouring knots (so within ``[0, 1]``) and is monotone.

    The pins are part of GlaViTU's definition. Note that for entropy confidence the
    accuracy at confidence 0 is at least ``1/K``, so near 0 the pinned map is a calibrated
    *score* rather than a probability of being right.

    Parameters
    ----------
    x, y
        Knots (strictly increasing ``x`` from 0 to 1, nondecreasing ``y``); usually made by
        :meth:`fit` or :meth:`from_dict`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> conf = rng.uniform(size=200_000)
    >>> correct = rng.uniform(size=conf.size) < conf ** 2         # over-confident
    >>> cmap = CalibrationMap.fit(conf, correct)
    >>> round(float(cmap(0.5)), 1), float(cmap(0.0)), float(cmap(1.0))
    (0.3, 0.0, 1.0)
    >>> bool(CalibrationMap.from_dict(cmap.to_dict())(0.5) == cmap(0.5))
    True
    """

    def __init__(
        self,
        x: Sequence[float] | np.ndarray,
        y: Sequence[float] | np.ndarray,
        *,
        n_bins: int = 100,
        n_pixels: int = 0,
    ) -> None:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or x.size < 2:
            raise ConfigError(
                f"knots of shapes {x.shape} and {y.shape}",
                variable="x, y",
                expected="two 1-D arrays of the same length ≥ 2",
            )
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ConfigError("knots are not finite", variable="x, y", expected="finite knots")
        if np.any(np.diff(x) <= 0) or np.any(np.diff(y) < 0):
            raise ConfigError(
                "knots are not monotone",
                variable="x, y",
                expected="strictly increasing x and nondecreasing y",
            )
        if x[0] != 0.0 or x[-1] != 1.0 or y.min() < 0 or y.max() > 1:
            raise ConfigError(
                "knots do not span [0, 1]",
                variable="x, y",
                expected="x from 0 to 1 and y within [0, 1]",
            )
        from scipy.interpolate import PchipInterpolator

        self.x, self.y = x, y
        self.n_bins, self.n_pixels = int(n_bins), int(n_pixels)
        self._f = PchipInterpolator(x, y, extrapolate=False)

    @classmethod
    def identity(cls) -> CalibrationMap:
        """The map that changes nothing."""
        return cls([0.0, 1.0], [0.0, 1.0], n_bins=0)

    @classmethod
    def fit(
        cls,
        confidence: Any,
        correct: Any,
        *,
        n_bins: int = 100,
        min_count: int = 1,
        valid: Any | None = None,
    ) -> CalibrationMap:
        """Fit on validation confidence and correctness (arrays or lists of arrays).

        Also accepts a :class:`ReliabilityCurve` as ``confidence`` (``correct=None``), so
        large validation sets can be accumulated image by image first.
        """
        if isinstance(confidence, ReliabilityCurve):
            curve = confidence
        else:
            curve = reliability_curve(confidence, correct, n_bins, valid=valid)
        keep = curve.count >= max(int(min_count), 1)
        if not keep.any():
            raise DataError(
                "no validation pixels to fit a calibration map",
                variable="confidence",
                expected="at least one pixel",
            )
        w = curve.count[keep].astype(np.float64)
        cx = curve.mean_confidence[keep]
        acc = curve.accuracy[keep]
        fitted, sizes = _isotonic(acc, w)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        kx = np.array(
            [
                np.average(cx[a:b], weights=w[a:b])
                for a, b in zip(bounds[:-1], bounds[1:], strict=True)
            ]
        )
        ky = np.clip(fitted, 0.0, 1.0)
        inside = (kx > 0) & (kx < 1)
        x = np.concatenate([[0.0], kx[inside], [1.0]])
        y = np.concatenate([[0.0], ky[inside], [1.0]])
        y = np.maximum.accumulate(y)  # pins keep monotonicity (y ≥ 0 and ≤ 1 already)
        return cls(x, y, n_bins=curve.n_bins, n_pixels=curve.n)

    def __call__(self, confidence: Any) -> np.ndarray:
        """Calibrated confidence, same shape (NaN stays NaN; input clipped to ``[0, 1]``)."""
        c = _to_numpy(confidence).astype(np.float64)
        cc = np.clip(c, 0.0, 1.0)
        out = self._f(cc)
        out = np.where(cc <= 0.0, self.y[0], np.where(cc >= 1.0, self.y[-1], out))  # exact pins
        return np.where(np.isnan(c), np.nan, np.clip(out, 0.0, 1.0))

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready dict (store it in a checkpoint)."""
        return {
            "kind": "CalibrationMap",
            "version": _MAP_VERSION,
            "x": self.x.tolist(),
            "y": self.y.tolist(),
            "n_bins": self.n_bins,
            "n_pixels": self.n_pixels,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CalibrationMap:
        """Rebuild from :meth:`to_dict` output.

        Raises
        ------
        ConfigError
            Not a calibration-map dict, or invalid knots.
        """
        if not isinstance(d, Mapping) or d.get("kind") != "CalibrationMap":
            raise ConfigError(
                "is not a saved CalibrationMap",
                variable="calibration",
                expected="a dict with kind='CalibrationMap'",
            )
        if int(d.get("version", 0)) > _MAP_VERSION:
            raise ConfigError(
                f"has version {d.get('version')}",
                variable="calibration",
                expected=f"version ≤ {_MAP_VERSION}",
            )
        return cls(
            d["x"], d["y"], n_bins=int(d.get("n_bins", 0)), n_pixels=int(d.get("n_pixels", 0))
        )

    def __repr__(self) -> str:
        return (
            f"CalibrationMap({self.x.size} knots, n_bins={self.n_bins}, n_pixels={self.n_pixels})"
        )


# --------------------------------------------------------------------------- temperature


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


class TemperatureScaling:
    """Temperature scaling: calibrated probabilities ``softmax(logits / T)``.

    ``T`` is fitted on validation logits by minimising the mean negative log-likelihood of
    the labels (bounded scalar search on ``log T`` with :func:`scipy.optimize.minimize_scalar`).
    ``T > 1`` softens over-confident models.

    Parameters
    ----------
    temperature
        The temperature (> 0).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(scale=4.0, size=(20_000, 3))
    >>> p = np.exp(logits / 2); p /= p.sum(1, keepdims=True)            # truth: T = 2
    >>> labels = (rng.uniform(size=(20_000, 1)) > p.cumsum(1)).sum(1)
    >>> round(TemperatureScaling.fit(logits, labels, axis=1).temperature, 1)
    2.0
    """

    def __init__(self, temperature: float = 1.0) -> None:
        t = float(temperature)
        if not (math.isfinite(t) and t > 0):
            raise ConfigError(
                f"temperature {temperature!r}",
                variable="temperature",
                expected="a positive finite number",
            )
        self.temperature = t

    @classmethod
    def fit(
        cls,
        logits: Any,
        labels: Any,
        *,
        axis: int = 1,
        valid: Any | None = None,
        max_samples: int | None = 2_000_000,
        seed: int = 0,
        bounds: tuple[float, float] = (0.05, 20.0),
    ) -> TemperatureScaling:
        """Fit ``T`` on validation logits and integer labels.

        Parameters
        ----------
        logits
            Raw scores with the classes along ``axis`` (e.g. ``(N, K, H, W)``, axis 1).
        labels
            Class ids, the shape of ``logits`` without ``axis``.
        axis
            Class axis of ``logits``.
        valid
            Optional mask (shape of ``labels``) of pixels to use (e.g. not NA).
        max_samples
            Use a seeded random subset of at most this many pixels (``None``: all).
        seed
            Seed of that subset.
        bounds
            Search interval for ``T``.
        """
        from scipy.optimize import minimize_scalar

        z = np.moveaxis(_to_numpy(logits).astype(np.float64), axis, -1)
        k = z.shape[-1]
        y = _to_numpy(labels).astype(np.int64)
        if y.shape != z.shape[:-1]:
            raise DataError(
                f"labels have shape {y.shape} but logits {z.shape} (classes last)",
                variable="labels",
                expected="the logits' shape without the class axis",
            )
        z = z.reshape(-1, k)
        y = y.ravel()
        if valid is not None:
            v = _to_numpy(valid).astype(bool).ravel()
            z, y = z[v], y[v]
        if y.size == 0:
            raise DataError(
                "no pixels to fit a temperature",
                variable="labels",
                expected="at least one labelled pixel",
            )
        if y.min() < 0 or y.max() >= k:
            raise DataError(
                f"labels outside 0..{k - 1}", variable="labels", expected=f"class ids 0..{k - 1}"
            )
        if max_samples is not None and y.size > max_samples:
            idx = np.random.default_rng(seed).choice(y.size, int(max_samples), replace=False)
            z, y = z[idx], y[idx]
        rows = np.arange(y.size)

        def nll(log_t: float) -> float:
            return float(-_log_softmax(z / math.exp(log_t))[rows, y].mean())

        lo, hi = (math.log(b) for b in bounds)
        res = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-5})
        return cls(math.exp(float(res.x)))

    def __call__(self, logits: Any, *, axis: int = 1) -> np.ndarray:
        """Calibrated probabilities ``softmax(logits / T)`` along ``axis`` (NumPy)."""
        z = np.moveaxis(_to_numpy(logits).astype(np.float64), axis, -1) / self.temperature
        z = z - z.max(axis=-1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=-1, keepdims=True)
        return np.moveaxis(p, -1, axis)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (store it in a checkpoint)."""
        return {
            "kind": "TemperatureScaling",
            "version": _MAP_VERSION,
            "temperature": self.temperature,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TemperatureScaling:
        """Rebuild from :meth:`to_dict` output."""
        if not isinstance(d, Mapping) or d.get("kind") != "TemperatureScaling":
            raise ConfigError(
                "is not a saved TemperatureScaling",
                variable="calibration",
                expected="a dict with kind='TemperatureScaling'",
            )
        return cls(float(d["temperature"]))

    def __repr__(self) -> str:
        return f"TemperatureScaling(temperature={self.temperature:.4g})"
