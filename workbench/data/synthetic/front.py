"""The calving front of a synthetic glacier: its position over time (seasonal cycle, trend,
calving events), the zone masks of each date and the front line walked bank to bank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import ndimage

from workbench.data.encoding import GLACIER, OCEAN
from workbench.data.synthetic._numerics import (
    _S4,
    _S8,
    _S_EVENTS,
    _S_FRONT,
    _any4,
    _largest,
    _noise1d,
    _rng,
    _shift,
    _smoothstep,
)
from workbench.data.synthetic.params import GlacierParams
from workbench.data.synthetic.seasons import _season_front, _wetness
from workbench.data.synthetic.terrain import _Static
from workbench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    pass


_EMBAYMENT_RELAX_DAYS = 40.0


def _front_rule(zones: np.ndarray) -> np.ndarray:
    """CaFFe front rule: ocean pixels that are 4-neighbours of glacier pixels."""
    return (zones == OCEAN) & _any4(zones == GLACIER)


@dataclass
class _FrontModel:
    profiles: list[np.ndarray]  # f(n) on the n grid, per date
    position: np.ndarray  # width-averaged position (m, from the box edge)
    events: pd.DataFrame


def _front_model(p: GlacierParams, st: _Static, seed: int, dates: pd.DatetimeIndex) -> _FrontModel:
    px = st.px
    ngrid = st.ngrid
    dn = ngrid[1] - ngrid[0]
    m = ngrid.size
    t0 = dates[0]
    n_days = int((dates[-1] - t0).days) + 1
    days = pd.date_range(t0, periods=n_days, freq="D")
    doy = days.day_of_year.to_numpy().astype(float)

    # calving events, drawn day by day from one stream per calendar year
    rate = 0.25 + _wetness(np.arange(1, 366))
    rate = rate / rate.mean() * p.calving_events_per_yr / 365.25
    half = 0.5 * (st.half_left + st.half_right)
    ev_days, ev_depth, ev_width, ev_centre = [], [], [], []
    years = days.year.to_numpy()
    for year in np.unique(years):
        idx = np.nonzero(years == year)[0]
        r = _rng(seed, _S_EVENTS, int(year))
        u = r.random(366)
        depth = p.calving_size_m * r.gamma(2.0, 0.5, 366)
        width = r.uniform(250.0, 1000.0, 366)
        centre = r.uniform(-0.75, 0.75, 366) * half
        for i in idx:
            d = int(doy[i]) - 1
            if u[d] < rate[min(d, 364)]:
                ev_days.append(i)
                ev_depth.append(depth[d])
                ev_width.append(width[d])
                ev_centre.append(centre[d])
    inbox = np.abs(ngrid) <= st.box_half
    bumps, deltas = [], []
    for c, w, d in zip(ev_centre, ev_width, ev_depth, strict=False):
        b = d * np.exp(-0.5 * ((ngrid - c) / (0.4 * w)) ** 2) ** 1.5
        bumps.append(b)
        deltas.append(float(b[inbox].mean()))
    mean_delta = p.calving_size_m * 0.4 * 625.0 * math.sqrt(2 * math.pi / 1.5) / (2 * st.box_half)
    mean_delta = min(mean_delta, p.calving_size_m)

    # continuous part: flow-driven advance minus seasonal calving, plus the trend
    t_years = (days - t0).days.to_numpy() / 365.25
    g = _season_front(doy)
    p_cont = (
        p.front_offset_m
        + (p.trend_m_per_yr + p.calving_events_per_yr * mean_delta) * t_years
        + p.seasonal_amplitude_m * (g - g[0])
    )

    # persistent shape: bulge and tilt across the fjord
    u = np.clip(ngrid / max(half, 1.0), -1.5, 1.5)
    shape0 = p.front_bulge_m * (1.0 - u**2) + 0.5 * p.front_tilt_m * u

    bands = ((1300.0, 0.6, 0.9), (380.0, 0.45, 0.6), (120.0, 0.3, 0.25))
    state = None
    profiles, positions = [], []
    ev_days_a = np.asarray(ev_days, dtype=int)
    for i_date, date in enumerate(dates):
        r = _rng(seed, _S_FRONT, i_date)
        innov = []
        for wavelength, amp, _rho in bands:
            att = float(_smoothstep((wavelength / px - 2.5) / 2.0))
            innov.append(amp * att * _noise1d(r, m, dn, wavelength, 0.45))
        if state is None:
            state = innov
        else:
            state = [
                rho * s_ + math.sqrt(1 - rho * rho) * e
                for (_w, _a, rho), s_, e in zip(bands, state, innov, strict=False)
            ]
        noise = p.front_roughness_m * np.sum(state, axis=0)
        d_idx = int((date - t0).days)
        f = p_cont[d_idx] + shape0 + noise
        for k in np.nonzero(ev_days_a <= d_idx)[0]:
            age = d_idx - ev_days_a[k]
            decay = math.exp(-age / _EMBAYMENT_RELAX_DAYS)
            f = f - (deltas[k] + (bumps[k] - deltas[k]) * decay)
        profiles.append(f)
        positions.append(float(f[inbox].mean()) - st.box_s0)
    events = pd.DataFrame(
        {
            "date": pd.DatetimeIndex([days[i] for i in ev_days]),
            "depth_m": np.asarray(ev_depth, float),
            "width_m": np.asarray(ev_width, float),
            "retreat_m": np.asarray(deltas, float),
        }
    )
    return _FrontModel(profiles=profiles, position=np.asarray(positions), events=events)


def _masks(st: _Static, profile: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Glacier and ocean masks for one front profile, cleaned so the CaFFe front is one chain."""
    f_pix = np.interp(st.n, st.ngrid, profile).astype(np.float32)
    water = st.trunk
    glacier = (water & (st.s < f_pix)) | st.trib
    for _ in range(30):
        # remove one-pixel ocean inlets and one-pixel glacier spikes
        for _ in range(4):
            ocean = water & ~glacier
            g_lr = _shift(glacier, 0, 1) & _shift(glacier, 0, -1)
            g_ud = _shift(glacier, 1, 0) & _shift(glacier, -1, 0)
            o_lr = _shift(ocean, 0, 1) & _shift(ocean, 0, -1)
            o_ud = _shift(ocean, 1, 0) & _shift(ocean, -1, 0)
            fill = ocean & (g_lr | g_ud)
            cut = glacier & water & (o_lr | o_ud)
            if not (fill.any() or cut.any()):
                break
            glacier = (glacier | fill) & ~cut
        ocean = water & ~glacier
        # one ocean: pockets cut off by the glacier become glacier (CaFFe does the same)
        main_ocean, _, nlab = _largest(ocean, _S4)
        if nlab > 1:
            glacier = glacier | (ocean & ~main_ocean)
            ocean = main_ocean
        # glacier pieces apart from the main one that touch the ocean calve off
        main_glacier, lab, nlab = _largest(glacier, _S4)
        if nlab > 1:
            touching = np.unique(lab[_any4(ocean) & glacier & ~main_glacier])
            stray = np.isin(lab, touching[touching > 0])
            glacier = glacier & ~stray
            ocean = ocean | (stray & water)
        front = ocean & _any4(glacier)
        lab, nf = ndimage.label(front, structure=_S8)
        if nf <= 1:
            return glacier, ocean, front
        counts = np.bincount(lab.ravel())
        counts[0] = 0
        small = (lab > 0) & (lab != counts.argmax())
        # calve the ice that makes the extra contact
        erode = glacier & water & _any4(small)
        if not erode.any():
            break
        glacier = glacier & ~erode
    raise ConfigError(
        "makes the glacier touch the ocean in several places (the front has "
        "retreated past a tributary or out of the fjord)",
        variable="years",
        expected="a shorter series or a smaller trend_m_per_yr",
    )


def _order_front(glacier: np.ndarray, ocean: np.ndarray, front: np.ndarray) -> np.ndarray:
    """Front pixels (row, col) in order along the glacier boundary (marching squares)."""
    from skimage.measure import find_contours

    ny, nx = glacier.shape
    pad = np.pad(glacier, 1).astype(np.float64)
    runs: list[np.ndarray] = []
    for c in find_contours(pad, 0.5, fully_connected="low", positive_orientation="high"):
        if len(c) > 1 and np.allclose(c[0], c[-1]):
            c = c[:-1]
        r, q = c[:, 0], c[:, 1]
        frac_r = np.abs(r - np.round(r)) > 0.25
        r0 = np.where(frac_r, np.floor(r), np.round(r)).astype(int)
        q0 = np.where(frac_r, np.round(q), np.floor(q)).astype(int)
        r1 = np.where(frac_r, r0 + 1, r0)
        q1 = np.where(frac_r, q0, q0 + 1)
        g0 = pad[r0, q0] > 0.5
        rr = np.where(g0, r1, r0) - 1
        qq = np.where(g0, q1, q0) - 1
        ok = (rr >= 0) & (rr < ny) & (qq >= 0) & (qq < nx)
        flag = np.zeros(len(c), bool)
        flag[ok] = ocean[rr[ok], qq[ok]]
        if not flag.any():
            continue
        if not flag.all():
            # start right after the longest gap, so runs come in boundary order
            gaps = ~flag
            k = int(np.argmax(gaps))  # some gap point
            rot = np.roll(np.arange(len(c)), -k)
            g_rot = gaps[rot]
            # find longest gap run in rotated order
            edges = np.diff(np.concatenate([[0], g_rot.astype(int), [0]]))
            starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
            j = int(np.argmax(ends - starts))
            rot = np.roll(rot, -ends[j])
            rr, qq, flag = rr[rot], qq[rot], flag[rot]
        pts = np.stack([rr[flag], qq[flag]], axis=1)
        runs.append(pts)
    if not runs:
        return np.zeros((0, 2), int)
    pts = np.concatenate(runs, axis=0)
    keep = np.ones(len(pts), bool)
    keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)
    pts = pts[keep]
    # drop later repeats (cannot happen after cleaning, kept for safety)
    _, first = np.unique(pts[:, 0] * nx + pts[:, 1], return_index=True)
    pts = pts[np.sort(first)]
    return pts
