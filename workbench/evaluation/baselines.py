"""Model-free baselines for calving fronts (docs/science.md §4): the numbers a model must beat.

* :class:`FixedFront` — the **fixed-front baseline**: from the TRAINING labels only, the
  ``N`` most frequent front pixels over all training front masks (``N`` = the median front
  length in pixels), used as the "prediction" for every test image.
* :func:`previous_acquisition` — the **persistence baseline** for co-registered time series:
  the previous acquisition's reference front (same glacier, same image size) as the
  prediction.
* The **complete MDE** (each image without a predicted front contributes the fixed-front
  baseline's distances instead of being dropped) is computed by
  :func:`workbench.evaluation.evaluate` from these.

Examples
--------
>>> import numpy as np
>>> fronts = [np.zeros((4, 6), bool) for _ in range(3)]
>>> for k, f in enumerate(fronts):
...     f[:, 2 + (k == 2)] = True          # two labels at column 2, one at column 3
>>> base = FixedFront.from_fronts(fronts)
>>> base.length, base.n_images
(4, 3)
>>> np.argwhere(base.mask((4, 6)))[:, 1].tolist()   # the most frequent pixels: column 2
[2, 2, 2, 2]
>>> np.argwhere(base.mask((8, 12)))[:, 1].tolist()  # the same front on a finer grid
[5, 5, 5, 5]
>>> FixedFront.from_dict(base.to_dict()) == base
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from workbench.errors import DataError

__all__ = ["FixedFront", "previous_acquisition", "reference_front"]


def reference_front(sample: Mapping[str, Any]) -> np.ndarray:
    """The reference front of a zone sample: its ``front`` label, else the front of its
    ``zones`` (CaFFe rules, at the pixel size in ``meta["resolution_m"]`` when known)."""
    from workbench.evaluation.fronts import zones_to_front

    if sample.get("front") is not None:
        return np.asarray(sample["front"]).astype(bool)
    meta = sample.get("meta")
    res = meta.get("resolution_m") if isinstance(meta, Mapping) else None
    return zones_to_front(np.asarray(sample["zones"]), res)


def _as_front(mask: Any, index: int) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim != 2 or m.size == 0:
        raise DataError(
            f"training front {index} has shape {m.shape}",
            variable="front",
            expected="a 2-D front mask",
        )
    return m.astype(bool)


def _scale(coords: np.ndarray, src: tuple[int, int], dst: tuple[int, int]) -> np.ndarray:
    """Pixel-centre coordinates on a ``src`` grid mapped onto the nearest ``dst`` pixels."""
    if tuple(src) == tuple(dst):
        return coords
    f = np.array(dst, float) / np.array(src, float)
    out = np.floor((coords + 0.5) * f).astype(np.int64)
    return np.minimum(out, np.array(dst) - 1)


@dataclasses.dataclass(frozen=True, eq=False)
class FixedFront:
    """The fixed-front baseline: one front mask, built from training labels only.

    Attributes
    ----------
    shape
        The grid the pixels are on (the first training front's shape; fronts of other sizes
        are mapped onto it by scaling their pixel coordinates).
    pixels
        ``(length, 2)`` row/column indices of the chosen pixels.
    length
        ``N``, the median front length (pixels) of the training fronts.
    n_images
        Training fronts it was built from (those with at least one front pixel).
    """

    shape: tuple[int, int]
    pixels: np.ndarray
    length: int
    n_images: int

    @classmethod
    def from_fronts(cls, fronts: Iterable[Any]) -> FixedFront:
        """The ``N`` most frequent front pixels over ``fronts`` (one-pixel training front
        masks), ``N`` = their median length; ties go to the lower row-major index.

        Raises
        ------
        DataError
            No training front has a front pixel.
        """
        counts: np.ndarray | None = None
        shape: tuple[int, int] | None = None
        lengths: list[int] = []
        for i, f in enumerate(fronts):
            m = _as_front(f, i)
            coords = np.argwhere(m)
            if not len(coords):
                continue
            if shape is None:
                shape = (int(m.shape[0]), int(m.shape[1]))
                counts = np.zeros(shape, np.int64)
            assert counts is not None
            lengths.append(len(coords))
            yx = np.unique(_scale(coords, m.shape, shape), axis=0)
            counts[yx[:, 0], yx[:, 1]] += 1
        if counts is None or shape is None:
            raise DataError(
                "no training image has a front pixel",
                variable="front",
                expected="training labels with calving fronts",
            )
        n = max(1, int(round(float(np.median(lengths)))))
        flat = counts.ravel()
        order = np.argsort(-flat, kind="stable")[:n]
        order = np.sort(order[flat[order] > 0])
        pixels = np.stack(np.unravel_index(order, shape), axis=1).astype(np.int64)
        return cls(shape, pixels, int(len(pixels)), len(lengths))

    def mask(self, shape: Sequence[int]) -> np.ndarray:
        """The baseline front on an image of ``shape`` (pixel coordinates scaled)."""
        dst = (int(shape[-2]), int(shape[-1]))
        out = np.zeros(dst, bool)
        yx = _scale(self.pixels, self.shape, dst)
        out[yx[:, 0], yx[:, 1]] = True
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for a checkpoint or JSON."""
        return {
            "kind": "fixed_front",
            "shape": list(self.shape),
            "pixels": self.pixels.tolist(),
            "length": self.length,
            "n_images": self.n_images,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FixedFront:
        """Inverse of :meth:`to_dict`."""
        pixels = np.asarray(d["pixels"], np.int64).reshape(-1, 2)
        return cls(
            (int(d["shape"][0]), int(d["shape"][1])), pixels, int(d["length"]), int(d["n_images"])
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, FixedFront)
            and self.shape == other.shape
            and np.array_equal(self.pixels, other.pixels)
            and self.length == other.length
            and self.n_images == other.n_images
        )

    __hash__ = None  # type: ignore[assignment]


def previous_acquisition(
    metas: Sequence[Mapping[str, Any]], shapes: Sequence[Sequence[int]]
) -> list[int | None]:
    """For each image, the index of the previous acquisition of the same glacier with the same
    image size (the persistence baseline's "prediction"), or ``None`` for the first.

    >>> metas = [{"glacier": "A", "date": "2020-02-01"}, {"glacier": "A", "date": "2020-01-01"},
    ...          {"glacier": "B", "date": "2020-01-05"}, {"glacier": "A", "date": "2020-03-01"}]
    >>> previous_acquisition(metas, [(4, 4)] * 4)
    [1, None, None, 0]
    """
    order = sorted(
        range(len(metas)),
        key=lambda i: (str(metas[i].get("glacier", "")), str(metas[i].get("date", "")), i),
    )
    prev: list[int | None] = [None] * len(metas)
    last: dict[tuple[str, tuple[int, ...]], int] = {}
    for i in order:
        date = str(metas[i].get("date", "") or "")
        key = (str(metas[i].get("glacier", "")), tuple(int(s) for s in shapes[i][-2:]))
        if date and key in last:
            prev[i] = last[key]
        if date:
            last[key] = i
    return prev
