"""Sentinel-1-like backscatter of a synthetic glacier: Gamma speckle (:func:`speckle`), the
weather of each date and the mean sigma0 of rock, ice, water, mélange and sea ice.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import ndimage

from workbench.data.synthetic._numerics import (
    _S_ICEBERG,
    _S_WEATHER,
    _field2d,
    _noise1d,
    _rng,
    _smoothstep,
    _streak_field,
)
from workbench.data.synthetic.params import GlacierParams
from workbench.data.synthetic.seasons import _melange, _sea_ice, _wetness
from workbench.data.synthetic.terrain import _Static
from workbench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["speckle"]


def speckle(
    mean_linear: np.ndarray | float,
    enl: float,
    rng: np.random.Generator,
    size: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Multiply a mean intensity by fully developed, multi-look Gamma speckle.

    ``intensity = mean_linear × Gamma(shape=enl, scale=1/enl)``: unit-mean speckle whose
    coefficient of variation (std/mean of the intensity over a homogeneous area) is
    ``1/sqrt(enl)``. Sentinel-1 IW GRDH has an ENL of about 4.4.

    Parameters
    ----------
    mean_linear
        Mean backscatter in linear units (array or scalar), ≥ 0.
    enl
        Equivalent number of looks, > 0.
    rng
        The random generator.
    size
        Output shape when ``mean_linear`` is a scalar (default: its shape).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = speckle(0.01, 4.4, rng, size=(400, 400))
    >>> round(float(x.std() / x.mean() * np.sqrt(4.4)), 2)
    1.0
    """
    if not (enl > 0 and math.isfinite(enl)):
        raise ConfigError(f"is {enl!r}", variable="enl", expected="a positive number of looks")
    mean_linear = np.asarray(mean_linear, dtype=np.float32)
    shape = mean_linear.shape if size is None else size
    g = rng.standard_gamma(enl, size=shape, dtype=np.float32)
    return mean_linear * (g / np.float32(enl))


def _ocean_db(wind: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Empirical C-band VV ocean backscatter (dB) from wind speed and incidence angle."""
    return np.maximum(
        -17.0 + 20.0 * np.log10(np.maximum(wind, 0.3) / 5.0) - 0.25 * (theta - 35.0), -32.0
    ).astype(np.float32)


def _date_weather(seed: int, i: int, doy: int, p: GlacierParams) -> dict[str, float]:
    r = _rng(seed, _S_WEATHER, i)
    wet = float(_wetness(doy))
    wet = float(
        np.clip(
            wet * (1.0 + 0.2 * r.standard_normal()) + (0.05 * r.random() if wet > 0 else 0), 0, 1
        )
    )
    if wet == 0.0 and r.random() < 0.03:  # rare winter rain-on-snow event
        wet = 0.5
    winter = float(doy < 120 or doy > 290)
    katabatic = bool(r.random() < (0.35 if winter else 0.08))
    wind = float(p.wind_mean_m_s * r.weibull(2.0) / 0.886)
    return {
        "wet": wet,
        "wind": wind,
        "katabatic": katabatic,
        "wind_dir": float(r.uniform(0, 360)),
        "gain": float(0.25 * r.standard_normal()),
    }


def _sigma0_mean(
    p: GlacierParams,
    st: _Static,
    seed: int,
    i: int,
    date: pd.Timestamp,
    t_years: float,
    glacier: np.ndarray,
    ocean: np.ndarray,
    f_pix: np.ndarray,
    weather: dict[str, Any],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Mean backscatter (linear) for one date, and the ocean sub-classes (for coherence)."""
    doy = date.day_of_year
    ny, nx = st.shape
    px = st.px
    theta = st.theta_deg
    wet = weather["wet"]
    r = _rng(seed, _S_WEATHER, i, 1)

    # ---- glacier ---------------------------------------------------------------------
    dist_g = np.clip(f_pix - st.s, 0.0, None)
    zg = st.floor
    firn = _smoothstep((zg - p.ela_m) / 150.0)
    snowline = p.ela_m * float(_smoothstep((doy - 170.0) / 70.0)) if 150 <= doy <= 270 else 0.0
    bare = 1.0 - _smoothstep((zg - snowline) / 60.0) if snowline > 0 else np.zeros_like(zg)
    base = p.ice_db + (p.firn_db - p.ice_db) * firn
    darkening = p.melt_darkening_db * wet * (1.0 - 0.55 * bare)
    # late-summer bare ice (after the wet snow is gone): slightly darker than winter ice
    late = float(_smoothstep((doy - 200.0) / 40.0) * (1 - _smoothstep((doy - 285.0) / 20.0)))
    base = base - 2.0 * late * bare
    adv = p.ice_velocity_m_per_yr * t_years
    # individual crevasses (tens of metres apart) are not resolved at 20 m: a crevasse
    # field is a brighter, rougher zone with transverse banding a few hundred metres apart
    lam = 420.0
    vis = float(_smoothstep((lam / px - 2.0) / 2.0))
    crest = (0.5 + 0.5 * np.sin(2 * np.pi * (st.s - adv) / lam + st.crev_phase)) ** 3
    envelope = np.exp(-dist_g / 1400.0) + 0.35 * st.crev_margin * np.exp(-dist_g / 5000.0)
    crev = (
        p.crevasse_db * vis * crest * envelope * (0.35 + 0.65 * st.crev_patch) * (1.0 - 0.4 * wet)
    )
    # the terminus zone is rough overall
    rough_front = 3.5 * np.exp(-dist_g / 1000.0) * (1.0 - 0.5 * wet) + 1.2 * st.ice_var
    streaks = p.streak_db * st.streak * (1.0 - 0.3 * wet) * (1.0 - 0.6 * np.exp(-dist_g / 1400.0))
    g_db = (
        base
        - darkening
        + streaks
        + crev
        + rough_front
        + 1.5 * st.moraine
        + st.interior_db
        - 0.12 * (theta - p.incidence_deg)
    )

    # ---- rock -------------------------------------------------------------------------
    r_db = (
        p.rock_db
        + st.terrain_db
        + 1.3 * st.rock_tex
        - 0.55 * p.melt_darkening_db * wet * st.snow_rock
        - 0.1 * (theta - p.incidence_deg)
    )
    # layover: the foreslope and the ground sharing its slant range add up (bright, but
    # the relief still shows through)
    r_db = np.where(
        st.layover,
        np.maximum(r_db, p.rock_db + 4.5 + 0.4 * st.terrain_db + 1.5 * st.rock_tex),
        r_db,
    )
    r_db = np.where(st.shadow, -40.0, r_db)

    # ---- water: wind, sheltering, streaks --------------------------------------------
    wind = weather["wind"]
    wfield = _field2d(r, st.shape, px, beta=3.5, l_max_m=6000.0, l_min_m=4 * px, pad=0.1)
    if weather["katabatic"]:
        factor = st.katabatic * (1.0 + 0.2 * wfield)
        wind = max(wind, 7.0)
        wdir = p.flow_azimuth_deg
    else:
        factor = st.shelter * (1.0 + 0.25 * wfield)
        wdir = weather["wind_dir"]
    w = wind * np.clip(factor, 0.05, None)
    o_db = _ocean_db(w, theta)
    streaks = _streak_field(r, st.shape, px, wdir, 1500.0, 180.0)
    o_db = o_db + 0.9 * float(_smoothstep((wind - 2.0) / 4.0)) * streaks

    # ---- mélange, icebergs, sea ice -----------------------------------------------------
    dist_o = np.clip(st.s - f_pix, 0.0, None)
    mel_len = p.melange_length_m * float(_melange(doy))
    dn_ = st.ngrid[1] - st.ngrid[0]
    edge_prof = (
        0.12 * _noise1d(r, st.ngrid.size, dn_, 4000.0, 0.6)
        + 0.035 * _noise1d(r, st.ngrid.size, dn_, 900.0, 0.6)
        + 0.012 * _noise1d(r, st.ngrid.size, dn_, 250.0, 0.6)
    )
    edge = mel_len * (1.0 + np.interp(st.n, st.ngrid, edge_prof))
    melange = ocean & (dist_o < edge) if mel_len > 0 else np.zeros_like(ocean)
    seaice = np.zeros_like(ocean)
    if p.sea_ice and _sea_ice(doy) > 0.05:
        ice_len = (0.5 + 0.6 * float(_sea_ice(doy))) * (st.s_mouth - p.front_offset_m + 1500.0)
        ice_edge = ice_len * (
            1.0
            + 0.15
            * np.interp(
                st.n, st.ngrid, _noise1d(r, st.ngrid.size, st.ngrid[1] - st.ngrid[0], 2500.0, 0.6)
            )
        )
        seaice = ocean & (dist_o < ice_edge) & ~melange
    if melange.any():
        # granular ice: floes and bergy bits, denser and bigger close to the terminus
        grain = ndimage.gaussian_filter(
            r.standard_normal(st.shape).astype(np.float32), max(0.6, 15.0 / px)
        )
        grain /= grain.std() + 1e-6
        floes = ndimage.gaussian_filter(
            r.standard_normal(st.shape).astype(np.float32), max(0.8, 50.0 / px)
        )
        floes /= floes.std() + 1e-6
        density = np.clip(1.0 - dist_o / np.maximum(edge, 1.0), 0.0, 1.0) ** 0.7
        m_db = (
            -15.0
            + 5.0 * density
            + 1.2 * grain
            + 1.0 * floes
            + 5.0 * (grain > 1.9 - 0.9 * density)
            + 3.0 * (floes > 1.6 - 0.6 * density)
        )
        o_db = np.where(melange, m_db, o_db)
    if seaice.any():
        si_db = -19.0 + 1.8 * st.seaice_tex
        o_db = np.where(seaice, si_db, o_db)
    # icebergs: bright point targets, most in summer and after calving events
    ri = _rng(seed, _S_ICEBERG, i)
    n_berg = int(ri.poisson(40.0 * (0.3 + float(_wetness(doy))) * (nx * ny * px * px / 1.0e8)))
    if n_berg:
        bs = f_pix.mean() + ri.exponential(1200.0, n_berg)
        bn = ri.uniform(-1.0, 1.0, n_berg) * (0.5 * (st.half_left + st.half_right))
        fe, fn = st.flow_unit
        re_, rn = st.right_unit
        cx, cy = st.centre_xy
        bx = cx + bs * fe + bn * re_
        by = cy + bs * fn + bn * rn
        col = np.floor((bx - (st.x[0] - px / 2)) / px).astype(int)
        row = np.floor(((st.y[0] + px / 2) - by) / px).astype(int)
        okb = (row >= 0) & (row < ny) & (col >= 0) & (col < nx)
        row, col = row[okb], col[okb]
        okb = ocean[row, col]
        row, col = row[okb], col[okb]
        o_db = o_db.copy()
        o_db[row, col] = np.maximum(o_db[row, col], ri.uniform(-6.0, 2.0, row.size))

    # ---- combine -------------------------------------------------------------------------
    db = np.where(glacier, g_db, np.where(ocean, o_db, r_db)) + weather["gain"]
    lin = np.power(np.float32(10.0), (db / 10.0).astype(np.float32)) + np.float32(
        10.0 ** (p.nesz_db / 10.0)
    )
    return lin.astype(np.float32), {"melange": melange, "seaice": seaice, "dist_g": dist_g}
