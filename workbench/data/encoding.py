"""The CaFFe zone encoding: values on disk ↔ class ids in memory.

On disk (PNG/GeoTIFF): 0 no data / radar shadow / layover, 64 rock, 127 glacier,
254 ocean including ice mélange. In memory: class ids 0..3 in that order.
Glacier outlines are binary masks (1 glacier, 0 not); fronts are 0/255 on disk.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import LabelEncodingError

__all__ = [
    "ZONE_CLASSES",
    "ZONE_VALUES",
    "NA",
    "ROCK",
    "GLACIER",
    "OCEAN",
    "zones_to_classes",
    "classes_to_zones",
    "fronts_to_mask",
]

NA, ROCK, GLACIER, OCEAN = 0, 1, 2, 3
ZONE_CLASSES: tuple[str, ...] = ("na", "rock", "glacier", "ocean")
ZONE_VALUES: tuple[int, ...] = (0, 64, 127, 254)
_ACCEPTED = {0: NA, 63: ROCK, 64: ROCK, 127: GLACIER, 254: OCEAN}


def zones_to_classes(zones: np.ndarray, *, path: str | None = None) -> np.ndarray:
    """Map CaFFe zone values (0/64/127/254, 63 accepted as rock) to class ids 0..3.

    Examples
    --------
    >>> zones_to_classes(np.array([[0, 63, 64], [127, 254, 254]], dtype=np.uint8))
    array([[0, 1, 1],
           [2, 3, 3]], dtype=uint8)
    """
    zones = np.asarray(zones)
    lut = np.full(256, 255, dtype=np.uint8)
    for value, cls in _ACCEPTED.items():
        lut[value] = cls
    if zones.dtype != np.uint8:
        if zones.size and (zones.min() < 0 or zones.max() > 255):
            raise LabelEncodingError(
                f"holds values outside 0..255 (min {zones.min()}, max {zones.max()})",
                path=path,
                variable="zones",
                expected="CaFFe zone values 0, 64, 127, 254",
            )
        zones = zones.astype(np.uint8)
    out = lut[zones]
    if (out == 255).any():
        bad = np.unique(zones[out == 255])
        raise LabelEncodingError(
            f"holds values {bad[:10].tolist()} that are not CaFFe zones",
            path=path,
            variable="zones",
            expected="only 0 (NA), 64 or 63 (rock), 127 (glacier), 254 (ocean)",
        )
    return out


def classes_to_zones(classes: np.ndarray) -> np.ndarray:
    """Map class ids 0..3 back to CaFFe zone values 0/64/127/254 (uint8).

    Examples
    --------
    >>> classes_to_zones(np.array([0, 1, 2, 3]))
    array([  0,  64, 127, 254], dtype=uint8)
    """
    classes = np.asarray(classes)
    if classes.size and (classes.min() < 0 or classes.max() > 3):
        raise LabelEncodingError(
            f"holds class ids outside 0..3 (min {classes.min()}, max {classes.max()})",
            variable="zones",
            expected="class ids 0..3",
        )
    return np.asarray(ZONE_VALUES, dtype=np.uint8)[classes]


def fronts_to_mask(front: np.ndarray, *, path: str | None = None) -> np.ndarray:
    """Map a CaFFe front raster (0 background, 255 front) to a boolean mask.

    Resized fronts may hold interpolated grey values; anything ≥ 128 counts as front.
    Values are refused only if the raster is not 8-bit.
    """
    front = np.asarray(front)
    if front.dtype != np.uint8 and front.dtype != bool:
        raise LabelEncodingError(
            f"has dtype {front.dtype}",
            path=path,
            variable="front",
            expected="an 8-bit raster with 0 = background, 255 = front",
        )
    return front >= 128 if front.dtype == np.uint8 else front
