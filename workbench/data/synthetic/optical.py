"""The Sentinel-2-like optical image of a synthetic glacier: band list, surface spectra and
the cloud-free scene of 10 August.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import ndimage

from workbench.data.synthetic._numerics import _S_OPTICAL, _field2d, _rng, _smoothstep
from workbench.data.synthetic.params import GlacierParams
from workbench.data.synthetic.seasons import _wetness
from workbench.data.synthetic.terrain import _hidden_and_folded, _Static

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["S2_BANDS", "DEFAULT_OPTICAL_BANDS"]


S2_BANDS: tuple[str, ...] = (
    "B1",
    "B2",
    "B3",
    "B4",
    "B5",
    "B6",
    "B7",
    "B8",
    "B8A",
    "B9",
    "B10",
    "B11",
    "B12",
)
"""The 13 Sentinel-2 MSI L1C bands, in product order."""

_DERIVED_BANDS: tuple[str, ...] = ("NDSI", "NDWI", "NDVI")

DEFAULT_OPTICAL_BANDS: tuple[str, ...] = S2_BANDS + ("NDSI",)
"""Default optical channels: the 13 S2 bands + NDSI = 14 channels (the SSL4SAR count)."""

_S2_RESOLUTION_M = {
    "B1": 60,
    "B2": 10,
    "B3": 10,
    "B4": 10,
    "B5": 20,
    "B6": 20,
    "B7": 20,
    "B8": 10,
    "B8A": 20,
    "B9": 60,
    "B10": 60,
    "B11": 20,
    "B12": 20,
}

# Reflectance (0..1, TOA-like) of the surfaces mixed per pixel, one row per S2 band.
# columns: snow, bare ice, debris, rock, clear water, turbid (sediment-laden) water
_SURFACES = ("snow", "ice", "debris", "rock", "water", "turbid")
_SPECTRA = np.array(
    [
        # snow  ice   debris rock  water  turbid
        [0.93, 0.58, 0.12, 0.10, 0.100, 0.130],  # B1  443 nm
        [0.93, 0.55, 0.13, 0.10, 0.080, 0.130],  # B2  490 nm
        [0.92, 0.50, 0.14, 0.12, 0.060, 0.160],  # B3  560 nm
        [0.90, 0.42, 0.16, 0.14, 0.030, 0.120],  # B4  665 nm
        [0.89, 0.36, 0.17, 0.16, 0.020, 0.080],  # B5  705 nm
        [0.87, 0.31, 0.18, 0.18, 0.015, 0.050],  # B6  740 nm
        [0.85, 0.28, 0.19, 0.19, 0.012, 0.040],  # B7  783 nm
        [0.83, 0.25, 0.20, 0.21, 0.010, 0.035],  # B8  842 nm
        [0.81, 0.23, 0.21, 0.22, 0.010, 0.030],  # B8A 865 nm
        [0.60, 0.14, 0.16, 0.17, 0.005, 0.015],  # B9  945 nm (water vapour)
        [0.02, 0.01, 0.01, 0.01, 0.002, 0.002],  # B10 1375 nm (cirrus)
        [0.09, 0.03, 0.24, 0.27, 0.004, 0.005],  # B11 1610 nm
        [0.06, 0.02, 0.19, 0.22, 0.003, 0.004],  # B12 2190 nm
    ],
    dtype=np.float32,
)

_OPTICAL_DOY = 222  # 10 August: snow-free lowlands, sun ≈ 27° above the horizon


def _optical(
    p: GlacierParams,
    st: _Static,
    seed: int,
    date: pd.Timestamp,
    glacier: np.ndarray,
    ocean: np.ndarray,
    f_pix: np.ndarray,
    sub: dict[str, np.ndarray],
    bands: Sequence[str],
) -> np.ndarray:
    r = _rng(seed, _S_OPTICAL)
    doy = _OPTICAL_DOY  # a cloud-free late-summer scene, whatever the SAR dates
    shape = st.shape
    px = st.px
    # snow cover: everything until June and from October, then a rising snow line
    melt_progress = float(_smoothstep((doy - 150.0) / 80.0)) if doy < 275 else 0.0
    snowline = 1.8 * p.ela_m * melt_progress
    dist_g = sub["dist_g"]
    zg = st.floor
    noise = _field2d(r, shape, px, beta=3.0, l_max_m=1500.0, l_min_m=3 * px)
    snow_g = _smoothstep((zg - 0.9 * snowline + 60.0 * noise) / 80.0)
    snow_r = _smoothstep((st.land_dem - snowline + 150.0 * st.aspect_north + 120.0 * noise) / 200.0)
    snow_r = np.clip(snow_r * (1.0 - 0.8 * _smoothstep((st.slope_deg - 38.0) / 15.0)), 0, 1)
    lam = 420.0
    crest = (0.5 + 0.5 * np.sin(2 * np.pi * st.s / lam + st.crev_phase)) ** 4
    crev = crest * np.exp(-dist_g / 1400.0) * (0.35 + 0.65 * st.crev_patch)
    debris_g = np.clip(0.6 * st.moraine + 0.15 * np.exp(-dist_g / 800.0) + 0.04 * st.streak, 0, 1)
    w = np.zeros((len(_SURFACES),) + shape, np.float32)
    # glacier
    gi = glacier.astype(np.float32)
    w[0] += gi * snow_g * (1 - debris_g * 0.5)
    w[1] += gi * (1 - snow_g) * (1 - debris_g) * (1.0 - 0.35 * crev)
    w[2] += gi * (1 - snow_g) * debris_g + gi * snow_g * debris_g * 0.5
    # rock (NA is rock on the ground)
    ri = (~glacier & ~ocean).astype(np.float32)
    lith = 1.0 + 0.25 * st.rock_tex
    w[0] += ri * snow_r
    w[3] += ri * (1 - snow_r) * lith
    # water: turbid meltwater plume near the terminus in summer, mélange/sea ice as ice/snow
    oi = ocean.astype(np.float32)
    dist_o = np.clip(st.s - f_pix, 0.0, None)
    plume = (
        np.exp(-dist_o / 2500.0) * float(_wetness(doy) + 0.3 * melt_progress) * (0.6 + 0.4 * noise)
    )
    plume = np.clip(plume, 0, 1)
    # (mélange and sea ice of a winter SAR date are gone by August: only icebergs remain)
    berg = (r.random(shape) < 0.01 * np.exp(-dist_o / 1500.0)).astype(np.float32)
    ice_frac = berg
    w[0] += oi * ice_frac * 0.5
    w[1] += oi * ice_frac * 0.5
    w[4] += oi * (1 - ice_frac) * (1 - plume)
    w[5] += oi * (1 - ice_frac) * plume
    refl = np.tensordot(_SPECTRA, w, axes=(1, 0))  # (13, y, x)
    # illumination: low Arctic sun from the south at S2 overpass, with cast shadows
    decl = 23.44 * math.sin(2 * math.pi * (284 + doy) / 365.0)
    elev = max(90.0 - 78.5 + decl - 1.0, 6.0)
    sun_az = 168.0
    zen = math.radians(90.0 - elev)
    gx, gy = st.dem_grad
    dh_e, dh_n = gx, -gy
    sa, ca = math.sin(math.radians(sun_az)), math.cos(math.radians(sun_az))
    # unit vector towards the sun: (e, n, up)
    se, sn, su = math.sin(zen) * sa, math.sin(zen) * ca, math.cos(zen)
    norm = np.sqrt(1.0 + gx * gx + gy * gy)
    cos_i = (-dh_e * se - dh_n * sn + su) / norm
    # cast shadows of the main relief (smoothed DEM: no shadows from pixel-scale roughness)
    smooth_dem = ndimage.gaussian_filter(st.geom_dem, max(1.0, 60.0 / px))
    shadow, _ = _hidden_and_folded(
        smooth_dem, px, (sun_az + 180.0) % 360.0, 90.0 - elev, want_layover=False
    )
    shadow = ndimage.gaussian_filter(shadow.astype(np.float32), 0.7)
    direct = np.clip(cos_i, 0.0, None) / math.cos(zen) * (1.0 - shadow)
    illum = np.clip(0.7 * direct + 0.3, 0.0, 2.0).astype(np.float32)
    refl = refl * illum[None]
    out = []
    for b in bands:
        if b in _DERIVED_BANDS:
            continue
        j = S2_BANDS.index(b)
        band = refl[j]
        res = _S2_RESOLUTION_M[b]
        if res > px:
            band = ndimage.gaussian_filter(band, 0.45 * res / px)
        band = band + 0.004 * r.standard_normal(shape).astype(np.float32)
        out.append((b, np.clip(band, 0.0, 1.6).astype(np.float32)))
    lookup = dict(out)

    def nd(a_name: str, b_name: str) -> np.ndarray:
        a = lookup.get(a_name, refl[S2_BANDS.index(a_name)])
        b_ = lookup.get(b_name, refl[S2_BANDS.index(b_name)])
        return ((a - b_) / np.maximum(a + b_, 1e-3)).astype(np.float32)

    derived = {
        "NDSI": lambda: nd("B3", "B11"),
        "NDWI": lambda: nd("B3", "B8"),
        "NDVI": lambda: nd("B8", "B4"),
    }
    return np.stack([lookup[b] if b in lookup else derived[b]() for b in bands]).astype(np.float32)
