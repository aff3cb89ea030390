"""``workbench stack``: Sentinel-1 from a STAC catalogue into a workbench scene stack.

:func:`build_stack` runs the whole path:

1. **search** (:func:`search_items`): a STAC API with ``pystac-client`` (a URL), or a static
   catalogue / collection / ItemCollection file with ``pystac``, for the AOI, the dates
   and the collection;
2. **select**: one orbit (``--orbit``), one polarisation (``--polarisation``; items that
   lack it are left out and reported), the asset of that polarisation from the collection's
   profile (:mod:`workbench.ingest.profiles`) and its value scale (linear power, amplitude
   or dB; uncalibrated digital numbers are refused);
3. **group** the items into acquisitions: items of one platform, orbit and pass (within
   10 minutes) are one date, mosaicked (first valid pixel); dates whose footprints cover
   less than ``--min-coverage`` of the AOI are skipped before any pixel is read;
4. **load** lazily with ``odc-stac`` (Dask) onto one metric grid around the AOI (UTM from
   the AOI centre where UTM is defined, 80° S to 84° N, polar stereographic EPSG:3413 /
   EPSG:3031 beyond; or ``--crs``), convert to dB, and measure each date's valid-pixel
   coverage of the AOI in the same pass; dates below ``--min-coverage`` are skipped;
5. **write** the kept dates as a Zarr scene stack (:func:`workbench.data.stack.write_stack`,
   atomic), with per-date coordinates ``sensor``, ``platform``, ``orbit`` (relative orbit),
   ``orbit_direction``, ``relative_orbit``, ``polarisation``, ``product_id`` and
   ``coverage``. The output folder then opens in ``workbench serve`` as a dataset and
   ``workbench predict`` takes it as it is.

Authentication comes from the environment only (never the command line):
``STAC_API_TOKEN`` (a bearer token sent to the STAC API), ``EARTHDATA_TOKEN`` (OPERA asset
reads), ``PC_SDK_SUBSCRIPTION_KEY`` (Planetary Computer, through the ``planetary-computer``
package), and GDAL's own ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
``AWS_S3_ENDPOINT`` for ``s3://`` assets (Copernicus Data Space).

Examples
--------
>>> import tempfile, pathlib, datetime
>>> import numpy as np
>>> from affine import Affine
>>> from workbench.ingest.local_catalogue import Scene, write_catalogue
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> scenes = [Scene(id=f"S1A_{d}", datetime=datetime.datetime(2019, 4, d, 7, 12),
...                 crs="EPSG:32633", transform=Affine(20, 0, 500000, 0, -20, 8760000),
...                 bands={"vv": np.full((64, 64), 0.1, np.float32)}) for d in (12, 24)]
>>> catalogue = write_catalogue(tmp / "cat", scenes)
>>> result = build_stack(str(catalogue), tmp / "out", aoi="15.01,78.90,15.05,78.91",
...                      datetime="2019-04-01/2019-04-30", progress=False)
>>> result.path.name, len(result.dates), result.crs
('aoi.zarr', 2, 'EPSG:32633')
>>> from workbench.data.stack import open_stack
>>> float(open_stack(result.path).sigma0_db.max())      # 10·log10(0.1)
-10.0
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time as _time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import ConfigError, DataError
from workbench.ingest.aoi import AOI, parse_aoi
from workbench.ingest.profiles import SCALES, CollectionProfile, profile_for, scale_from_metadata

__all__ = [
    "build_stack",
    "search_items",
    "parse_datetime_range",
    "parse_orbit",
    "auto_crs",
    "StackResult",
    "SkippedDate",
    "MAX_ITEMS",
]

MAX_ITEMS = 5000
"""The most items one search returns; a longer list means the AOI or dates are too wide."""
PASS_WINDOW_S = 600.0
"""Items of one platform and orbit less than this many seconds apart are one acquisition."""
POLARISATIONS = ("HH", "VV", "HV", "VH")
MIN_GRID_PX = 16
_LOG = Callable[[str], None]


# ------------------------------------------------------------------------------ options
def parse_datetime_range(text: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``START/END`` (dates or ISO times, UTC) → (start, end); a date-only END is inclusive.

    >>> parse_datetime_range("2019-01-01/2019-12-31")
    (Timestamp('2019-01-01 00:00:00'), Timestamp('2019-12-31 23:59:59.999999'))
    >>> parse_datetime_range("2019-12-31/2019-01-01")
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: variable '--datetime' is '2019-12-31/2019-01-01': it ends (2019-01-01) before it starts (2019-12-31) (expected START/END with START before END, e.g. 2019-01-01/2019-12-31)
    """
    expected = "START/END with START before END, e.g. 2019-01-01/2019-12-31"
    parts = str(text).split("/")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise ConfigError(f"is {text!r}", variable="--datetime", expected=expected)
    stamps = []
    for part in parts:
        try:
            stamp = pd.Timestamp(part.strip())
        except ValueError:
            raise ConfigError(
                f"is {text!r}: {part!r} is not a date", variable="--datetime", expected=expected
            ) from None
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        stamps.append(stamp)
    start, end = stamps
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", parts[1].strip()):
        end = end + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    if end < start:
        raise ConfigError(
            f"is {text!r}: it ends ({parts[1].strip()}) before it starts ({parts[0].strip()})",
            variable="--datetime",
            expected=expected,
        )
    return start, end


def parse_orbit(text: str | int | None) -> str | int | None:
    """``ascending`` / ``descending`` / a relative orbit number → the filter (None: any).

    >>> parse_orbit("Ascending"), parse_orbit("110"), parse_orbit(None)
    ('ascending', 110, None)
    """
    if text is None or str(text).strip() == "":
        return None
    value = str(text).strip().lower()
    if value in ("ascending", "descending"):
        return value
    if value.isdigit() and 1 <= int(value) <= 175:
        return int(value)
    raise ConfigError(
        f"is {text!r}",
        variable="--orbit",
        expected="ascending, descending or a relative orbit number 1..175",
    )


def auto_crs(lon: float, lat: float) -> str:
    """The metric CRS of a stack centred at (lon, lat): its UTM zone where UTM is defined
    (80° S to 84° N), else polar stereographic (EPSG:3413 north, EPSG:3031 south).

    >>> auto_crs(12.2, 78.9), auto_crs(-68.0, -67.5), auto_crs(-40.0, 85.0)
    ('EPSG:32633', 'EPSG:32719', 'EPSG:3413')
    """
    if lat > 84.0:
        return "EPSG:3413"
    if lat < -80.0:
        return "EPSG:3031"
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    # the Norway and Svalbard exceptions of the UTM grid
    if 56.0 <= lat < 64.0 and 3.0 <= lon < 12.0:
        zone = 32
    if 72.0 <= lat <= 84.0 and lon >= 0.0:
        for lo, hi, z in ((0, 9, 31), (9, 21, 33), (21, 33, 35), (33, 42, 37)):
            if lo <= lon < hi:
                zone = z
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


# ------------------------------------------------------------------------------ search
def _is_url(source: str) -> bool:
    return bool(re.match(r"^https?://", str(source)))


def _item_time(item: Any) -> pd.Timestamp:
    when = item.datetime or item.common_metadata.start_datetime
    stamp = pd.Timestamp(when)
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp


def _bbox_text(items: Sequence[Any]) -> str:
    boxes = np.array([i.bbox for i in items if i.bbox])
    if not len(boxes):
        return "unknown"
    return (
        f"{boxes[:, 0].min():.4f},{boxes[:, 1].min():.4f},"
        f"{boxes[:, 2].max():.4f},{boxes[:, 3].max():.4f}"
    )


def _span_text(items: Sequence[Any]) -> str:
    times = sorted(_item_time(i) for i in items)
    return f"{times[0]:%Y-%m-%d}..{times[-1]:%Y-%m-%d}"


def _read_static(path: Path) -> list[Any]:
    """Every item of a static catalogue/collection, an ItemCollection or one item file."""
    import pystac

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise DataError(
            f"cannot be read as STAC JSON ({err})",
            path=path,
            expected="a STAC catalog.json, collection.json or an ItemCollection "
            "(.json), or a STAC API URL",
        ) from None
    kind = data.get("type") if isinstance(data, dict) else None
    try:
        if kind == "FeatureCollection":
            items = list(pystac.ItemCollection.from_dict(data, preserve_dict=False))
        elif kind == "Feature":
            items = [pystac.Item.from_dict(data)]
        elif kind in ("Catalog", "Collection"):
            stac = pystac.read_file(str(path))
            items = list(stac.get_items(recursive=True))
        else:
            raise DataError(
                f"is a JSON file of type {kind!r}",
                path=path,
                expected="a STAC Catalog, Collection, Item or ItemCollection",
            )
    except pystac.STACError as err:
        raise DataError(
            f"is not valid STAC ({err})",
            path=path,
            expected="a STAC catalog, collection or ItemCollection",
        ) from None
    for item in items:  # relative asset hrefs of items without a self link: relative to the file
        if item.get_self_href() is None:
            for asset in item.assets.values():
                if not re.match(r"^[a-z][a-z0-9+.-]*://", asset.href) and not os.path.isabs(
                    asset.href
                ):
                    asset.href = str((path.parent / asset.href).resolve())
    return items


def _pc_modifier(url: str) -> Callable[[Any], Any] | None:
    if "planetarycomputer" not in url:
        return None
    try:
        import planetary_computer
    except ImportError:
        raise ConfigError(
            "is a Planetary Computer API, whose assets must be signed",
            variable="SOURCE",
            expected="the planetary-computer package (pip install planetary-computer); "
            "it reads PC_SDK_SUBSCRIPTION_KEY from the environment",
        ) from None
    return planetary_computer.sign_inplace


def _open_api(url: str) -> Any:
    from pystac_client import Client

    token = os.environ.get("STAC_API_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        return Client.open(url, headers=headers, modifier=_pc_modifier(url))
    except ConfigError:
        raise
    except Exception as err:  # noqa: BLE001 - requests/pystac-client raise many kinds
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(
            f"cannot be opened as a STAC API or catalogue ({first[:300]})",
            path=url,
            expected="a reachable STAC API URL (authentication from STAC_API_TOKEN)",
        ) from err


def _filter(
    items: Sequence[Any],
    aoi: AOI,
    start: pd.Timestamp,
    end: pd.Timestamp,
    collection: str | None,
    where: str,
) -> list[Any]:
    """The items of ``collection`` in the date range that touch the AOI, with an error that
    says which of the three removed everything."""
    from shapely.geometry import shape

    if not items:
        raise DataError("holds no items", path=where, expected="a catalogue with Sentinel-1 items")
    if collection:
        present = sorted({str(i.collection_id) for i in items})
        items = [i for i in items if i.collection_id == collection]
        if not items:
            raise DataError(
                f"has no items of collection {collection!r} (its collections: {present})",
                path=where,
                expected="--collection one of those",
            )
    in_range = [i for i in items if start <= _item_time(i) <= end]
    if not in_range:
        raise DataError(
            f"has no items between {start:%Y-%m-%d} and {end:%Y-%m-%d}: the search "
            f"is empty (its items span {_span_text(items)})",
            path=where,
            expected="--datetime within the items' dates",
        )
    touching = [i for i in in_range if i.geometry and shape(i.geometry).intersects(aoi.geometry)]
    if not touching:
        raise DataError(
            f"the AOI {aoi.text} lies outside all {len(in_range)} items of "
            f"{start:%Y-%m-%d}..{end:%Y-%m-%d} (they cover "
            f"{_bbox_text(in_range)} as W,S,E,N)",
            path=where,
            expected="an AOI inside the catalogue's items",
        )
    return touching


def search_items(
    source: str, aoi: AOI, start: pd.Timestamp, end: pd.Timestamp, *, collection: str | None = None
) -> list[Any]:
    """The STAC items of ``source`` (API URL or static file) for the AOI and dates.

    An empty result is a :class:`~workbench.errors.DataError` that says why: no items of
    that collection, none in the date range (with the span there is), or none over the AOI
    (with the area the items of those dates cover).
    """
    from shapely.geometry import mapping

    if not _is_url(source):
        path = Path(source).expanduser()
        if not path.exists():
            raise DataError(
                "does not exist",
                path=path,
                expected="a STAC API URL (https://…) or a static catalogue file",
            )
        if path.is_dir():
            path = next(
                (path / n for n in ("catalog.json", "collection.json") if (path / n).is_file()),
                path,
            )
            if path.is_dir():
                raise DataError(
                    "holds no catalog.json or collection.json",
                    path=path,
                    expected="a static STAC catalogue",
                )
        return _filter(_read_static(path), aoi, start, end, collection, str(path))

    from pystac_client import ConformanceClasses

    client = _open_api(source)
    if not client.conforms_to(ConformanceClasses.ITEM_SEARCH):  # a static catalogue online
        return _filter(list(client.get_items(recursive=True)), aoi, start, end, collection, source)
    dt = f"{start.isoformat()}Z/{end.isoformat()}Z"
    collections = [collection] if collection else None
    try:
        items = list(
            client.search(
                collections=collections,
                intersects=mapping(aoi.geometry),
                datetime=dt,
                max_items=MAX_ITEMS + 1,
            ).items()
        )
        if len(items) > MAX_ITEMS:
            raise DataError(
                f"holds more than {MAX_ITEMS} items for this AOI and dates",
                path=source,
                expected="a shorter --datetime, a smaller --aoi or a --collection",
            )
        if items:
            return items
        # empty: find out why, with two small searches
        in_range = list(client.search(collections=collections, datetime=dt, max_items=200).items())
        anywhere = in_range or list(client.search(collections=collections, max_items=200).items())
    except DataError:
        raise
    except Exception as err:  # noqa: BLE001 - pystac-client APIError, requests errors
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(
            f"search failed ({first[:300]})",
            path=source,
            expected="a STAC API that answers item searches",
        ) from None
    what = f"collection {collection!r}" if collection else "any collection"
    if not anywhere:
        raise DataError(
            f"returned no items of {what}: the search is empty",
            path=source,
            expected="--collection naming a collection of this API",
        )
    if not in_range:
        raise DataError(
            f"has no items of {what} between {start:%Y-%m-%d} and {end:%Y-%m-%d}: "
            f"the search is empty (items found span {_span_text(anywhere)})",
            path=source,
            expected="--datetime within the items' dates",
        )
    raise DataError(
        f"the AOI {aoi.text} lies outside all items of {what} in "
        f"{start:%Y-%m-%d}..{end:%Y-%m-%d} (they cover {_bbox_text(in_range)} as "
        f"W,S,E,N)",
        path=source,
        expected="an AOI inside the catalogue's items",
    )


# ------------------------------------------------------------------------------ selection
def _pol_of_asset(key: str, href: str) -> str | None:
    """The polarisation an asset holds by its key (``vv``, ``VV``, ``0_VV``) or file name
    (``…_VV.tif``), else None."""
    for pol in POLARISATIONS:
        if (
            key.upper() == pol
            or key.upper().endswith("_" + pol)
            or re.search(rf"[_-]{pol}\.tiff?$", href, flags=re.IGNORECASE)
        ):
            return pol
    return None


def _polarisations(item: Any) -> list[str]:
    """``sar:polarizations`` of an item, else the polarisations its assets hold."""
    pols = item.properties.get("sar:polarizations")
    if pols:
        return [str(p).upper() for p in pols]
    return sorted({p for k, a in item.assets.items() if (p := _pol_of_asset(k, a.href))})


def _choose_polarisation(
    items: Sequence[Any], wanted: str | None, note: _LOG
) -> tuple[str, list[Any]]:
    counts: dict[str, int] = {}
    for item in items:
        for p in _polarisations(item):
            counts[p] = counts.get(p, 0) + 1
    summary = ", ".join(f"{p}: {n} items" for p, n in sorted(counts.items()))
    if wanted:
        pol = wanted.upper()
        if pol not in POLARISATIONS:
            raise ConfigError(
                f"is {wanted!r}",
                variable="--polarisation",
                expected=f"one of {', '.join(POLARISATIONS)}",
            )
        keep = [i for i in items if pol in _polarisations(i)]
        if not keep:
            raise DataError(
                f"no item has polarisation {pol} ({summary or 'none declared'})",
                variable="--polarisation",
                expected="a polarisation the items have",
            )
        if len(keep) < len(items):
            note(
                f"left out {len(items) - len(keep)} of {len(items)} items without {pol} ({summary})"
            )
        return pol, keep
    common = set(POLARISATIONS)
    for item in items:
        common &= set(_polarisations(item))
    for pol in ("HH", "VV", "HV", "VH"):  # co-polarised first: the brighter, less noisy channel
        if pol in common:
            return pol, list(items)
    raise DataError(
        f"come in mixed polarisations with none common to all ({summary or 'none declared'})",
        variable="items",
        expected="--polarisation HH|VV|HV|VH to pick one (items without it are left out)",
    )


def _filter_orbit(items: Sequence[Any], orbit: str | int | None, note: _LOG) -> list[Any]:
    if orbit is None:
        return list(items)
    key = "sat:orbit_state" if isinstance(orbit, str) else "sat:relative_orbit"
    keep = [i for i in items if str(i.properties.get(key, "")).lower() == str(orbit)]
    if not keep:
        found = sorted({str(i.properties.get(key)) for i in items})
        raise DataError(
            f"no item has {key} = {orbit} (the items have {found})",
            variable="--orbit",
            expected="an orbit the items have",
        )
    if len(keep) < len(items):
        note(f"left out {len(items) - len(keep)} of {len(items)} items not of orbit {orbit}")
    return keep


def _asset_key(
    items: Sequence[Any], profile: CollectionProfile, pol: str, asset: str | None
) -> str:
    """The one asset key of ``pol`` (or ``asset``) that every item has."""
    if asset is not None:
        for item in items:
            if asset not in item.assets:
                raise DataError(
                    f"has no asset {asset!r} (its assets: {sorted(item.assets)})",
                    path=item.id,
                    variable="--asset",
                    expected="an asset key every item has",
                )
        return asset
    keys = set()
    for item in items:
        preferred = profile.asset_key(pol) if profile.asset_case else None
        if preferred in item.assets:
            keys.add(preferred)
            continue
        match = [k for k, a in item.assets.items() if _pol_of_asset(k, a.href) == pol]
        if not match:
            raise DataError(
                f"has no asset for polarisation {pol} (its assets: {sorted(item.assets)})",
                path=item.id,
                variable="asset",
                expected=f"an asset keyed {pol.lower()!r} or {pol!r}, or --asset KEY",
            )
        keys.add(match[0])
    if len(keys) > 1:
        raise DataError(
            f"name the {pol} asset differently: {sorted(keys)}",
            variable="items",
            expected="one asset key for all items; pick one with --asset KEY",
        )
    return keys.pop()


def _value_scale(
    items: Sequence[Any], key: str, profile: CollectionProfile, scale: str | None
) -> str:
    """The value scale of the asset: metadata, profile and ``--scale`` must agree."""
    declared = {scale_from_metadata(i.assets[key]) for i in items} - {None}
    if len(declared) > 1:
        raise DataError(
            f"declare different value scales for asset {key!r}: {sorted(declared)}",
            variable="items",
            expected="one scale (all linear power, or all amplitude…)",
        )
    said = declared.pop() if declared else None
    if said and profile.scale and said != profile.scale:
        raise DataError(
            f"asset {key!r} declares {SCALES[said]}, but {profile.name} holds "
            f"{SCALES[profile.scale]}",
            variable="asset",
            expected="consistent metadata; check the catalogue",
        )
    known = said or profile.scale
    if scale is not None:
        if scale not in SCALES:
            raise ConfigError(
                f"is {scale!r}",
                variable="--scale",
                expected=f"one of {', '.join(s for s in SCALES if s != 'dn')}",
            )
        if known and scale != known:
            raise ConfigError(
                f"is {scale!r}, but the items say their values are {SCALES[known]}",
                variable="--scale",
                expected=f"--scale {known} or none: amplitude "
                "and power differ by a square (3 dB per dB)",
            )
        known = scale
    if known is None:
        raise DataError(
            f"asset {key!r} does not say whether its values are linear power, "
            "amplitude or dB (no raster:bands unit, no hint in title/description)",
            variable="asset",
            expected="--scale power|amplitude|dB",
        )
    if known == "dn":
        raise DataError(
            f"asset {key!r} holds {SCALES['dn']}",
            variable="asset",
            expected="calibrated, terrain-corrected backscatter, or workbench stack "
            "--safe for a raw SAFE product",
        )
    return known


# ------------------------------------------------------------------------------ grouping
@dataclass
class _Acquisition:
    time: pd.Timestamp
    items: list[Any]
    platform: str
    orbit_direction: str
    relative_orbit: int
    coverage: float = 1.0

    @property
    def sensor(self) -> str:
        m = re.search(r"1([A-D])\s*$", self.platform.upper())
        return f"S1{m.group(1)}" if m else self.platform

    @property
    def product_id(self) -> str:
        ids = []
        for item in self.items:
            p = item.properties
            ids.append(
                str(
                    p.get("s1:product_identifier")
                    or p.get("s1:product_id")
                    or p.get("opera:product_id")
                    or item.id
                )
            )
        return "+".join(ids)


def _group(items: Sequence[Any]) -> list[_Acquisition]:
    """Items of one platform, orbit direction and relative orbit within PASS_WINDOW_S → one date."""
    out: list[_Acquisition] = []
    for item in sorted(items, key=lambda i: (_item_time(i), i.id)):
        p = item.properties
        key = (
            str(p.get("platform") or ""),
            str(p.get("sat:orbit_state") or ""),
            int(p.get("sat:relative_orbit") or -1),
        )
        t = _item_time(item)
        for acq in reversed(out):
            if (acq.platform, acq.orbit_direction, acq.relative_orbit) == key and (
                t - acq.time
            ).total_seconds() <= PASS_WINDOW_S:
                acq.items.append(item)
                break
        else:
            out.append(_Acquisition(t, [item], *key))
    return out


def _footprint_coverage(acqs: Sequence[_Acquisition], aoi_metric: Any, crs: str) -> None:
    """Each acquisition's share of the AOI covered by its items' footprints (in ``crs``)."""
    import pyproj
    import shapely
    from shapely.geometry import shape

    to_crs = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform
    for acq in acqs:
        union = shapely.union_all(
            [shapely.transform(shape(i.geometry), to_crs, interleaved=False) for i in acq.items]
        )
        acq.coverage = float(union.intersection(aoi_metric).area / aoi_metric.area)


# ------------------------------------------------------------------------------ result
@dataclass
class SkippedDate:
    """A date left out of the stack and why."""

    time: pd.Timestamp
    coverage: float
    reason: str

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M} ({self.reason})"


@dataclass
class StackResult:
    """What :func:`build_stack` wrote."""

    path: Path
    dates: list[pd.Timestamp]
    skipped: list[SkippedDate]
    crs: str
    resolution: float
    shape: tuple[int, int]
    polarisation: str
    collection: str
    seconds: float
    notes: list[str] = field(default_factory=list)

    def report(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"wrote {self.path}: {len(self.dates)} dates "
            f"({self.dates[0]:%Y-%m-%d}..{self.dates[-1]:%Y-%m-%d}), {self.polarisation} "
            f"from {self.collection}, {self.shape[0]} x {self.shape[1]} px at "
            f"{self.resolution:g} m in {self.crs}, in {self.seconds:.1f} s"
        ]
        if self.skipped:
            lines.append(
                f"skipped {len(self.skipped)} dates below the minimum coverage of the AOI:"
            )
            lines += [f"  {s}" for s in self.skipped]
        lines += self.notes
        return "\n".join(lines)


# ------------------------------------------------------------------------------ loading
def _resolution(
    items: Sequence[Any], key: str, profile: CollectionProfile, resolution: float | None
) -> float:
    """``--resolution``, else the finest native pixel size of the items' assets (metres, from
    ``proj:transform`` or ``raster:bands[].spatial_resolution``), else the collection's, else
    20 m."""
    if resolution is not None:
        if not (resolution > 0 and np.isfinite(resolution)):
            raise ConfigError(
                f"is {resolution!r}",
                variable="--resolution",
                expected="a pixel size in metres > 0, e.g. --resolution 20",
            )
        return float(resolution)
    native = []
    for item in items:
        asset = item.assets[key]
        transform = asset.extra_fields.get("proj:transform") or item.properties.get(
            "proj:transform"
        )
        bands = asset.extra_fields.get("raster:bands") or [{}]
        size = abs(float(transform[0])) if transform else bands[0].get("spatial_resolution")
        if size and float(size) >= 0.5:  # metres; degrees of a geographic grid are left out
            native.append(float(size))
    if native:
        return min(native)
    return profile.resolution or 20.0


def _geobox(aoi: AOI, crs: str, resolution: float) -> Any:
    from odc.geo.geobox import GeoBox
    from odc.geo.geom import Geometry

    from workbench.data.stack import MAX_PIXELS_PER_DATE

    area = Geometry(aoi.geometry, crs="EPSG:4326").to_crs(crs)
    gbox = GeoBox.from_geopolygon(area, resolution=resolution)
    h, w = gbox.shape
    if h * w > MAX_PIXELS_PER_DATE:
        raise ConfigError(
            f"makes a grid of {h:,} x {w:,} px at {resolution:g} m",
            variable="--aoi",
            expected=f"at most {MAX_PIXELS_PER_DATE:,} px per date: a smaller AOI or a "
            "coarser --resolution",
        )
    if min(h, w) < MIN_GRID_PX:
        raise ConfigError(
            f"makes a grid of only {h} x {w} px at {resolution:g} m",
            variable="--aoi",
            expected=f"at least {MIN_GRID_PX} px each way (models need it): a larger "
            "AOI or a finer --resolution",
        )
    return gbox


def _configure_reads(profile: CollectionProfile) -> None:
    """GDAL options for asset reads, from the environment (never the command line)."""
    import odc.stac

    token = os.environ.get("EARTHDATA_TOKEN")
    if profile.name.startswith("OPERA") and token:
        odc.stac.configure_rio(GDAL_HTTP_HEADERS=f"Authorization: Bearer {token}")
    else:
        odc.stac.configure_rio()


def _convert(raw: Any, scale: str) -> Any:
    """Linear power / amplitude / dB → dB (float32); non-positive linear values → NaN."""
    if scale == "dB":
        return raw.where(np.isfinite(raw)).astype(np.float32)
    factor = 10.0 if scale == "power" else 20.0
    return (factor * np.log10(raw.where(raw > 0))).astype(np.float32)


def _load_lazy(
    acqs: Sequence[_Acquisition], key: str, gbox: Any, profile: CollectionProfile, source: str
) -> Any:
    """The asset ``key`` of every acquisition on ``gbox`` as a lazy (time, y, x) float32
    DataArray (odc-stac, Dask), the items of one acquisition mosaicked, nodata as NaN."""
    import odc.stac

    ordered = [i for a in acqs for i in a.items]
    group_of = [g for g, a in enumerate(acqs) for _ in a.items]
    _configure_reads(profile)
    try:
        loaded = odc.stac.load(
            ordered,
            bands=[key],
            geobox=gbox,
            groupby=lambda _item, _parsed, idx: group_of[idx],
            chunks={"x": 1024, "y": 1024},
            resampling="bilinear",
            dtype="float32",
            fail_on_error=True,
        )
    except Exception as err:  # noqa: BLE001 - odc-stac raises ValueError/KeyError/RasterioIOError
        raise DataError(
            f"cannot be loaded by odc-stac ({type(err).__name__}: {err})",
            path=source,
            variable=key,
            expected="readable raster assets with a CRS",
        ) from None
    raw = loaded[key].astype(np.float32)
    nodata = loaded[key].attrs.get("nodata", profile.nodata)
    if nodata is not None and np.isfinite(nodata):
        raw = raw.where(raw != nodata)
    times = np.array([a.time.to_datetime64() for a in acqs], dtype="datetime64[ns]")
    return raw.assign_coords(time=times).drop_vars(
        [c for c in raw.coords if c not in ("time", "y", "x")]
    )


def _statistics(raw: Any, db: Any, aoi_metric: Any, gbox: Any) -> dict[str, Any]:
    """Lazy per-date reductions: the valid share of the AOI and the value-scale counts."""
    import xarray as xr
    from rasterio.features import geometry_mask

    inside = ~geometry_mask([aoi_metric], out_shape=gbox.shape, transform=gbox.affine)
    n_inside = max(int(inside.sum()), 1)
    return {
        "coverage": (np.isfinite(db) & xr.DataArray(inside, dims=("y", "x"))).sum(("y", "x"))
        / n_inside,
        "valid": np.isfinite(raw).sum(("y", "x")),
        "negative": (raw < 0).sum(("y", "x")),
        "high": (raw > 1.5).sum(("y", "x")),
        "low": ((raw >= 0) & (raw < 1.5)).sum(("y", "x")),
    }


def _check_scale(stats: dict[str, np.ndarray], scale: str, key: str) -> None:
    """Refuse values that contradict their declared scale (dB read as power, DN as power…)."""
    valid = int(stats["valid"].sum())
    if valid == 0:
        return
    negative, high, low = (int(stats[k].sum()) for k in ("negative", "high", "low"))
    if scale in ("power", "amplitude"):
        if 2 * negative > valid:
            raise DataError(
                f"asset {key!r} was read as {SCALES[scale]}, but "
                f"{100 * negative / valid:.0f}% of its values are negative: they look "
                "like dB",
                variable="asset",
                expected="--scale dB if they are dB",
            )
        if 2 * high > valid:
            raise DataError(
                f"asset {key!r} was read as {SCALES[scale]}, but "
                f"{100 * high / valid:.0f}% of its values exceed 1.5 (+1.8 dB for power):"
                " they look like uncalibrated digital numbers",
                variable="asset",
                expected="calibrated backscatter (σ0/γ0 below about 1 in linear units)",
            )
    elif negative == 0 and 2 * low > valid:
        raise DataError(
            f"asset {key!r} was read as dB, but all its values are >= 0 and "
            f"{100 * low / valid:.0f}% are below 1.5: they look like linear power",
            variable="asset",
            expected="--scale power (or amplitude)",
        )


def _compute(store: Any, stats: dict[str, Any], desc: str | None, key: str) -> dict[str, Any]:
    """Write the lazy stack and compute the statistics in one pass (one read of every asset),
    with a progress bar when ``desc`` is given; a failed read names the asset."""
    import dask
    import rasterio.errors

    try:
        if desc is None:
            return dask.compute(store, stats)[1]
        from tqdm.dask import TqdmCallback

        with TqdmCallback(desc=desc, file=sys.stderr):
            return dask.compute(store, stats)[1]
    except (rasterio.errors.RasterioError, OSError) as err:
        raise DataError(
            f"an asset could not be read ({err})",
            variable=key,
            expected="readable assets (check the URL, the network and the "
            "authentication variables of the collection)",
        ) from None


def build_stack(
    source: str,
    out: str | os.PathLike[str],
    *,
    aoi: str | AOI,
    datetime: str,
    collection: str | None = None,
    polarisation: str | None = None,
    orbit: str | int | None = None,
    resolution: float | None = None,
    crs: str = "auto",
    min_coverage: float = 0.8,
    where: str | None = None,
    asset: str | None = None,
    scale: str | None = None,
    name: str | None = None,
    progress: bool = True,
) -> StackResult:
    """Search ``source``, load the AOI's dates onto one grid and write ``out/<name>.zarr``.

    See the module docstring for the steps. ``name`` defaults to the AOI's (the outline's
    name with ``--where``, the file stem, else ``aoi``). Nothing is written when an error is
    raised; the output replaces an older stack of the same name only once complete.
    """
    import xarray as xr

    from workbench._io import ensure_dir
    from workbench.data.stack import SIGMA0, validate_stack, write_stack

    started = _time.perf_counter()
    log: _LOG = (
        (lambda msg: print(msg, file=sys.stderr, flush=True)) if progress else (lambda msg: None)
    )
    if not 0.0 <= float(min_coverage) <= 1.0:
        raise ConfigError(
            f"is {min_coverage!r}",
            variable="--min-coverage",
            expected="a fraction of the AOI between 0 and 1, e.g. 0.8",
        )
    area = parse_aoi(aoi, where=where) if isinstance(aoi, str) else aoi
    start, end = parse_datetime_range(datetime)
    orbit_filter = parse_orbit(orbit)
    target_crs = auto_crs(*area.centre) if str(crs).lower() == "auto" else str(crs)
    try:
        from workbench.geo.crs import as_crs, is_metric

        if not is_metric(as_crs(target_crs, variable="--crs")):
            raise ConfigError(
                f"is {crs!r}, not a projected CRS in metres",
                variable="--crs",
                expected="auto, or a metric CRS such as EPSG:32633 or EPSG:3413",
            )
    except DataError as err:
        raise ConfigError(
            f"is {crs!r}, not a CRS",
            variable="--crs",
            expected="auto, or an EPSG code such as EPSG:32633",
        ) from err
    out = Path(out)
    if out.suffix.lower() == ".zarr":
        raise ConfigError(
            "ends in .zarr",
            path=out,
            variable="--out",
            expected="a folder; the stack is written into it as NAME.zarr",
        )
    stem = (re.sub(r"[^\w-]+", "_", name).strip("_") if name else "") or area.name

    log(
        f"searching {source} for {area.text}, {start:%Y-%m-%d}..{end:%Y-%m-%d}"
        + (f", collection {collection}" if collection else "")
    )
    items = search_items(source, area, start, end, collection=collection)
    collections = sorted({str(i.collection_id or "(none)") for i in items})
    if len(collections) > 1:
        raise DataError(
            f"the search found items of several collections: {collections}",
            path=source,
            expected="--collection ID to pick one",
        )
    collection_id = collections[0]
    profile = profile_for(collection_id)
    if profile.refuse:
        raise DataError(
            f"collection {collection_id!r}: {profile.refuse}", path=source, variable="--collection"
        )
    notes: list[str] = []
    items = _filter_orbit(items, orbit_filter, notes.append)
    pol, items = _choose_polarisation(items, polarisation, notes.append)
    key = _asset_key(items, profile, pol, asset)
    value_scale = _value_scale(items, key, profile, scale)
    res = _resolution(items, key, profile, resolution)
    gbox = _geobox(area, target_crs, res)

    import pyproj
    import shapely

    to_crs = pyproj.Transformer.from_crs("EPSG:4326", target_crs, always_xy=True).transform
    aoi_metric = shapely.transform(area.geometry, to_crs, interleaved=False)
    acqs = _group(items)
    _footprint_coverage(acqs, aoi_metric, target_crs)
    skipped = [
        SkippedDate(a.time, a.coverage, f"footprints cover {100 * a.coverage:.0f}% of the AOI")
        for a in acqs
        if a.coverage < min_coverage
    ]
    acqs = [a for a in acqs if a.coverage >= min_coverage]
    if not acqs:
        raise DataError(
            f"every one of the {len(skipped)} dates covers less than "
            f"{min_coverage:.0%} of the AOI: " + "; ".join(map(str, skipped)),
            variable="--min-coverage",
            expected="a lower --min-coverage or another AOI",
        )
    log(
        f"found {len(items)} items of {collection_id} ({profile.name} profile): "
        f"{len(acqs) + len(skipped)} dates, {len(skipped)} skipped from their footprints; loading "
        f"{len(acqs)} dates of {pol} ({value_scale}) onto {gbox.shape[0]} x {gbox.shape[1]} px "
        f"at {res:g} m in {target_crs}"
    )

    raw = _load_lazy(acqs, key, gbox, profile, source)
    db = _convert(raw, value_scale)
    stats = _statistics(raw, db, aoi_metric, gbox)
    lazy = xr.Dataset({SIGMA0: db}).rio.write_crs(target_crs)
    target_dir = ensure_dir(out)
    tmp = target_dir / f".{stem}.loading-{os.getpid()}.zarr"
    try:
        store = lazy.drop_encoding().to_zarr(
            tmp, mode="w", compute=False, zarr_format=2, consolidated=True
        )
        found = _compute(store, stats, f"reading {len(acqs)} dates" if progress else None, key)
        found = {k: np.asarray(v) for k, v in found.items()}
        _check_scale(found, value_scale, key)
        coverage = found["coverage"]
        keep = coverage >= min_coverage
        for a, c, k in zip(acqs, coverage, keep, strict=False):
            if not k:
                skipped.append(
                    SkippedDate(a.time, float(c), f"valid pixels cover {100 * c:.0f}% of the AOI")
                )
        skipped.sort(key=lambda s: s.time)
        if not keep.any():
            raise DataError(
                f"every date's valid pixels cover less than {min_coverage:.0%} of the AOI: "
                + "; ".join(map(str, skipped)),
                variable="--min-coverage",
                expected="a lower --min-coverage or another AOI",
            )
        kept = [a for a, k in zip(acqs, keep, strict=False) if k]
        ds = xr.open_zarr(tmp, consolidated=True).isel(time=np.flatnonzero(keep))
        per_date = {
            "sensor": [a.sensor for a in kept],
            "platform": [a.platform for a in kept],
            "orbit": [str(a.relative_orbit) if a.relative_orbit >= 0 else "" for a in kept],
            "orbit_direction": [a.orbit_direction for a in kept],
            "relative_orbit": [a.relative_orbit for a in kept],
            "polarisation": [pol] * len(kept),
            "product_id": [a.product_id for a in kept],
            "coverage": [round(float(c), 4) for c in coverage[keep]],
        }
        ds = ds.assign_coords({k: ("time", np.asarray(v)) for k, v in per_date.items()})
        ds[SIGMA0].attrs = {
            "units": "dB",
            "quantity": profile.quantity or "backscatter",
            "polarisation": pol,
            "long_name": f"{pol} backscatter in dB",
        }
        ds.attrs = {
            "glacier": stem,
            "source": str(source),
            "collection": collection_id,
            "profile": profile.name,
            "value_scale": value_scale,
            "asset": key,
            "aoi": area.text,
            "aoi_wkt": area.geometry.wkt,
            "min_coverage": float(min_coverage),
            "skipped_dates": json.dumps(
                [
                    {
                        "time": f"{s.time:%Y-%m-%dT%H:%M:%S}",
                        "coverage": round(s.coverage, 4),
                        "reason": s.reason,
                    }
                    for s in skipped
                ]
            ),
            "created_by": "workbench stack",
        }
        ds = ds.rio.write_crs(target_crs)
        ds = validate_stack(ds, path=target_dir / f"{stem}.zarr")
        path = write_stack(ds, target_dir / f"{stem}.zarr")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return StackResult(
        path=path,
        dates=[a.time for a in kept],
        skipped=skipped,
        crs=target_crs,
        resolution=res,
        shape=tuple(gbox.shape),
        polarisation=pol,
        collection=collection_id,
        seconds=_time.perf_counter() - started,
        notes=notes,
    )
