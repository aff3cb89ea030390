"""CaFFe-format calving-front datasets: names, folders, samples, splits, writing and plots.

The CaFFe benchmark (Gourmelon et al. 2022) stores one SAR image per acquisition with two
label rasters beside it::

    sar_images/<stem>.png          8-bit greyscale SAR amplitude
    zones/<stem>_zones.png         0 NA, 64 rock, 127 glacier, 254 ocean + ice mélange
    fronts/<stem>_front.png        255 = calving front line, 0 = background
    bounding_boxes/<stem>.txt      optional, 4 lines "x,y" (also ``<stem>_bounding_box.txt``)

where ``stem`` is ``Glacier_Date_Sensor_Resolution_Quality_Orbit``, e.g.
``DBE_1995-11-16_ERS_20_1_152``.

Accepted folder layouts (``root`` is what you pass to :class:`CaffeDataset`):

* flat: ``root/sar_images/*.png``, ``root/zones/``, ``root/fronts/`` (the shared
  ``caffe256`` set);
* original CaFFe: ``root/sar_images/train/``, ``root/zones/train/``, ``root/fronts/train/``
  (and ``test``), bounding boxes in ``root/bounding_boxes/`` or
  ``root/bounding_boxes/<split>/``;
* split first: ``root/train/sar_images/``, ``root/train/zones/``, ``root/train/fronts/``
  (and ``test``).

Hidden files (names starting with ``.``, e.g. temporary files of an atomic write) are ignored.
Label files without an image are ignored; an image without its label is an error.

Examples
--------
>>> meta = parse_caffe_name("DBE_1995-11-16_ERS_20_1_152_zones.png")
>>> meta.glacier, meta.date.isoformat(), meta.sensor, meta.resolution_m, meta.orbit
('DBE', '1995-11-16', 'ERS', 20.0, '152')
>>> meta.hemisphere, meta.season
('south', 'summer')
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from workbench._io import atomic_path
from workbench.data.encoding import (
    classes_to_zones,
    fronts_to_mask,
    zones_to_classes,
)
from workbench.errors import ConfigError, DataError, FileFormatError, LabelEncodingError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CAFFE_NAME_PATTERN",
    "GLACIER_HEMISPHERES",
    "ZONE_COLORS",
    "CaffeMetadata",
    "CaffeRecord",
    "CaffeDataset",
    "parse_caffe_name",
    "season_of",
    "thin_front",
    "read_bbox",
    "train_val_split",
    "split_by_glacier",
    "write_caffe_sample",
    "collate_samples",
    "plot",
]

#: Human-readable form of the CaFFe file stem, used in error messages.
CAFFE_NAME_PATTERN = (
    "Glacier_YYYY-MM-DD_Sensor_Resolution_Quality_Orbit"
    "[_zones|_front][.png], e.g. DBE_1995-11-16_ERS_20_1_152"
)

#: Hemisphere of every CaFFe glacier. JAC = Jakobshavn Isbræ (Greenland), COL = Columbia
#: Glacier (Alaska); Mapple, Crane, Jorum, DBE (Dinsmoor-Bombardier-Edgeworth) and SI
#: (Sjögren-Inlet) are on the Antarctic Peninsula. Keys are upper case; lookups ignore case.
#: Glaciers not listed default to ``"north"`` (pass ``hemisphere=`` to override).
GLACIER_HEMISPHERES: dict[str, str] = {
    "JAC": "north",
    "COL": "north",
    "MAPPLE": "south",
    "CRANE": "south",
    "JORUM": "south",
    "DBE": "south",
    "SI": "south",
}

#: Fixed zone colours (NA, rock, glacier, ocean) used by :func:`plot`.
ZONE_COLORS: tuple[str, ...] = ("#000000", "#8c6d4f", "#dcecf5", "#0b2e59")

_ZONE_LABELS = ("NA", "rock", "glacier", "ocean + mélange")
_STEM_RE = re.compile(
    r"^(?P<glacier>.+?)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<sensor>[^_]+)_(?P<resolution>\d+(?:\.\d+)?)"
    r"_(?P<quality>\d+)_(?P<orbit>[^_]+)$"
)
_SPLITS = ("train", "test")


def season_of(month: int | _dt.date, hemisphere: str) -> str:
    """Season of an acquisition month as CaFFe defines it.

    Northern glaciers: winter = months < 4 or > 8 (September–March). Southern glaciers:
    winter = April–August. Everything else is summer.

    Parameters
    ----------
    month
        Month number 1..12, or a date.
    hemisphere
        ``"north"`` or ``"south"``.

    Returns
    -------
    str
        ``"winter"`` or ``"summer"``.

    Examples
    --------
    >>> season_of(1, "north"), season_of(1, "south"), season_of(6, "south")
    ('winter', 'summer', 'winter')
    """
    m = month.month if isinstance(month, _dt.date) else int(month)
    if not 1 <= m <= 12:
        raise ConfigError(f"month {m} is not a month", expected="1..12")
    if hemisphere == "north":
        return "winter" if (m < 4 or m > 8) else "summer"
    if hemisphere == "south":
        return "winter" if 4 <= m <= 8 else "summer"
    raise ConfigError(f"unknown hemisphere {hemisphere!r}", expected="'north' or 'south'")


@dataclasses.dataclass(frozen=True)
class CaffeMetadata:
    """What a CaFFe file name says about its acquisition.

    Attributes
    ----------
    glacier
        Glacier code as written in the name (``JAC``, ``COL``, ``Mapple``, ``DBE``…).
    date
        Acquisition date.
    sensor
        Sensor code (``ERS``, ``ENVISAT``, ``RSAT``, ``PALSAR``, ``TSX``, ``TDX``, ``S1``).
    resolution_m
        Pixel size of the ORIGINAL image in metres (not of resized copies such as caffe256).
    quality
        Annotation quality class (1 best … 6 worst in the real set).
    orbit
        Orbit / track identifier, kept as the string in the name because it has leading
        zeros (``"005"``).
    stem
        The canonical stem ``Glacier_Date_Sensor_Resolution_Quality_Orbit``.
    hemisphere
        ``"north"`` or ``"south"`` (see :data:`GLACIER_HEMISPHERES`).
    season
        ``"winter"`` or ``"summer"`` by :func:`season_of`.
    """

    glacier: str
    date: _dt.date
    sensor: str
    resolution_m: float
    quality: int
    orbit: str
    stem: str
    hemisphere: str
    season: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (date as :class:`datetime.date`)."""
        return dataclasses.asdict(self)


def parse_caffe_name(
    name: str | os.PathLike[str], *, hemisphere: str | None = None
) -> CaffeMetadata:
    """Parse a CaFFe file name or stem into :class:`CaffeMetadata`.

    Directories, a ``.png``/``.txt`` suffix and a trailing ``_zones``, ``_front`` or
    ``_bounding_box`` are stripped first.

    Parameters
    ----------
    name
        File name, path or stem.
    hemisphere
        Override the hemisphere (``"north"``/``"south"``); by default it comes from
        :data:`GLACIER_HEMISPHERES`, and unknown glaciers are northern.

    Raises
    ------
    DataError
        The name does not follow ``Glacier_Date_Sensor_Resolution_Quality_Orbit`` or holds an
        impossible date.

    Examples
    --------
    >>> m = parse_caffe_name("sar_images/JAC_2009-06-05_TSX_6_1_005.png")
    >>> m.glacier, m.quality, m.orbit, m.season
    ('JAC', 1, '005', 'summer')
    >>> parse_caffe_name("Foo_2020-01-01_S1_10_1_1", hemisphere="south").season
    'summer'
    """
    raw = os.fspath(name)
    stem = os.path.basename(raw)
    for suffix in (".png", ".txt"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    for suffix in ("_zones", "_front", "_bounding_box"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    match = _STEM_RE.match(stem)
    if match is None:
        raise DataError("is not a CaFFe file name", path=raw, expected=CAFFE_NAME_PATTERN)
    try:
        date = _dt.date.fromisoformat(match["date"])
    except ValueError:
        raise DataError(
            f"holds an impossible date {match['date']!r}", path=raw, expected=CAFFE_NAME_PATTERN
        ) from None
    glacier = match["glacier"]
    hemi = hemisphere or GLACIER_HEMISPHERES.get(glacier.upper(), "north")
    if hemi not in ("north", "south"):
        raise ConfigError(f"unknown hemisphere {hemi!r}", expected="'north' or 'south'")
    return CaffeMetadata(
        glacier=glacier,
        date=date,
        sensor=match["sensor"],
        resolution_m=float(match["resolution"]),
        quality=int(match["quality"]),
        orbit=match["orbit"],
        stem=stem,
        hemisphere=hemi,
        season=season_of(date, hemi),
    )


# --------------------------------------------------------------------------- reading


def _open_png(path: Path) -> np.ndarray:
    """Decode a raster fully; any decoding problem becomes a FileFormatError naming it."""
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("LA", "RGB", "RGBA", "P", "PA"):
                arr = np.asarray(im.convert("RGB") if mode in ("P", "PA") else im)
                if mode == "LA":
                    arr = arr[..., 0]
                else:
                    if not (
                        np.array_equal(arr[..., 0], arr[..., 1])
                        and np.array_equal(arr[..., 0], arr[..., 2])
                    ):
                        raise FileFormatError(
                            f"is a colour image (mode {mode})",
                            path=path,
                            expected="a single-channel greyscale PNG",
                        )
                    arr = arr[..., 0]
            else:
                arr = np.asarray(im)
    except FileFormatError:
        raise
    except FileNotFoundError:
        raise DataError("does not exist", path=path) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise FileFormatError(
            f"cannot be read as an image ({exc})", path=path, expected="a complete PNG file"
        ) from None
    if arr.ndim != 2:
        raise FileFormatError(
            f"has shape {arr.shape}", path=path, expected="a 2-D single-channel image"
        )
    return arr


def _image_to_unit(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == bool:
        return arr.astype(np.float32)
    if arr.dtype.kind in "ui" and arr.min(initial=0) >= 0 and arr.max(initial=0) <= 65535:
        return arr.astype(np.float32) / 65535.0
    raise FileFormatError(
        f"has pixel type {arr.dtype}", path=path, expected="an 8-bit or 16-bit greyscale image"
    )


def read_bbox(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a CaFFe bounding-box file → int64 array (4, 2) of (x, y) corners, in file order.

    The benchmark's files have a header line, then the upper-left, lower-left, lower-right and
    upper-right corners as ``x,y`` (floats, rounded here as the benchmark's code rounds them:
    Python's ``round``). A file of the four corner lines alone is accepted too. Separators may
    be commas, semicolons or white space; blank lines are skipped.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "box.txt"
    >>> _ = p.write_text("x,y\\n1.4,2\\n1,20.5\\n10,20\\n10,2.6\\n")
    >>> read_bbox(p).tolist()
    [[1, 2], [1, 20], [10, 20], [10, 3]]
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"cannot be read ({exc})", path=path) from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    rows = []
    for k, line in enumerate(lines):
        parts = [p for p in re.split(r"[,;\s]+", line.strip().strip("()[]")) if p]
        try:
            row = [int(round(float(p))) for p in parts]
        except ValueError:
            row = []
        if k == 0 and len(lines) == 5:
            continue  # the benchmark's header line (its code skips line 1 unread too)
        if len(row) != 2:
            raise FileFormatError(
                f"has a line {line!r} that is not 'x,y'",
                path=path,
                expected="an optional header line, then 4 corner lines 'x,y'",
            )
        rows.append(row)
    if len(rows) != 4:
        raise FileFormatError(
            f"has {len(rows)} corner lines",
            path=path,
            expected="an optional header line, then 4 corner lines 'x,y' "
            "(upper-left, lower-left, lower-right, upper-right)",
        )
    return np.asarray(rows, dtype=np.int64)


def thin_front(mask: np.ndarray | torch.Tensor, *, max_hole: int = 8) -> np.ndarray | torch.Tensor:
    """Skeletonize a wide front label (e.g. 2–5 px after resizing) into a one-pixel line.

    Small holes inside the label (resizing artefacts of at most ``max_hole`` pixels) are
    filled first; otherwise the skeleton would keep a tiny loop around each of them.

    Parameters
    ----------
    mask
        2-D front mask (bool, or 0/255 uint8, or any array where non-zero = front).
        A NumPy array or a torch tensor; the result has the same kind.
    max_hole
        Largest enclosed hole (pixels, 4-connected) filled before thinning; 0 fills none.

    Returns
    -------
    Boolean mask of the same shape whose pixels are a subset of ``mask`` and form
    one-pixel-wide lines (:func:`skimage.morphology.skeletonize`), except where a small hole
    was filled (those pixels may join the line).

    Examples
    --------
    >>> m = np.zeros((7, 9), bool); m[2:5, 1:8] = True   # a 3-px-wide horizontal band
    >>> int(thin_front(m).sum(axis=0).max())
    1
    """
    from skimage.morphology import skeletonize

    is_tensor = isinstance(mask, torch.Tensor)
    arr = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if arr.ndim != 2:
        raise DataError(
            f"front mask has shape {arr.shape}", variable="front", expected="a 2-D mask"
        )
    fg = arr > 0
    if not fg.any():
        skel = np.zeros(arr.shape, bool)
    else:
        if max_hole > 0:
            from scipy import ndimage

            holes = ndimage.binary_fill_holes(fg) & ~fg
            if holes.any():
                labels, n = ndimage.label(holes)
                sizes = np.bincount(labels.ravel(), minlength=n + 1)
                small = sizes <= max_hole
                small[0] = False
                fg = fg | small[labels]
        skel = skeletonize(fg)
    return torch.from_numpy(skel) if is_tensor else skel


# --------------------------------------------------------------------------- dataset


@dataclasses.dataclass(frozen=True)
class CaffeRecord:
    """Where one CaFFe sample lives on disk (no pixels loaded)."""

    image: Path
    zones: Path
    front: Path | None
    bbox: Path | None
    meta: CaffeMetadata
    split: str | None


def _visible_pngs(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() == ".png"
    )


def _has_pngs(folder: Path) -> bool:
    return folder.is_dir() and any(
        p.suffix.lower() == ".png" and not p.name.startswith(".") for p in folder.iterdir()
    )


def _find_layouts(root: Path, split: str | None) -> list[tuple[str | None, dict[str, Any]]]:
    """Folders of each requested split: [(split, {images, zones, fronts, bboxes…})]."""

    def original(s: str) -> dict[str, Any]:
        return {
            "images": root / "sar_images" / s,
            "zones": root / "zones" / s,
            "fronts": root / "fronts" / s,
            "bboxes": [root / "bounding_boxes" / s, root / "bounding_boxes"],
        }

    def split_first(s: str) -> dict[str, Any]:
        base = root / s
        return {
            "images": base / "sar_images",
            "zones": base / "zones",
            "fronts": base / "fronts",
            "bboxes": [base / "bounding_boxes", root / "bounding_boxes"],
        }

    flat = {
        "images": root / "sar_images",
        "zones": root / "zones",
        "fronts": root / "fronts",
        "bboxes": [root / "bounding_boxes"],
    }
    if not root.is_dir():
        raise DataError("is not a folder", path=root, expected="a CaFFe folder with sar_images/")
    flat_has = (root / "sar_images").is_dir() and _has_pngs(root / "sar_images")
    wanted = _SPLITS if split is None else (split,)
    found: list[tuple[str | None, dict[str, Any]]] = []
    for s in wanted:
        for cand in (original(s), split_first(s)):
            if cand["images"].is_dir():
                found.append((s, cand))
                break
    if split is None:
        if flat_has:
            return [(None, flat)]
        if found:
            return found
        raise DataError(
            "holds no CaFFe images",
            path=root,
            expected="PNG files in sar_images/, sar_images/{train,test}/ or "
            "{train,test}/sar_images/",
        )
    if found:
        return found
    if flat_has:
        raise DataError(
            f"has a flat layout without a {split!r} split",
            path=root,
            expected="split=None for a flat sar_images/ folder",
        )
    raise DataError(
        f"has no {split!r} split", path=root, expected=f"sar_images/{split}/ or {split}/sar_images/"
    )


class CaffeDataset(Dataset):
    """A CaFFe-format folder as a torch :class:`~torch.utils.data.Dataset`.

    Each item is a dict

    ``image``  float32 tensor (1, H, W) in [0, 1] (8-bit divided by 255, 16-bit by 65535);
    ``zones``  int64 tensor (H, W) of class ids 0 NA, 1 rock, 2 glacier, 3 ocean;
    ``front``  bool tensor (H, W) (only with ``with_fronts=True``; skeletonized with
    ``thin_fronts=True``);
    ``bbox``   int64 tensor (4, 2) of (x, y) corners, only when a bounding-box file exists;
    ``meta``   :class:`CaffeMetadata`;
    ``index``  the item index.

    Items hold a dataclass, so batch them with :func:`collate_samples` (or use the patch
    datasets in :mod:`workbench.data.patches`, whose items collate by default).

    Parameters
    ----------
    root
        Folder in one of the layouts listed in the module docstring.
    split
        ``None`` (a flat folder, or every split found: train then test), ``"train"`` or
        ``"test"``.
    glaciers
        Keep only these glaciers (names as in the files, compared case-insensitively).
    transforms
        Callable applied to each sample dict before it is returned.
    with_fronts
        Load (and require) the front labels.
    thin_fronts
        Skeletonize fronts to one-pixel lines (needed for resized sets like caffe256).
    hemispheres
        Per-glacier hemisphere overrides, e.g. ``{"HMB": "north"}``.

    Raises
    ------
    DataError
        Missing folder, no images, an image without its zones/front file, a bad file name.

    Examples
    --------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> img = np.zeros((8, 8), np.uint8); zones = np.full((8, 8), 3); zones[:4] = 2
    >>> front = np.zeros((8, 8), bool); front[4] = True
    >>> _ = write_caffe_sample(root, "SI_2010-06-01_TSX_7_1_125", img, zones, front)
    >>> ds = CaffeDataset(root)
    >>> s = ds[0]
    >>> len(ds), tuple(s["image"].shape), s["zones"].dtype, s["meta"].season
    (1, (1, 8, 8), torch.int64, 'winter')
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str | None = None,
        *,
        glaciers: Iterable[str] | None = None,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        with_fronts: bool = True,
        thin_fronts: bool = False,
        hemispheres: Mapping[str, str] | None = None,
    ) -> None:
        if split not in (None, *_SPLITS):
            raise ConfigError(
                f"unknown split {split!r}",
                variable="split",
                expected="None, 'train' or 'test' (validation: train_val_split)",
            )
        self.root = Path(root)
        self.split = split
        self.transforms = transforms
        self.with_fronts = with_fronts
        self.thin_fronts = thin_fronts
        overrides = {k.upper(): v for k, v in (hemispheres or {}).items()}
        keep = None if glaciers is None else {g.upper() for g in glaciers}
        records: list[CaffeRecord] = []
        for split_name, dirs in _find_layouts(self.root, split):
            for image in _visible_pngs(dirs["images"]):
                meta = parse_caffe_name(image.name)
                if meta.glacier.upper() in overrides:
                    meta = parse_caffe_name(image.name, hemisphere=overrides[meta.glacier.upper()])
                if keep is not None and meta.glacier.upper() not in keep:
                    continue
                zones = dirs["zones"] / f"{meta.stem}_zones.png"
                if not zones.is_file():
                    raise DataError(
                        f"has no zones label {zones}",
                        path=image,
                        expected=f"{meta.stem}_zones.png in {dirs['zones']}",
                    )
                front = None
                if with_fronts:
                    front = dirs["fronts"] / f"{meta.stem}_front.png"
                    if not front.is_file():
                        raise DataError(
                            f"has no front label {front}",
                            path=image,
                            expected=f"{meta.stem}_front.png in {dirs['fronts']}",
                        )
                bbox = None
                for folder in dirs["bboxes"]:
                    for name in (f"{meta.stem}.txt", f"{meta.stem}_bounding_box.txt"):
                        if (folder / name).is_file():
                            bbox = folder / name
                            break
                    if bbox is not None:
                        break
                records.append(CaffeRecord(image, zones, front, bbox, meta, split_name))
        if not records:
            what = f" of glaciers {sorted(keep)}" if keep is not None else ""
            raise DataError(
                f"holds no CaFFe images{what}",
                path=self.root,
                expected="at least one sar_images/<stem>.png",
            )
        self.records: list[CaffeRecord] = records

    # -- lightweight views -------------------------------------------------------------
    @property
    def metadata(self) -> list[CaffeMetadata]:
        """Parsed names of all items, in item order (no pixels loaded)."""
        return [r.meta for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def image_size(self, index: int) -> tuple[int, int]:
        """(H, W) of item ``index`` read from the PNG header only."""
        path = self.records[index].image
        try:
            with Image.open(path) as im:
                w, h = im.size
        except (OSError, SyntaxError, ValueError) as exc:
            raise FileFormatError(
                f"cannot be read as an image ({exc})", path=path, expected="a complete PNG file"
            ) from None
        return h, w

    def to_frame(self) -> pd.DataFrame:
        """One row per item: metadata fields plus ``split`` and the file paths.

        Examples
        --------
        >>> import tempfile
        >>> root, z = tempfile.mkdtemp(), np.zeros((4, 4), np.uint8)
        >>> for stem in ("SI_2010-06-01_TSX_7_1_125", "JAC_2010-06-01_TSX_6_1_005"):
        ...     _ = write_caffe_sample(root, stem, z, z, z)
        >>> CaffeDataset(root).to_frame().groupby("glacier")["season"].first().to_dict()
        {'JAC': 'summer', 'SI': 'winter'}
        """
        import pandas as pd

        rows = []
        for r in self.records:
            row = r.meta.to_dict()
            row["date"] = pd.Timestamp(r.meta.date)
            row.update(
                split=r.split,
                image_path=str(r.image),
                zones_path=str(r.zones),
                front_path=None if r.front is None else str(r.front),
                bbox_path=None if r.bbox is None else str(r.bbox),
            )
            rows.append(row)
        return pd.DataFrame(rows)

    # -- loading ------------------------------------------------------------------------
    def load(self, index: int) -> dict[str, Any]:
        """Load item ``index`` without ``transforms``."""
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        rec = self.records[index]
        img = _open_png(rec.image)
        image = _image_to_unit(img, rec.image)
        zone_raw = _open_png(rec.zones)
        if zone_raw.shape != img.shape:
            raise DataError(
                f"has shape {zone_raw.shape} but its image {rec.image.name} has {img.shape}",
                path=rec.zones,
                expected="labels the size of the image",
            )
        zones = zones_to_classes(zone_raw, path=str(rec.zones)).astype(np.int64)
        sample: dict[str, Any] = {
            "image": torch.from_numpy(image)[None],
            "zones": torch.from_numpy(zones),
        }
        if rec.front is not None:
            front_raw = _open_png(rec.front)
            if front_raw.shape != img.shape:
                raise DataError(
                    f"has shape {front_raw.shape} but its image {rec.image.name} has {img.shape}",
                    path=rec.front,
                    expected="labels the size of the image",
                )
            front = fronts_to_mask(front_raw, path=str(rec.front))
            if self.thin_fronts:
                front = np.asarray(thin_front(front))
            sample["front"] = torch.from_numpy(np.ascontiguousarray(front, dtype=bool))
        if rec.bbox is not None:
            sample["bbox"] = torch.from_numpy(read_bbox(rec.bbox))
        sample["meta"] = rec.meta
        sample["index"] = index
        return sample

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.load(index)
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(
        self, index_or_sample: int | Mapping[str, Any], ax: Sequence[Axes] | None = None
    ) -> Figure:
        """Plot item ``index`` (or a sample dict) with :func:`plot`."""
        sample = (
            self.load(index_or_sample)
            if isinstance(index_or_sample, int | np.integer)
            else index_or_sample
        )
        return plot(sample, ax=ax)

    def __repr__(self) -> str:
        glaciers = sorted({m.glacier for m in self.metadata})
        return (
            f"CaffeDataset(root={str(self.root)!r}, split={self.split!r}, n={len(self)}, "
            f"glaciers={glaciers})"
        )


def collate_samples(batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Batch CaFFe samples: tensors of equal shape are stacked, everything else listed.

    Examples
    --------
    >>> b = collate_samples([{"x": torch.zeros(2), "m": "a"}, {"x": torch.ones(2), "m": "b"}])
    >>> tuple(b["x"].shape), b["m"]
    ((2, 2), ['a', 'b'])
    """
    out: dict[str, Any] = {}
    for key in batch[0]:
        values = [s[key] for s in batch]
        if all(isinstance(v, torch.Tensor) for v in values) and len({v.shape for v in values}) == 1:
            out[key] = torch.stack(values)
        elif all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
            out[key] = torch.as_tensor(values)
        else:
            out[key] = values
    return out


# --------------------------------------------------------------------------- splits


def _as_metadata(items: CaffeDataset | Sequence[CaffeMetadata | str]) -> list[CaffeMetadata]:
    if isinstance(items, CaffeDataset):
        return items.metadata
    if hasattr(items, "metadata") and not isinstance(items, Sequence):
        return list(items.metadata)
    return [m if isinstance(m, CaffeMetadata) else parse_caffe_name(m) for m in items]


def train_val_split(
    metadata_or_dataset: CaffeDataset | Sequence[CaffeMetadata | str],
    val_fraction: float = 0.1,
    seed: int = 0,
) -> tuple[list[int], list[int]]:
    """Seeded random split by image into (train, validation) index lists, as CaFFe does.

    ``round(n · val_fraction)`` images (at least 1 when ``val_fraction > 0`` and n ≥ 2) go to
    validation. Both lists are sorted; use ``torch.utils.data.Subset(ds, idx)`` for datasets.

    Examples
    --------
    >>> names = [f"SI_2010-01-{d:02d}_TSX_7_1_125" for d in range(1, 21)]
    >>> train, val = train_val_split(names, 0.1, seed=0)
    >>> len(train), len(val), sorted(train + val) == list(range(20))
    (18, 2, True)
    """
    n = len(_as_metadata(metadata_or_dataset))
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(
            f"val_fraction {val_fraction} is out of range",
            variable="val_fraction",
            expected="0 <= val_fraction < 1",
        )
    n_val = int(round(n * val_fraction))
    if val_fraction > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    val = sorted(int(i) for i in perm[:n_val])
    train = sorted(int(i) for i in perm[n_val:])
    return train, val


def split_by_glacier(
    metadata_or_dataset: CaffeDataset | Sequence[CaffeMetadata | str],
    *,
    val_glaciers: Iterable[str] = (),
    test_glaciers: Iterable[str] = (),
) -> tuple[list[int], list[int], list[int]]:
    """Leave-glaciers-out split into (train, val, test) index lists.

    Every image of a glacier in ``val_glaciers`` goes to validation, of ``test_glaciers`` to
    test, all others to training. Names compare case-insensitively; naming a glacier that is
    absent, or the same glacier twice, is an error.

    Examples
    --------
    >>> names = ["SI_2010-01-01_TSX_7_1_125", "DBE_2010-01-01_TSX_7_1_110",
    ...          "JAC_2010-01-01_TSX_6_1_005"]
    >>> split_by_glacier(names, val_glaciers=["si"], test_glaciers=["JAC"])
    ([1], [0], [2])
    """
    metas = _as_metadata(metadata_or_dataset)
    present = {m.glacier.upper() for m in metas}
    val = {g.upper() for g in val_glaciers}
    test = {g.upper() for g in test_glaciers}
    if val & test:
        raise ConfigError(
            f"glaciers {sorted(val & test)} are in both validation and test",
            expected="disjoint val_glaciers and test_glaciers",
        )
    missing = (val | test) - present
    if missing:
        raise DataError(
            f"glaciers {sorted(missing)} have no images",
            variable="glacier",
            expected=f"some of {sorted(present)}",
        )
    out: tuple[list[int], list[int], list[int]] = ([], [], [])
    for i, m in enumerate(metas):
        g = m.glacier.upper()
        out[2 if g in test else 1 if g in val else 0].append(i)
    return out


# --------------------------------------------------------------------------- writing


def _save_png(arr: np.ndarray, target: Path) -> None:
    with atomic_path(target) as tmp:
        Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8), mode="L").save(tmp, format="PNG")


def write_caffe_sample(
    root: str | os.PathLike[str],
    meta_or_stem: CaffeMetadata | str,
    image_u8: np.ndarray,
    zones_classes: np.ndarray,
    front_mask: np.ndarray,
    bbox: np.ndarray | Sequence[Sequence[float]] | None = None,
    *,
    split: str | None = None,
) -> dict[str, Path]:
    """Write one CaFFe sample (image, zones, front, optional bounding box) atomically.

    Files go to ``root/sar_images/<stem>.png``, ``root/zones/<stem>_zones.png`` (values
    0/64/127/254), ``root/fronts/<stem>_front.png`` (0/255) and
    ``root/bounding_boxes/<stem>.txt``; with ``split="train"`` into ``…/<folder>/train/``
    (the original CaFFe layout). Each file is written through a temporary file and a rename,
    and the image is written last, so a reader never sees an image without its labels.

    Parameters
    ----------
    root
        Dataset folder.
    meta_or_stem
        :class:`CaffeMetadata` or a valid CaFFe stem.
    image_u8
        2-D uint8 image (bool or integer arrays within 0..255 are accepted).
    zones_classes
        2-D class ids 0..3, same shape.
    front_mask
        2-D boolean (or 0/1, 0/255) front mask, same shape.
    bbox
        Optional 4 (x, y) corners.
    split
        Optional ``"train"``/``"test"`` subfolder.

    Returns
    -------
    dict
        Paths written, keys ``image``, ``zones``, ``front`` (and ``bbox``).

    Examples
    --------
    >>> import tempfile
    >>> img = np.zeros((4, 4), np.uint8); z = np.full((4, 4), 2); f = np.eye(4, dtype=bool)
    >>> paths = write_caffe_sample(tempfile.mkdtemp(), "JAC_2010-01-01_TSX_6_1_005", img, z, f)
    >>> paths["zones"].name
    'JAC_2010-01-01_TSX_6_1_005_zones.png'
    """
    meta = (
        meta_or_stem if isinstance(meta_or_stem, CaffeMetadata) else parse_caffe_name(meta_or_stem)
    )
    if split not in (None, *_SPLITS):
        raise ConfigError(
            f"unknown split {split!r}", variable="split", expected="None, 'train' or 'test'"
        )
    image = np.asarray(image_u8)
    if image.ndim != 2:
        raise DataError(f"image has shape {image.shape}", variable="image", expected="a 2-D array")
    if image.dtype != np.uint8:
        if image.dtype == bool or (
            image.dtype.kind in "ui" and image.size and image.min() >= 0 and image.max() <= 255
        ):
            image = image.astype(np.uint8)
        else:
            raise DataError(
                f"image has dtype {image.dtype}", variable="image", expected="uint8 values 0..255"
            )
    zones = np.asarray(zones_classes)
    front = np.asarray(front_mask)
    for name, arr in (("zones", zones), ("front", front)):
        if arr.shape != image.shape:
            raise DataError(
                f"{name} has shape {arr.shape} but the image has {image.shape}",
                variable=name,
                expected="arrays of the same shape",
            )
    if zones.dtype.kind == "f":
        if not np.all(np.isfinite(zones)) or not np.all(zones == np.round(zones)):
            raise LabelEncodingError(
                "holds non-integer class ids", variable="zones", expected="class ids 0..3"
            )
        zones = zones.astype(np.int64)
    zone_values = classes_to_zones(zones)
    front_values = np.where(front > 0, 255, 0).astype(np.uint8)

    def folder(name: str) -> Path:
        base = Path(root) / name
        return base / split if split else base

    paths = {
        "zones": folder("zones") / f"{meta.stem}_zones.png",
        "front": folder("fronts") / f"{meta.stem}_front.png",
    }
    _save_png(zone_values, paths["zones"])
    _save_png(front_values, paths["front"])
    if bbox is not None:
        corners = np.asarray(bbox, dtype=float)
        if corners.shape != (4, 2):
            raise DataError(
                f"bbox has shape {corners.shape}", variable="bbox", expected="4 (x, y) corners"
            )
        paths["bbox"] = folder("bounding_boxes") / f"{meta.stem}.txt"
        with atomic_path(paths["bbox"]) as tmp:
            tmp.write_text("".join(f"{x:g},{y:g}\n" for x, y in corners))
    paths["image"] = folder("sar_images") / f"{meta.stem}.png"
    _save_png(image, paths["image"])
    return paths


# --------------------------------------------------------------------------- plotting


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def plot(sample: Mapping[str, Any], ax: Sequence[Axes] | None = None) -> Figure:
    """Show a sample: image with the front in red, zones with a fixed 4-colour legend, front.

    Panels (left to right): the SAR image with the front overlaid in red; the zones (NA black,
    rock brown, glacier light blue-white, ocean dark blue); the front alone; plus the
    ``prediction`` zones when the sample has one. The title gives glacier, date, sensor,
    resolution and season when ``meta`` is present. Uses :class:`matplotlib.figure.Figure`
    directly (no pyplot state, safe in any backend).

    Parameters
    ----------
    sample
        Dict with ``image`` (1×H×W or H×W), optional ``zones``, ``front``, ``prediction``,
        ``meta``.
    ax
        Optional sequence of axes to draw into (one per panel).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot({"image": np.zeros((8, 8)), "zones": np.zeros((8, 8), int)})
    >>> len(fig.axes)
    2
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    image = _to_numpy(sample["image"]).astype(np.float32)
    if image.ndim == 3:
        image = image[0]
    panels = ["image"]
    if sample.get("zones") is not None:
        panels.append("zones")
    if sample.get("front") is not None:
        panels.append("front")
    if sample.get("prediction") is not None:
        panels.append("prediction")
    if ax is None:
        fig = Figure(figsize=(4.2 * len(panels), 4.4), layout="constrained")
        axes = list(np.atleast_1d(fig.subplots(1, len(panels))))
    else:
        axes = list(np.atleast_1d(ax))  # type: ignore[arg-type]
        if len(axes) < len(panels):
            raise ConfigError(
                f"got {len(axes)} axes for {len(panels)} panels",
                variable="ax",
                expected=f"{len(panels)} axes",
            )
        fig = axes[0].figure
    cmap = ListedColormap(list(ZONE_COLORS))
    front = _to_numpy(sample["front"]).astype(bool) if "front" in panels else None
    for a, panel in zip(axes, panels, strict=False):
        a.set_axis_off()
        if panel == "image":
            finite = image[np.isfinite(image)]
            lo = min(0.0, float(finite.min())) if finite.size else 0.0
            hi = max(1.0, float(finite.max())) if finite.size else 1.0
            a.imshow(image, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
            if front is not None:
                overlay = np.zeros((*front.shape, 4), np.float32)
                overlay[front] = (1.0, 0.0, 0.0, 1.0)
                a.imshow(overlay, interpolation="nearest")
            a.set_title("SAR image + front" if front is not None else "SAR image")
        elif panel in ("zones", "prediction"):
            a.imshow(
                _to_numpy(sample[panel]), cmap=cmap, vmin=-0.5, vmax=3.5, interpolation="nearest"
            )
            a.set_title("zones" if panel == "zones" else "prediction")
            handles = [
                Patch(facecolor=c, edgecolor="0.5", label=n)
                for c, n in zip(ZONE_COLORS, _ZONE_LABELS, strict=True)
            ]
            a.legend(handles=handles, loc="lower left", fontsize="small", framealpha=0.8)
        else:
            a.imshow(front, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            a.set_title("front")
    meta = sample.get("meta")
    if isinstance(meta, CaffeMetadata):
        fig.suptitle(
            f"{meta.glacier}  {meta.date.isoformat()}  {meta.sensor}  "
            f"{meta.resolution_m:g} m  ({meta.hemisphere}ern {meta.season})"
        )
    return fig
