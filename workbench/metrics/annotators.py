"""The MDE against several annotators of the same images (:func:`multi_annotator_mde`):
the model against each annotator, pooled, and the annotators against each other.

Examples
--------
>>> a = np.zeros((4, 4), bool); a[:, 1] = True
>>> b = np.zeros((4, 4), bool); b[:, 2] = True
>>> r = multi_annotator_mde(a, {"x": a, "y": b}, resolution=1.0)
>>> sorted(r.model_vs_annotator), r.pairwise
(['x', 'y'], {'x|y': 1.0})
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from workbench.errors import ConfigError, DataError
from workbench.metrics.distances import (
    front_distances,
)
from workbench.metrics.fronts import (
    _as_mask,
    _to_numpy,
)
from workbench.metrics.mde import (
    _clean,
)

# --------------------------------------------------------------------------- annotators


@dataclasses.dataclass(frozen=True)
class MultiAnnotatorResult:
    """Model-vs-annotator and annotator-vs-annotator distance errors.

    Every value is a pooled MDE (mean over all distances of all images) in ``unit``.

    Attributes
    ----------
    unit
        ``"m"`` or ``"px"`` (no pixel size given).
    model_vs_annotator
        ``{annotator: MDE of the prediction against that annotator}``.
    model_mde
        Distances of the prediction against ALL annotators pooled together.
    model_mde_mean
        Unweighted mean of ``model_vs_annotator``.
    pairwise
        ``{"a|b": MDE between annotators a and b}`` for every unordered pair (the measure
        is symmetric: both directions are in the distances).
    annotator_mde
        Distances of all annotator pairs pooled together (the "human" MDE).
    annotator_mde_mean
        Unweighted mean of ``pairwise``.
    n_images, n_no_front
        Images, and images where the prediction has no front (excluded from the model
        values and counted).
    """

    unit: str
    model_vs_annotator: dict[str, float]
    model_mde: float
    model_mde_mean: float
    pairwise: dict[str, float]
    annotator_mde: float
    annotator_mde_mean: float
    n_images: int
    n_no_front: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (NaN → ``None``)."""
        out = dataclasses.asdict(self)
        for key in ("model_vs_annotator", "pairwise"):
            out[key] = {k: _clean(v) for k, v in out[key].items()}
        return {k: (_clean(v) if not isinstance(v, dict) else v) for k, v in out.items()}


def _pooled_mean(parts: Iterable[np.ndarray]) -> float:
    parts = [p for p in parts if p.size]
    return float(np.concatenate(parts).mean()) if parts else math.nan


def multi_annotator_mde(
    pred_front: Any,
    annotator_fronts: Mapping[str, Any] | Sequence[Any],
    resolution: float | Sequence[float | None] | None = None,
) -> MultiAnnotatorResult:
    """MDE of a prediction against each annotator, and of the annotators against each other.

    Parameters
    ----------
    pred_front
        One 2-D predicted front mask, or a list of them (one per image).
    annotator_fronts
        ``{name: mask or list of masks}`` (or a sequence, named ``annotator_0``, …): each
        annotator's front for the same image(s).
    resolution
        Pixel size in metres (one number, or one per image); ``None`` reports pixels.

    Returns
    -------
    MultiAnnotatorResult

    Examples
    --------
    >>> p = np.zeros((9, 9), bool); p[4, :] = True
    >>> a = np.zeros((9, 9), bool); a[3, :] = True
    >>> b = np.zeros((9, 9), bool); b[6, :] = True
    >>> r = multi_annotator_mde(p, {"a": a, "b": b}, resolution=10.0)
    >>> r.model_vs_annotator, r.pairwise, r.model_mde
    ({'a': 10.0, 'b': 20.0}, {'a|b': 30.0}, 15.0)
    """
    if isinstance(annotator_fronts, Mapping):
        ann = {str(k): v for k, v in annotator_fronts.items()}
    else:
        ann = {f"annotator_{i}": v for i, v in enumerate(annotator_fronts)}
    if len(ann) < 1:
        raise ConfigError(
            "no annotator fronts given",
            variable="annotator_fronts",
            expected="at least one annotator",
        )
    single = _to_numpy(pred_front).ndim == 2 if not isinstance(pred_front, list | tuple) else False
    preds = [pred_front] if single else list(pred_front)
    ann_lists = {k: ([v] if single else list(v)) for k, v in ann.items()}
    n = len(preds)
    for k, v in ann_lists.items():
        if len(v) != n:
            raise DataError(
                f"annotator {k!r} has {len(v)} fronts for {n} images",
                variable="annotator_fronts",
                expected="one front per image",
            )
    if resolution is None or isinstance(resolution, int | float | np.number):
        res = [None if resolution is None else float(resolution)] * n
    else:
        res = [None if r is None else float(r) for r in resolution]
        if len(res) != n:
            raise DataError(
                f"got {len(res)} resolutions for {n} images",
                variable="resolution",
                expected="one per image",
            )
    unit = "px" if any(r is None for r in res) else "m"

    def dists(a: Any, b: Any, i: int) -> np.ndarray:
        d = front_distances(a, b)
        return d * res[i] if unit == "m" else d

    n_no_front = sum(int(not np.any(_as_mask(p, "pred_front"))) for p in preds)
    per_ann: dict[str, list[np.ndarray]] = {
        k: [dists(preds[i], v[i], i) for i in range(n)] for k, v in ann_lists.items()
    }
    model_vs = {k: _pooled_mean(v) for k, v in per_ann.items()}
    pair_d: dict[str, list[np.ndarray]] = {}
    for a, b in itertools.combinations(ann_lists, 2):
        pair_d[f"{a}|{b}"] = [dists(ann_lists[a][i], ann_lists[b][i], i) for i in range(n)]
    pairwise = {k: _pooled_mean(v) for k, v in pair_d.items()}

    def mean_of(d: dict[str, float]) -> float:
        vals = [v for v in d.values() if math.isfinite(v)]
        return float(np.mean(vals)) if vals else math.nan

    return MultiAnnotatorResult(
        unit=unit,
        model_vs_annotator=model_vs,
        model_mde=_pooled_mean(itertools.chain.from_iterable(per_ann.values())),
        model_mde_mean=mean_of(model_vs),
        pairwise=pairwise,
        annotator_mde=_pooled_mean(itertools.chain.from_iterable(pair_d.values())),
        annotator_mde_mean=mean_of(pairwise),
        n_images=n,
        n_no_front=n_no_front,
    )
