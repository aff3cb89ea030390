"""What the Sentinel-1 collections glaciologists use hold: one small profile per collection.

A :class:`CollectionProfile` says which asset holds a polarisation, what its pixel values
are (linear power, amplitude, dB or uncalibrated digital numbers), the native pixel size,
the nodata value, and which environment variables authenticate reads. ``workbench stack``
looks the profile up by the items' collection id (:func:`profile_for`); any other
collection gets :data:`GENERIC`, which reads the value scale from the asset's own metadata
(``raster:bands[].unit``, its title/description) or from ``--scale``.

========================  =======================  ====================  =====================
collection                asset for VV             values                 reads need
========================  =======================  ====================  =====================
OPERA RTC-S1 (ASF/CMR)    ``VV``                   γ0, linear power, 30 m  ``EARTHDATA_TOKEN``
                                                   UTM / polar stereo.
Planetary Computer        ``vv``                   γ0, linear power, 10 m  SAS signing
``sentinel-1-rtc``                                 UTM, nodata -32768      (``planetary-computer``)
``sentinel-1-grd`` (PC,   ``vv``                   amplitude DN in radar   refused: use
Copernicus Data Space)                             geometry                ``--safe``
========================  =======================  ====================  =====================

OPERA's static layers (incidence angles, layover/shadow mask, RTC area normalisation
factor) are a separate collection (``OPERA_L2_RTC-S1-STATIC_V1``); ``workbench stack``
reads only the backscatter.

Examples
--------
>>> profile_for("sentinel-1-rtc").asset_key("VV")
'vv'
>>> profile_for("OPERA_L2_RTC-S1_V1").scale, profile_for("OPERA_L2_RTC-S1_V1").asset_key("HH")
('power', 'HH')
>>> profile_for("my-own-rtc") is GENERIC
True
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CollectionProfile",
    "PROFILES",
    "GENERIC",
    "profile_for",
    "scale_from_metadata",
    "SCALES",
]

Scale = Literal["power", "amplitude", "dB", "dn"]
SCALES: dict[str, str] = {
    "power": "linear power (σ0 or γ0 intensity, dB = 10·log10(v))",
    "amplitude": "linear amplitude, the square root of power (dB = 20·log10(v))",
    "dB": "decibels already",
    "dn": "uncalibrated digital numbers (Level-1 GRD amplitude)",
}


@dataclass(frozen=True)
class CollectionProfile:
    """The conventions of one collection (see the module docstring for the table)."""

    name: str
    collections: tuple[str, ...]
    asset_case: Literal["lower", "upper"] | None
    scale: Scale | None
    quantity: str | None = None
    resolution: float | None = None
    nodata: float | None = None
    auth: str = ""
    refuse: str | None = None
    """Why this collection cannot become a scene stack, and what to use instead."""

    def asset_key(self, polarisation: str) -> str:
        """The asset key of ``polarisation`` in this collection (``"VV"`` → ``"vv"``)."""
        if self.asset_case == "lower":
            return polarisation.lower()
        return polarisation.upper()


OPERA_RTC = CollectionProfile(
    name="OPERA RTC-S1",
    collections=("OPERA_L2_RTC-S1_V1", "opera-s1-rtc-v1", "OPERA_L2_RTC-S1_PROVISIONAL_V0"),
    asset_case="upper",
    scale="power",
    quantity="gamma0",
    resolution=30.0,
    nodata=math.nan,
    auth="EARTHDATA_TOKEN (an Earthdata Login bearer token) is sent with every asset read; "
    "alternatively ~/.netrc with urs.earthdata.nasa.gov credentials (GDAL reads it)",
)
PC_RTC = CollectionProfile(
    name="Planetary Computer sentinel-1-rtc",
    collections=("sentinel-1-rtc",),
    asset_case="lower",
    scale="power",
    quantity="gamma0",
    resolution=10.0,
    nodata=-32768.0,
    auth="asset URLs are signed with the planetary-computer package (pip install "
    "planetary-computer); it reads PC_SDK_SUBSCRIPTION_KEY from the environment",
)
S1_GRD = CollectionProfile(
    name="Sentinel-1 Level-1 GRD",
    collections=("sentinel-1-grd", "SENTINEL-1", "sentinel-1-grd-cog"),
    asset_case="lower",
    scale="dn",
    quantity=None,
    auth="Copernicus Data Space S3: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
    "AWS_S3_ENDPOINT=eodata.dataspace.copernicus.eu (GDAL reads them)",
    refuse="Level-1 GRD assets hold uncalibrated amplitude digital numbers in radar geometry "
    "(not on a map grid); stack a terrain-corrected collection instead (Planetary "
    "Computer sentinel-1-rtc, OPERA_L2_RTC-S1_V1), or download the SAFE product and run "
    "workbench stack --safe PRODUCT.SAFE --dem DEM.tif --out DIR",
)
GENERIC = CollectionProfile(name="generic", collections=(), asset_case=None, scale=None)
PROFILES: tuple[CollectionProfile, ...] = (OPERA_RTC, PC_RTC, S1_GRD)


def profile_for(collection: str | None) -> CollectionProfile:
    """The profile of a collection id (case-insensitive), :data:`GENERIC` when unknown."""
    if collection:
        for profile in PROFILES:
            if collection.lower() in (c.lower() for c in profile.collections):
                return profile
    return GENERIC


_UNIT_WORDS: tuple[tuple[str, Scale], ...] = (
    (r"\b(db|decibels?)\b", "dB"),
    (r"\b(dn|digital numbers?)\b", "dn"),
    (r"\bamplitudes?\b", "amplitude"),
    (r"\b(power|intensity|linear)\b", "power"),
)


def scale_from_metadata(asset: Any) -> Scale | None:
    """The value scale an asset declares: ``raster:bands[0].unit``, else its title and
    description (``"linear power"``, ``"amplitude"``, ``"dB"``…); None when it says nothing.

    >>> import pystac
    >>> scale_from_metadata(pystac.Asset("x.tif", extra_fields={"raster:bands": [{"unit": "dB"}]}))
    'dB'
    >>> scale_from_metadata(pystac.Asset("x.tif", title="VV amplitude")), scale_from_metadata(pystac.Asset("x.tif"))
    ('amplitude', None)
    """
    bands = asset.extra_fields.get("raster:bands") or []
    texts = [str(bands[0].get("unit", ""))] if bands and isinstance(bands[0], dict) else []
    texts += [asset.title or "", asset.description or ""]
    for text in texts:
        low = text.strip().lower()
        for pattern, scale in _UNIT_WORDS:
            if low and re.search(pattern, low):
                return scale
    return None
