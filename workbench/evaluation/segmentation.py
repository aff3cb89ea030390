"""Segmentation metrics: CaFFe zone metrics per image, and pooled binary outline counts.

* :func:`zone_metrics` / :func:`aggregate_zone_metrics` — docs/science.md §1.4 (zone metrics): per
  image IoU, precision, recall and F1 of each of the 4 zone classes and their mean, averaged
  over images, ignoring classes absent from both prediction and reference.
* :class:`OutlineCounts` — docs/science.md §2.5 (pooled outline metrics): TP/FP/FN summed over all tiles (pooled)
  → precision, recall, F1, IoU, with per-group (region, glacier) breakdowns and the
  unweighted mean of group IoUs used by GlaViTU (docs/science.md §3.5).

Examples
--------
>>> import numpy as np
>>> ref = np.array([[2, 2, 3, 3]]); pred = np.array([[2, 3, 3, 3]])
>>> m = zone_metrics(pred, ref)
>>> m.iou.round(3).tolist()
[nan, nan, 0.5, 0.667]
>>> round(m.mean_iou, 4)
0.5833
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.data.encoding import ZONE_CLASSES
from workbench.errors import ConfigError, DataError, LabelEncodingError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "ZoneMetrics",
    "ZoneSummary",
    "zone_metrics",
    "aggregate_zone_metrics",
    "OutlineCounts",
    "f1_iou_from_precision_recall",
]

_METRICS = ("iou", "precision", "recall", "f1")


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _nan_to_none(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


# --------------------------------------------------------------------------- zones


@dataclasses.dataclass(frozen=True)
class ZoneMetrics:
    """Zone metrics of one image.

    Attributes
    ----------
    confusion
        ``(K, K)`` int64 confusion matrix, rows = reference class, columns = predicted.
    iou, precision, recall, f1
        ``(K,)`` float arrays, NaN for classes absent from both prediction and reference.
    present
        ``(K,)`` bool: the class occurs in the prediction or the reference.
    class_names
        Names of the K classes.
    """

    confusion: np.ndarray
    iou: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    present: np.ndarray
    class_names: tuple[str, ...]

    def mean(self, metric: str) -> float:
        """Mean of ``metric`` over the present classes (NaN if none is present)."""
        vals = getattr(self, metric)[self.present]
        return float(vals.mean()) if vals.size else math.nan

    @property
    def mean_iou(self) -> float:
        """Mean IoU over the classes present in prediction or reference."""
        return self.mean("iou")

    @property
    def mean_f1(self) -> float:
        """Mean F1 over the present classes."""
        return self.mean("f1")

    def to_dict(self) -> dict[str, Any]:
        """``{metric: {class: value, "mean": value}}`` plus the confusion matrix."""
        out: dict[str, Any] = {
            m: {
                **{
                    c: _nan_to_none(v)
                    for c, v in zip(self.class_names, getattr(self, m), strict=True)
                },
                "mean": _nan_to_none(self.mean(m)),
            }
            for m in _METRICS
        }
        out["confusion"] = self.confusion.tolist()
        return out


def zone_metrics(
    pred: Any,
    ref: Any,
    n_classes: int = 4,
    *,
    valid: Any | None = None,
    class_names: Sequence[str] | None = None,
) -> ZoneMetrics:
    """Per-class IoU, precision, recall and F1 of one zone map.

    Conventions (per image, per class c, with TP/FP/FN counted over the pixels):

    * class absent from BOTH prediction and reference → every metric is NaN and the class
      is left out of this image's mean and of that class's average over images;
    * otherwise ``IoU = TP / (TP + FP + FN)`` and ``F1 = 2TP / (2TP + FP + FN)`` (always
      defined); ``precision = TP / (TP + FP)`` and ``recall = TP / (TP + FN)``, each 0 when its
      denominator is 0 (class in the reference but never predicted → precision 0; class
      predicted but absent from the reference → recall 0), like scikit-learn's
      ``zero_division=0``.

    Parameters
    ----------
    pred, ref
        Integer class maps of the same shape, values in ``0..n_classes-1``.
    n_classes
        Number of classes (4 CaFFe zones: NA, rock, glacier, ocean).
    valid
        Optional boolean mask; only pixels where it is True are counted.
    class_names
        Names, default :data:`workbench.data.encoding.ZONE_CLASSES` for 4 classes.

    Returns
    -------
    ZoneMetrics

    Examples
    --------
    >>> ref = np.array([[0, 2, 2, 3]]); pred = np.array([[0, 2, 3, 3]])
    >>> m = zone_metrics(pred, ref)
    >>> m.precision.tolist(), m.recall.tolist()
    ([1.0, nan, 1.0, 0.5], [1.0, nan, 0.5, 1.0])
    >>> round(m.mean_iou, 4)                          # (1 + 0.5 + 0.5) / 3
    0.6667
    """
    p = _to_numpy(pred)
    r = _to_numpy(ref)
    if p.shape != r.shape:
        raise DataError(
            f"prediction has shape {p.shape} but the reference {r.shape}",
            variable="zones",
            expected="arrays of the same shape",
        )
    if n_classes < 1:
        raise ConfigError(f"n_classes={n_classes}", variable="n_classes", expected="≥ 1")
    for name, a in (("pred", p), ("ref", r)):
        if a.size and (a.dtype.kind not in "biu" and not np.all(a == np.round(a))):
            raise LabelEncodingError(
                "holds non-integer values", variable=name, expected=f"class ids 0..{n_classes - 1}"
            )
        if a.size and (a.min() < 0 or a.max() >= n_classes):
            raise LabelEncodingError(
                f"holds values outside 0..{n_classes - 1} (min {a.min()}, max {a.max()})",
                variable=name,
                expected=f"class ids 0..{n_classes - 1}",
            )
    p = p.astype(np.int64).ravel()
    r = r.astype(np.int64).ravel()
    if valid is not None:
        v = _to_numpy(valid).astype(bool).ravel()
        if v.shape != p.shape:
            raise DataError(
                "valid mask does not match the zones",
                variable="valid",
                expected="a mask of the same shape",
            )
        p, r = p[v], r[v]
    conf = np.bincount(r * n_classes + p, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )
    tp = np.diag(conf).astype(np.float64)
    fp = conf.sum(axis=0) - tp
    fn = conf.sum(axis=1) - tp
    present = (tp + fp + fn) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(present, tp / (tp + fp + fn), np.nan)
        f1 = np.where(present, 2 * tp / (2 * tp + fp + fn), np.nan)
        precision = np.where(present, np.where(tp + fp > 0, tp / (tp + fp), 0.0), np.nan)
        recall = np.where(present, np.where(tp + fn > 0, tp / (tp + fn), 0.0), np.nan)
    if class_names is None:
        class_names = (
            ZONE_CLASSES if n_classes == 4 else tuple(f"class_{i}" for i in range(n_classes))
        )
    if len(class_names) != n_classes:
        raise ConfigError(
            f"{len(class_names)} class names for {n_classes} classes",
            variable="class_names",
            expected=f"{n_classes} names",
        )
    return ZoneMetrics(conf, iou, precision, recall, f1, present, tuple(class_names))


@dataclasses.dataclass(frozen=True)
class ZoneSummary:
    """Zone metrics averaged over images (:func:`aggregate_zone_metrics`).

    Attributes
    ----------
    per_class
        ``{metric: (K,) array}``: for each class, the mean over the images in which the
        class is present (NaN if it is present in none).
    mean
        ``{metric: float}``: the mean over images of each image's class mean (the per-image
        macro average, averaged over images, as CaFFe's evaluation does).
    class_mean
        ``{metric: float}``: the unweighted mean of ``per_class`` over classes present in
        at least one image (an alternative summary; not the CaFFe headline).
    n_images
        Images aggregated.
    n_present
        ``(K,)`` number of images in which each class is present.
    class_names
        Names of the classes.
    """

    per_class: dict[str, np.ndarray]
    mean: dict[str, float]
    class_mean: dict[str, float]
    n_images: int
    n_present: np.ndarray
    class_names: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """``{metric: {class…, "mean", "class_mean"}, "n_images", "n_present"}``."""
        out: dict[str, Any] = {
            m: {
                **{
                    c: _nan_to_none(v)
                    for c, v in zip(self.class_names, self.per_class[m], strict=True)
                },
                "mean": _nan_to_none(self.mean[m]),
                "class_mean": _nan_to_none(self.class_mean[m]),
            }
            for m in _METRICS
        }
        out["n_images"] = self.n_images
        out["n_present"] = dict(
            zip(self.class_names, (int(v) for v in self.n_present), strict=True)
        )
        return out

    def to_frame(self) -> pd.DataFrame:
        """Rows = metrics, columns = classes + ``mean`` + ``class_mean``."""
        import pandas as pd

        rows = {
            m: {
                **dict(zip(self.class_names, self.per_class[m], strict=True)),
                "mean": self.mean[m],
                "class_mean": self.class_mean[m],
            }
            for m in _METRICS
        }
        return pd.DataFrame.from_dict(rows, orient="index")


def aggregate_zone_metrics(items: Iterable[ZoneMetrics]) -> ZoneSummary:
    """Average per-image zone metrics over images, ignoring absent classes.

    For each class and metric, the average is taken over the images in which the class is
    present in the prediction or the reference (absent-from-both images are ignored, not
    counted as 0 or 1). The headline ``mean`` is the average over images of each image's
    mean over its present classes.

    Examples
    --------
    >>> a = zone_metrics(np.array([[2, 3]]), np.array([[2, 3]]))          # perfect
    >>> b = zone_metrics(np.array([[1, 1, 3]]), np.array([[1, 3, 3]]))    # no glacier
    >>> s = aggregate_zone_metrics([a, b])
    >>> s.per_class["iou"].round(3).tolist()      # glacier from image a only
    [nan, 0.5, 1.0, 0.75]
    >>> round(s.mean["iou"], 4)                   # mean of 1.0 and (0.5 + 0.5) / 2
    0.75
    >>> s.n_present.tolist()
    [0, 1, 1, 2]
    """
    items = list(items)
    if not items:
        raise ConfigError(
            "no zone metrics to aggregate", variable="items", expected="at least one ZoneMetrics"
        )
    k = len(items[0].iou)
    if any(len(m.iou) != k for m in items):
        raise DataError(
            "zone metrics have different numbers of classes",
            variable="items",
            expected=f"{k} classes each",
        )
    present = np.stack([m.present for m in items])
    n_present = present.sum(axis=0)
    per_class: dict[str, np.ndarray] = {}
    mean: dict[str, float] = {}
    class_mean: dict[str, float] = {}
    for metric in _METRICS:
        vals = np.stack([getattr(m, metric) for m in items])
        with np.errstate(invalid="ignore"):
            per_class[metric] = np.where(
                n_present > 0,
                np.nansum(np.where(present, vals, 0.0), axis=0) / np.maximum(n_present, 1),
                np.nan,
            )
        img_means = np.array([m.mean(metric) for m in items])
        img_means = img_means[np.isfinite(img_means)]
        mean[metric] = float(img_means.mean()) if img_means.size else math.nan
        pc = per_class[metric][n_present > 0]
        class_mean[metric] = float(pc.mean()) if pc.size else math.nan
    return ZoneSummary(per_class, mean, class_mean, len(items), n_present, items[0].class_names)


# --------------------------------------------------------------------------- outlines


def _binary(x: Any, name: str) -> np.ndarray:
    a = _to_numpy(x)
    if a.dtype == bool:
        return a
    if a.dtype.kind == "f" and a.size and not np.all((a == 0) | (a == 1)):
        raise LabelEncodingError(
            "holds values other than 0 and 1",
            variable=name,
            expected="a binary mask (threshold probabilities before counting)",
        )
    return a != 0


def f1_iou_from_precision_recall(precision: float, recall: float) -> tuple[float, float]:
    """F1 and IoU implied by a precision and a recall of the same pooled counts.

    ``F1 = 2PR / (P + R)`` and, since ``IoU = TP/(TP+FP+FN)`` and ``F1 = 2TP/(2TP+FP+FN)``,
    ``IoU = F1 / (2 − F1)``.

    Examples
    --------
    >>> f1, iou = f1_iou_from_precision_recall(0.984, 0.979)   # docs/science.md §2.6, 3D conv, 15
    >>> round(f1, 4), round(iou, 3)
    (0.9815, 0.964)
    """
    p, r = float(precision), float(recall)
    if p + r == 0:
        return 0.0, 0.0
    f1 = 2 * p * r / (p + r)
    return f1, f1 / (2 - f1)


@dataclasses.dataclass
class OutlineCounts:
    """Pixel counts of a binary (glacier / not glacier) map, pooled over tiles.

    ``update`` adds the TP/FP/FN/TN of one tile (or a batch) to the running totals and,
    with ``group=``, to that group's totals too (region, glacier, …). Metrics come from the
    pooled counts (docs/science.md §2.5), not from per-tile averages. Undefined ratios (0/0) are NaN.

    Attributes
    ----------
    tp, fp, fn, tn
        Pooled pixel counts.
    groups
        ``{group: OutlineCounts}`` of the tiles updated with that group.

    Examples
    --------
    >>> c = OutlineCounts()
    >>> _ = c.update(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]), group="A")
    >>> _ = c.update(np.array([1, 1]), np.array([1, 1]), valid=np.array([True, False]),
    ...              group="B")
    >>> (c.tp, c.fp, c.fn, c.tn), round(c.precision, 4), round(c.iou, 4)
    ((2, 1, 1, 1), 0.6667, 0.5)
    >>> c.groups["B"].iou, round(c.mean_group_iou(), 4)
    (1.0, 0.6667)
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    groups: dict[str, OutlineCounts] = dataclasses.field(default_factory=dict, repr=False)

    def update(
        self, pred: Any, ref: Any, *, valid: Any | None = None, group: str | None = None
    ) -> OutlineCounts:
        """Add one tile or batch (any shape; pred/ref binary, ``valid`` optional).

        Returns ``self`` so calls can be chained.
        """
        p = _binary(pred, "pred")
        r = _binary(ref, "ref")
        if p.shape != r.shape:
            raise DataError(
                f"prediction has shape {p.shape} but the reference {r.shape}",
                variable="outline",
                expected="masks of the same shape",
            )
        if valid is not None:
            v = _binary(valid, "valid")
            if v.shape != p.shape:
                raise DataError(
                    f"valid mask has shape {v.shape}, the masks {p.shape}",
                    variable="valid",
                    expected="a mask of the same shape",
                )
            p, r = p[v], r[v]
        tp = int(np.count_nonzero(p & r))
        fp = int(np.count_nonzero(p)) - tp
        fn = int(np.count_nonzero(r)) - tp
        tn = int(p.size) - tp - fp - fn
        self._add(tp, fp, fn, tn)
        if group is not None:
            self.groups.setdefault(str(group), OutlineCounts())._add(tp, fp, fn, tn)
        return self

    def _add(self, tp: int, fp: int, fn: int, tn: int) -> None:
        self.tp += tp
        self.fp += fp
        self.fn += fn
        self.tn += tn

    def __add__(self, other: OutlineCounts) -> OutlineCounts:
        out = OutlineCounts(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn
        )
        for src in (self.groups, other.groups):
            for g, c in src.items():
                out.groups.setdefault(g, OutlineCounts())._add(c.tp, c.fp, c.fn, c.tn)
        return out

    @staticmethod
    def _ratio(a: float, b: float) -> float:
        return a / b if b else math.nan

    @property
    def precision(self) -> float:
        """TP / (TP + FP)."""
        return self._ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """TP / (TP + FN)."""
        return self._ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        """2TP / (2TP + FP + FN)."""
        return self._ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def iou(self) -> float:
        """TP / (TP + FP + FN)."""
        return self._ratio(self.tp, self.tp + self.fp + self.fn)

    def mean_group_iou(self) -> float:
        """Unweighted mean of the groups' pooled IoUs (GlaViTU's regional summary)."""
        vals = [g.iou for g in self.groups.values() if math.isfinite(g.iou)]
        return float(np.mean(vals)) if vals else math.nan

    def metrics(self) -> dict[str, float]:
        """``{"precision", "recall", "f1", "iou"}`` of the pooled counts."""
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "iou": self.iou}

    def to_dict(self) -> dict[str, Any]:
        """Counts, metrics and per-group entries (NaN → ``None``)."""
        out: dict[str, Any] = {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}
        out.update({k: _nan_to_none(v) for k, v in self.metrics().items()})
        if self.groups:
            out["mean_group_iou"] = _nan_to_none(self.mean_group_iou())
            out["groups"] = {g: c.to_dict() for g, c in sorted(self.groups.items())}
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row ``all`` and one per group: counts and metrics."""
        import pandas as pd

        rows = [
            {
                "group": "all",
                "tp": self.tp,
                "fp": self.fp,
                "fn": self.fn,
                "tn": self.tn,
                **self.metrics(),
            }
        ]
        rows += [
            {"group": g, "tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn, **c.metrics()}
            for g, c in sorted(self.groups.items())
        ]
        return pd.DataFrame(rows)
