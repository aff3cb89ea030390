"""The CaFFe mean distance error (MDE): :func:`mean_distance_error` over a set of images,
:class:`MDEAccumulator` one image at a time, and the :class:`MDEResult` with its breakdown
by glacier, season and sensor (SCIENCE.md §1).

Examples
--------
>>> zones = np.full((6, 8), 2); zones[:, 5:] = 3
>>> ref = np.zeros((6, 8), bool); ref[:, 4] = True
>>> mean_distance_error([zones], [ref], [7.0], from_zones=True, min_cluster_px=0).mde_m
7.0
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from workbench.errors import ConfigError, DataError
from workbench.metrics.distances import (
    _check_pair,
    _flat_distances,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

from workbench.metrics.fronts import (
    CAFFE_MIN_FRONT_M,
    GROUP_KEYS,
    bbox_mask,
    zones_to_front,
)

# --------------------------------------------------------------------------- MDE


@dataclasses.dataclass(frozen=True)
class ImageFrontError:
    """Front error of one image.

    Attributes
    ----------
    index
        Position in the input lists.
    name
        Stem or name of the image ("" when unknown).
    glacier, season, sensor, resolution
        Group labels (``"unknown"`` when not given). ``resolution`` is the nominal
        resolution from the metadata as a string (``"7"``), used only for grouping.
    resolution_m
        Pixel size used to turn pixels into metres (``None``: unknown).
    n_pred, n_ref
        Front pixels in the (masked) prediction and in the reference.
    status
        ``"ok"``, ``"no_front"`` (no predicted front pixel; excluded and counted) or
        ``"no_reference"`` (prediction present but no reference pixel; excluded and counted).
    mde_px, mde_m
        Mean of this image's distances (NaN unless ``status == "ok"``; ``mde_m`` NaN when the
        resolution is unknown).
    """

    index: int
    name: str
    glacier: str
    season: str
    sensor: str
    resolution: str
    resolution_m: float | None
    n_pred: int
    n_ref: int
    status: str
    mde_px: float
    mde_m: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict; NaN becomes ``None``."""
        return {k: _clean(v) for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass(frozen=True)
class GroupMDE:
    """Pooled MDE of one group of images (a glacier, a season, …, or ``all``).

    Attributes
    ----------
    by
        Grouping key: ``"all"``, ``"glacier"``, ``"season"``, ``"sensor"``, ``"resolution"``.
    value
        Group label (``"all"`` for the whole set).
    mde_m, std_m
        Mean and (population) standard deviation of the pooled distances in metres
        (NaN when a resolution is unknown or nothing was evaluated).
    mde_px, std_px
        The same in pixels.
    n_images, n_evaluated, n_no_front, n_no_reference
        Images in the group, images that contributed distances, images without a predicted
        front and images without a reference front.
    n_distances
        Number of pooled distances.
    """

    by: str
    value: str
    mde_m: float
    std_m: float
    mde_px: float
    std_px: float
    n_images: int
    n_evaluated: int
    n_no_front: int
    n_no_reference: int
    n_distances: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict; NaN becomes ``None``."""
        return {k: _clean(v) for k, v in dataclasses.asdict(self).items()}


def _clean(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


@dataclasses.dataclass(frozen=True)
class MDEResult:
    """Result of :func:`mean_distance_error`.

    Attributes
    ----------
    mde_m
        Mean of ALL distances of ALL evaluated images in metres (each image's pixel
        distances times its pixel size), NaN when a pixel size is unknown.
    mde_px
        Mean of all distances in pixels.
    std_m, std_px
        Population standard deviation of the pooled distances (metres, pixels). (The
        "± 76 m" in published tables is a spread over training runs, not this.)
    n_images
        Images given.
    n_evaluated
        Images with both a predicted and a reference front.
    n_no_front
        Images without a predicted front: excluded and counted.
    n_no_reference
        Images with a prediction but without a reference front: excluded and counted
        (CaFFe's public code lumps these into its no-front count; every CaFFe image has a
        reference front, so the published numbers are unaffected).
    n_distances
        Number of pooled distances.
    resolution_known
        Whether every evaluated image had a pixel size (otherwise metres are NaN).
    note
        Human-readable remarks (e.g. "pixel size unknown: reporting pixels only").
    groups
        ``{by: [GroupMDE, …]}`` for ``by`` in :data:`GROUP_KEYS`, each group with its own
        pooled MDE and counts.
    per_image
        One :class:`ImageFrontError` per input image.
    distances_px, distances_m
        The pooled distances (pixels, metres; metres all-NaN when unknown), in image order.
    """

    mde_m: float
    mde_px: float
    std_m: float
    std_px: float
    n_images: int
    n_evaluated: int
    n_no_front: int
    n_no_reference: int
    n_distances: int
    resolution_known: bool
    note: str
    groups: dict[str, list[GroupMDE]]
    per_image: list[ImageFrontError]
    distances_px: np.ndarray = dataclasses.field(repr=False)
    distances_m: np.ndarray = dataclasses.field(repr=False)

    @property
    def overall(self) -> GroupMDE:
        """The whole set as a :class:`GroupMDE` (``by == value == "all"``)."""
        return GroupMDE(
            "all",
            "all",
            self.mde_m,
            self.std_m,
            self.mde_px,
            self.std_px,
            self.n_images,
            self.n_evaluated,
            self.n_no_front,
            self.n_no_reference,
            self.n_distances,
        )

    def group(self, by: str, value: str) -> GroupMDE:
        """One group's result, e.g. ``result.group("glacier", "JAC")``.

        Raises
        ------
        KeyError
            No such group.
        """
        for g in self.groups.get(by, []):
            if g.value == str(value):
                return g
        raise KeyError(
            f"no group {by}={value!r}; have {[g.value for g in self.groups.get(by, [])]}"
        )

    def worst(self, k: int = 5, *, unit: Literal["px", "m"] = "px") -> list[ImageFrontError]:
        """The ``k`` evaluated images with the largest per-image mean distance."""
        ok = [r for r in self.per_image if r.status == "ok"]
        key = (lambda r: r.mde_m) if unit == "m" and self.resolution_known else (lambda r: r.mde_px)
        return sorted(ok, key=key, reverse=True)[:k]

    def to_dict(self, *, per_image: bool = True) -> dict[str, Any]:
        """JSON-ready dict: summary, breakdowns (``{by: {value: {...}}}``), per image.

        NaN values become ``None``; the raw distances are left out.
        """
        out: dict[str, Any] = {
            k: _clean(getattr(self, k))
            for k in (
                "mde_m",
                "mde_px",
                "std_m",
                "std_px",
                "n_images",
                "n_evaluated",
                "n_no_front",
                "n_no_reference",
                "n_distances",
                "resolution_known",
                "note",
            )
        }
        out["unit"] = "m" if self.resolution_known else "px"
        out["groups"] = {
            by: {
                g.value: {k: v for k, v in g.to_dict().items() if k not in ("by", "value")}
                for g in gs
            }
            for by, gs in self.groups.items()
        }
        if per_image:
            out["per_image"] = [r.to_dict() for r in self.per_image]
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row for the whole set (``by == "all"``) and one per group.

        Columns: ``by, value, mde_m, std_m, mde_px, std_px, n_images, n_evaluated,
        n_no_front, n_no_reference, n_distances``.
        """
        import pandas as pd

        rows = [dataclasses.asdict(self.overall)]
        for gs in self.groups.values():
            rows.extend(dataclasses.asdict(g) for g in gs)
        return pd.DataFrame(rows)

    def per_image_frame(self) -> pd.DataFrame:
        """One row per image (:class:`ImageFrontError` fields)."""
        import pandas as pd

        return pd.DataFrame([dataclasses.asdict(r) for r in self.per_image])


def _describe(item: Any, index: int) -> dict[str, Any]:
    """Group labels and pixel size of one image from metadata, a dict, a number or None."""
    info: dict[str, Any] = {
        "name": "",
        "glacier": "unknown",
        "season": "unknown",
        "sensor": "unknown",
        "resolution_m": None,
    }
    if item is None:
        return info
    if isinstance(item, int | float | np.number) and not isinstance(item, bool):
        info["resolution_m"] = float(item)
        return info
    if isinstance(item, str):
        from workbench.data.caffe import parse_caffe_name

        item = parse_caffe_name(item)
    if isinstance(item, Mapping):
        get = item.get
    elif hasattr(item, "glacier") or hasattr(item, "resolution_m"):

        def get(k: str, default: Any = None) -> Any:
            return getattr(item, k, default)
    else:
        raise ConfigError(
            f"image {index}: cannot read metadata from {type(item).__name__}",
            variable="metas_or_resolutions",
            expected="CaffeMetadata, a mapping, a CaFFe stem, a number or None",
        )
    info["name"] = str(get("stem", None) or get("name", None) or "")
    for key in ("glacier", "sensor", "season"):
        if get(key, None) is not None:
            info[key] = str(get(key))
    res = get("resolution_m", None)
    if res is None:
        res = get("resolution", None)
    info["resolution_m"] = None if res is None else float(res)
    if info["season"] == "unknown" and get("date", None) is not None and get("glacier", None):
        from workbench.data.caffe import GLACIER_HEMISPHERES, season_of

        date = get("date")
        if isinstance(date, str):
            date = _dt.date.fromisoformat(date[:10])
        hemi = get("hemisphere", None) or GLACIER_HEMISPHERES.get(
            str(get("glacier")).upper(), "north"
        )
        info["season"] = season_of(date, hemi)  # type: ignore[arg-type]
    return info


def _group_stats(
    by: str, value: str, recs: list[ImageFrontError], dpx: list[np.ndarray], dm: list[np.ndarray]
) -> GroupMDE:
    px = np.concatenate(dpx) if dpx else np.empty(0)
    m = np.concatenate(dm) if dm else np.empty(0)
    n_eval = sum(r.status == "ok" for r in recs)

    def stats(a: np.ndarray) -> tuple[float, float]:
        if a.size == 0 or not np.all(np.isfinite(a)):
            return math.nan, math.nan
        return float(a.mean()), float(a.std())

    mde_m, std_m = stats(m)
    mde_px, std_px = stats(px)
    return GroupMDE(
        by,
        value,
        mde_m,
        std_m,
        mde_px,
        std_px,
        len(recs),
        n_eval,
        sum(r.status == "no_front" for r in recs),
        sum(r.status == "no_reference" for r in recs),
        int(px.size),
    )


def mean_distance_error(
    preds: Sequence[Any],
    refs: Sequence[Any],
    metas_or_resolutions: Sequence[Any] | None = None,
    *,
    bboxes: Sequence[Any] | None = None,
    bbox_mode: Literal["caffe", "polygon", "box"] = "polygon",
    resolution_m: float | None | Literal["meta"] = "meta",
    from_zones: bool = False,
    min_cluster_m: float = CAFFE_MIN_FRONT_M,
    min_cluster_px: float | None = None,
    merge_tsx_tdx: bool = True,
) -> MDEResult:
    """CaFFe mean distance error, pooled over all distances of all images (docs/science.md §1.3).

    For each image with both a predicted and a reference front, the distances of
    :func:`front_distances` are multiplied by the image's pixel size; the MDE is the mean of
    ALL those distances of ALL images together (not a mean of per-image means). Images
    without a predicted front are excluded and counted in ``n_no_front``. Every group of the
    breakdowns (glacier, season, sensor, resolution) is pooled the same way and has its own
    counts. Only the distances of each image are kept, not its masks; to feed images one at a
    time (e.g. from a prediction loop), use :class:`MDEAccumulator`, which gives the same
    result.

    Parameters
    ----------
    preds
        Predicted front masks (2-D, bool or 0/1 or 0/255), or zone maps (class ids 0..3)
        with ``from_zones=True``, which turns them into fronts with :func:`zones_to_front`.
    refs
        Reference front masks, one-pixel lines (thin resized labels with
        :func:`workbench.data.caffe.thin_front` first). Never masked by the bounding box.
    metas_or_resolutions
        One item per image: :class:`workbench.data.caffe.CaffeMetadata`, a CaFFe stem, a
        mapping with any of ``glacier, season, sensor, resolution_m, date, stem``, a pixel
        size in metres, or ``None`` (nothing known). ``None`` for the whole argument: nothing
        known about any image.
    bboxes
        Optional per-image bounding boxes (4 ``(x, y)`` corners, or ``None`` for an image
        without one): predicted front pixels outside are set to 0 (:func:`mask_front_with_bbox`).
    bbox_mode
        ``"caffe"`` (the benchmark's own masking), ``"polygon"`` or ``"box"``, see
        :func:`bbox_mask`.
    resolution_m
        ``"meta"`` (default): each image's pixel size from ``metas_or_resolutions``.
        A number: that pixel size for every image. ``None``: the pixel size is unknown
        (e.g. caffe256, resized without keeping the pixel size): metres are NaN and a note
        says so; pixel values and all counts are still reported. Group labels
        (``resolution``) always come from the metadata.
    from_zones
        ``preds`` are zone maps; fronts are extracted with ``min_cluster_m`` /
        ``min_cluster_px`` and each image's pixel size.
    min_cluster_m, min_cluster_px
        Passed to :func:`zones_to_front` when ``from_zones=True``.
    merge_tsx_tdx
        Group TSX and TDX as one sensor ``"TSX/TDX"``, as CaFFe's evaluation does.

    Returns
    -------
    MDEResult

    Raises
    ------
    DataError
        Lists of different lengths, masks of different shapes.

    Examples
    --------
    >>> p = np.zeros((8, 8), bool); p[2, :] = True
    >>> r = np.zeros((8, 8), bool); r[5, :] = True
    >>> metas = [{"glacier": "JAC", "sensor": "TSX", "resolution_m": 6.0, "season": "winter"},
    ...          {"glacier": "SI", "sensor": "ERS", "resolution_m": 20.0, "season": "summer"}]
    >>> res = mean_distance_error([p, np.zeros((8, 8), bool)], [r, r], metas)
    >>> res.mde_px, res.mde_m, res.n_evaluated, res.n_no_front
    (3.0, 18.0, 1, 1)
    >>> res.group("glacier", "SI").n_no_front
    1
    >>> mean_distance_error([p], [r], resolution_m=None).mde_m
    nan
    """
    preds = list(preds)
    refs = list(refs)
    n = len(preds)
    if len(refs) != n:
        raise DataError(
            f"got {n} predictions but {len(refs)} references",
            variable="refs",
            expected="one reference front per prediction",
        )
    metas = [None] * n if metas_or_resolutions is None else list(metas_or_resolutions)
    if len(metas) != n:
        raise DataError(
            f"got {n} predictions but {len(metas)} metadata items",
            variable="metas_or_resolutions",
            expected="one item per image",
        )
    boxes = [None] * n if bboxes is None else list(bboxes)
    if len(boxes) != n:
        raise DataError(
            f"got {n} predictions but {len(boxes)} bounding boxes",
            variable="bboxes",
            expected="one item (or None) per image",
        )
    acc = MDEAccumulator(
        bbox_mode=bbox_mode,
        resolution_m=resolution_m,
        from_zones=from_zones,
        min_cluster_m=min_cluster_m,
        min_cluster_px=min_cluster_px,
        merge_tsx_tdx=merge_tsx_tdx,
    )
    for pred, ref, meta, box in zip(preds, refs, metas, boxes, strict=True):
        acc.add(pred, ref, meta, bbox=box)
    return acc.result()


class MDEAccumulator:
    """:func:`mean_distance_error` fed one image at a time.

    Keeps, per image, its :class:`ImageFrontError` and its distances in pixels (float64,
    ``n_pred + n_ref`` values), never the masks, so memory grows only with the number of
    front pixels (about 24 kB for a 1,500-px front pair) and not with image size. Metres are
    made from the pixel distances only in :meth:`result`, with the same multiplication, so
    :meth:`result` is exactly (bit for bit) :func:`mean_distance_error` of the same images.

    Parameters
    ----------
    bbox_mode, resolution_m, from_zones, min_cluster_m, min_cluster_px, merge_tsx_tdx
        As in :func:`mean_distance_error`.

    Examples
    --------
    >>> p = np.zeros((8, 8), bool); p[2, :] = True
    >>> r = np.zeros((8, 8), bool); r[5, :] = True
    >>> acc = MDEAccumulator()
    >>> acc.add(p, r, {"glacier": "JAC", "resolution_m": 6.0}).mde_m
    18.0
    >>> acc.add(np.zeros((8, 8), bool), r, 20.0).status
    'no_front'
    >>> res = acc.result()
    >>> res.mde_m, res.n_images, res.n_no_front, len(acc)
    (18.0, 2, 1, 2)
    """

    def __init__(
        self,
        *,
        bbox_mode: Literal["caffe", "polygon", "box"] = "polygon",
        resolution_m: float | None | Literal["meta"] = "meta",
        from_zones: bool = False,
        min_cluster_m: float = CAFFE_MIN_FRONT_M,
        min_cluster_px: float | None = None,
        merge_tsx_tdx: bool = True,
    ) -> None:
        if not (
            resolution_m is None
            or (isinstance(resolution_m, str) and resolution_m == "meta")
            or (
                isinstance(resolution_m, numbers.Real)
                and math.isfinite(resolution_m)
                and resolution_m > 0
            )
        ):
            raise ConfigError(
                f"resolution_m={resolution_m!r}",
                variable="resolution_m",
                expected="'meta', None, or a positive pixel size in metres",
            )
        self.bbox_mode = bbox_mode
        self.resolution_m = resolution_m
        self.from_zones = from_zones
        self.min_cluster_m = min_cluster_m
        self.min_cluster_px = min_cluster_px
        self.merge_tsx_tdx = merge_tsx_tdx
        self._records: list[ImageFrontError] = []
        self._d_px: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._records)

    def add(self, pred: Any, ref: Any, meta: Any = None, *, bbox: Any = None) -> ImageFrontError:
        """Evaluate one image and keep its distances; returns its :class:`ImageFrontError`.

        ``pred``, ``ref``, ``meta`` and ``bbox`` are one item of the lists of
        :func:`mean_distance_error`.
        """
        i = len(self._records)
        info = _describe(meta, i)
        nominal = info["resolution_m"]
        res = nominal if isinstance(self.resolution_m, str) else self.resolution_m
        res = None if res is None else float(res)
        if self.from_zones:
            pred = zones_to_front(
                pred, res, min_cluster_m=self.min_cluster_m, min_cluster_px=self.min_cluster_px
            )
        p, r = _check_pair(pred, ref)
        if bbox is not None:
            p = p & bbox_mask(p.shape, bbox, mode=self.bbox_mode)
        p_flat, r_flat = np.flatnonzero(p), np.flatnonzero(r)
        n_pred, n_ref = int(p_flat.size), int(r_flat.size)
        sensor = info["sensor"]
        if self.merge_tsx_tdx and sensor.upper() in ("TSX", "TDX"):
            sensor = "TSX/TDX"
        status = "no_front" if n_pred == 0 else "no_reference" if n_ref == 0 else "ok"
        mde_px = mde_m = math.nan
        if status == "ok":
            dist = _flat_distances(p_flat, r_flat, p.shape)
            mde_px = float(dist.mean())
            mde_m = float((dist * res).mean()) if res is not None else math.nan
        else:
            dist = np.empty(0)
        rec = ImageFrontError(
            index=i,
            name=info["name"],
            glacier=info["glacier"],
            season=info["season"],
            sensor=sensor,
            resolution="unknown" if nominal is None else f"{nominal:g}",
            resolution_m=res,
            n_pred=n_pred,
            n_ref=n_ref,
            status=status,
            mde_px=mde_px,
            mde_m=mde_m,
        )
        self._records.append(rec)
        self._d_px.append(dist)
        return rec

    def result(self) -> MDEResult:
        """The pooled MDE, its breakdowns and counts over every image added so far."""
        records, d_px = self._records, self._d_px
        d_m = [
            d * r.resolution_m if r.resolution_m is not None else np.full(d.shape, np.nan)
            for d, r in zip(d_px, records, strict=True)
        ]
        notes: list[str] = []
        evaluated = [r for r in records if r.status == "ok"]
        known = all(r.resolution_m is not None for r in evaluated)
        if self.resolution_m is None:
            notes.append("pixel size unknown (resolution_m=None): reporting pixels only")
        elif not known:
            missing = sum(r.resolution_m is None for r in evaluated)
            notes.append(
                f"{missing} evaluated image(s) have no pixel size: metres are NaN, "
                "pixels are reported"
            )
        if not evaluated:
            notes.append("no image has both a predicted and a reference front")
        overall = _group_stats("all", "all", records, d_px, d_m)
        groups: dict[str, list[GroupMDE]] = {}
        for by in GROUP_KEYS:
            values: dict[str, list[int]] = {}
            for r in records:
                values.setdefault(getattr(r, by), []).append(r.index)
            groups[by] = [
                _group_stats(
                    by, v, [records[i] for i in idx], [d_px[i] for i in idx], [d_m[i] for i in idx]
                )
                for v, idx in sorted(values.items(), key=lambda kv: _sort_key(by, kv[0]))
            ]
        return MDEResult(
            mde_m=overall.mde_m,
            mde_px=overall.mde_px,
            std_m=overall.std_m,
            std_px=overall.std_px,
            n_images=len(records),
            n_evaluated=overall.n_evaluated,
            n_no_front=overall.n_no_front,
            n_no_reference=overall.n_no_reference,
            n_distances=overall.n_distances,
            resolution_known=bool(known and evaluated and self.resolution_m is not None),
            note="; ".join(notes),
            groups=groups,
            per_image=list(records),
            distances_px=np.concatenate(d_px) if d_px else np.empty(0),
            distances_m=np.concatenate(d_m) if d_m else np.empty(0),
        )


def _sort_key(by: str, value: str) -> tuple[int, float, str]:
    if by == "resolution":
        try:
            return (0, float(value), "")
        except ValueError:
            return (1, 0.0, value)
    return (1 if value == "unknown" else 0, 0.0, value)
