"""A Sentinel-1 SAFE product on disk: what it holds, checked before any pixel is read.

:func:`open_safe` reads ``manifest.safe`` (with xarray-sentinel's own manifest parser) and
checks, per polarisation, that the four files the workbench needs are where the manifest
says: the product annotation, the calibration and noise annotations, and the measurement
GeoTIFF. Missing files, a polarisation the product does not have, and products the
workbench cannot process (SLC, old products without range noise vectors) are refused here
with a :class:`~workbench.errors.DataError` naming the file and what was expected.

Examples
--------
>>> parse_footprint("40.876698,14.925448 41.281048,11.865704 42.780445,12.189661")
[(14.925448, 40.876698), (11.865704, 41.281048), (12.189661, 42.780445)]
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np

from workbench.errors import ConfigError, DataError, FileFormatError

__all__ = [
    "SAR_EXTRA",
    "SafeFiles",
    "SafeProduct",
    "open_safe",
    "parse_footprint",
    "require_sar_libraries",
]

SAR_EXTRA = "s1"
"""The optional extra that brings xarray-sentinel and sarsen (with pystac and odc-stac)."""

_EXPECTED_SAFE = (
    "a Sentinel-1 product folder (NAME.SAFE) holding manifest.safe, annotation/, "
    "annotation/calibration/ and measurement/, as downloaded and unzipped"
)
_NAMESPACES = {"safe": "http://www.esa.int/safe/sentinel-1.0", "gml": "http://www.opengis.net/gml"}
_ROLES = {  # manifest repID -> role of the file
    "s1Level1ProductSchema": "annotation",
    "s1Level1CalibrationSchema": "calibration",
    "s1Level1NoiseSchema": "noise",
    "s1Level1MeasurementSchema": "measurement",
}
_PREFERRED = ("VV", "HH", "VH", "HV")


def require_sar_libraries() -> None:
    """Import xarray-sentinel and sarsen, or raise a ConfigError naming the extra to install.

    >>> require_sar_libraries()  # both are installed here
    """
    missing = []
    for module, package in (("xarray_sentinel", "xarray-sentinel"), ("sarsen", "sarsen")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise ConfigError(
            f"reading Sentinel-1 SAFE products needs {' and '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed",
            variable="--safe",
            expected=f"pip install 'glacier-workbench[{SAR_EXTRA}]' (or pip install "
            "xarray-sentinel sarsen)",
        )


@dataclass(frozen=True)
class SafeFiles:
    """The four files of one polarisation (absolute paths; they may not exist)."""

    annotation: Path | None
    calibration: Path | None
    noise: Path | None
    measurement: Path | None

    def missing(self) -> list[tuple[str, Path | None]]:
        """(role, path) of every file that is not listed in the manifest or absent on disk."""
        return [
            (role, path) for role, path in vars(self).items() if path is None or not path.is_file()
        ]


@dataclass(frozen=True)
class SafeProduct:
    """A checked Sentinel-1 SAFE product.

    ``attrs`` are xarray-sentinel's manifest attributes (``number``, ``mode``, ``pass``,
    ``relative_orbit_number``, ``product_type``, ``start_time``, ...); ``files`` maps each
    polarisation listed in the manifest to its :class:`SafeFiles`; ``footprint`` is the
    manifest's footprint as (lon, lat) pairs.
    """

    path: Path
    attrs: dict[str, Any]
    files: dict[str, SafeFiles]
    swath: str
    footprint: list[tuple[float, float]] = field(default_factory=list)

    @property
    def manifest(self) -> Path:
        return self.path / "manifest.safe"

    @property
    def product_id(self) -> str:
        """The product name, e.g. ``S1B_IW_GRDH_1SDV_20211223T051122_..._5371``."""
        return self.path.name.removesuffix(".SAFE").removesuffix(".safe")

    @property
    def sensor(self) -> str:
        """``S1A``, ``S1B``, ``S1C``, ..."""
        return f"S1{self.attrs['number']}"

    @property
    def start(self) -> np.datetime64:
        """The first line's time (UTC) as datetime64[ns]."""
        return np.datetime64(self.attrs["start_time"], "ns")

    @property
    def complete(self) -> list[str]:
        """Polarisations whose four files are all present."""
        return [pol for pol, files in self.files.items() if not files.missing()]

    def group(self, polarisation: str) -> str:
        """The xarray-sentinel group of a polarisation, e.g. ``IW/VV``."""
        return f"{self.swath}/{polarisation}"

    def choose(self, polarisation: str | None) -> str:
        """Check ``polarisation`` (default: VV, else HH, else the first complete one).

        Raises
        ------
        DataError
            The polarisation is not in the product, or one of its files is missing.
        """
        listed = list(self.files)
        if polarisation is None:
            complete = self.complete
            if not complete:
                first = (sorted(listed, key=_preference) or ["VV"])[0]
                self._raise_missing(first)
            return sorted(complete, key=_preference)[0]
        pol = polarisation.upper()
        if pol not in self.files:
            raise DataError(
                f"has no {pol} polarisation (manifest.safe lists {', '.join(listed) or 'none'})",
                path=self.path,
                variable="polarisation",
                expected=f"one of {', '.join(self.complete) or listed}",
            )
        if self.files[pol].missing():
            self._raise_missing(pol)
        return pol

    def _raise_missing(self, pol: str) -> None:
        missing = self.files[pol].missing() if pol in self.files else []
        names = "; ".join(
            f"{role} {path.relative_to(self.path) if path else '(not listed)'}"
            for role, path in missing
        )
        other = [p for p in self.complete if p != pol]
        raise DataError(
            f"is incomplete: the {pol} files are missing: {names}",
            path=self.path,
            variable="polarisation",
            expected="the annotation, calibration, noise and measurement files listed in "
            "manifest.safe (re-download or unzip the product again)"
            + (f", or polarisation {' or '.join(other)} which is complete" if other else ""),
        )


def _preference(pol: str) -> int:
    return _PREFERRED.index(pol) if pol in _PREFERRED else len(_PREFERRED)


def parse_footprint(text: str) -> list[tuple[float, float]]:
    """Turn the manifest's ``lat,lon lat,lon ...`` footprint into (lon, lat) pairs."""
    pairs = []
    for token in text.split():
        lat, lon = (float(v) for v in token.split(","))
        pairs.append((lon, lat))
    return pairs


def open_safe(safe: str | os.PathLike[str]) -> SafeProduct:
    """Read and check the manifest of a Sentinel-1 SAFE product (no pixels are read).

    Parameters
    ----------
    safe
        The ``.SAFE`` folder (or its ``manifest.safe``).

    Raises
    ------
    DataError
        The folder or its manifest is missing, the product is not a Sentinel-1 GRD.
    FileFormatError
        ``manifest.safe`` cannot be parsed.
    """
    from xarray_sentinel import esa_safe

    path = Path(safe)
    if path.name == "manifest.safe":
        path = path.parent
    if not path.exists():
        raise DataError("does not exist", path=path, expected=_EXPECTED_SAFE)
    if not path.is_dir():
        raise DataError(
            "is not a folder (a zipped product must be unzipped first)",
            path=path,
            expected=_EXPECTED_SAFE,
        )
    manifest = path / "manifest.safe"
    if not manifest.is_file():
        raise DataError("has no manifest.safe", path=path, expected=_EXPECTED_SAFE)
    try:
        attrs, listed = esa_safe.parse_manifest_sentinel1(str(manifest))
        root = ElementTree.parse(manifest).getroot()
    except (ElementTree.ParseError, ValueError, KeyError, OSError) as exc:
        raise FileFormatError(
            f"cannot be read as a Sentinel-1 manifest ({exc})",
            path=manifest,
            expected="the manifest.safe of a Sentinel-1 product",
        ) from exc
    if attrs["product_type"] != "GRD":
        raise DataError(
            f"is a {attrs['product_type']} product",
            path=path,
            variable="product type",
            expected="a Level-1 GRD product (SLC bursts and sub-swaths are not merged by the "
            "workbench; process SLC to GRD or RTC first, e.g. with ESA SNAP or ISCE3)",
        )
    files: dict[str, dict[str, Path]] = {}
    swaths = set()
    for href, (rep_id, _prefix, swath, pol, _date) in listed.items():
        role = _ROLES.get(rep_id)
        if role is None:
            continue
        files.setdefault(pol.upper(), {})[role] = (path / os.path.normpath(href)).absolute()
        swaths.add(swath.upper())
    for pol in attrs.get("transmitter_receiver_polarisations", []):
        files.setdefault(pol.upper(), {})
    if len(swaths) > 1:
        raise DataError(
            f"holds several swaths {sorted(swaths)}",
            path=path,
            expected="a GRD product with one swath group (IW, EW or SM)",
        )
    footprint_text = root.findtext(".//safe:footPrint/gml:coordinates", namespaces=_NAMESPACES)
    footprint = parse_footprint(footprint_text) if footprint_text else []
    return SafeProduct(
        path=path.absolute(),
        attrs=attrs,
        swath=(swaths.pop() if swaths else attrs["mode"]),
        files={
            pol: SafeFiles(**{role: roles.get(role) for role in _ROLES.values()})
            for pol, roles in files.items()
        },
        footprint=footprint,
    )
