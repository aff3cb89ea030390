"""The static world of one synthetic glacier: the DEM of the fjord and its mountains, the
glacier surface, and the radar geometry (incidence, layover, shadow).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

from workbench.data.synthetic._numerics import (
    _S4,
    _S8,
    _S_TERRAIN,
    _field2d,
    _largest,
    _lowpass1d,
    _noise1d,
    _rng,
    _smoothstep,
)
from workbench.data.synthetic.params import GlacierParams

if TYPE_CHECKING:  # pragma: no cover
    pass


_INCIDENCE_GRADIENT_DEG_PER_M = 16.0 / 250_000.0  # IW: ~30°→46° over a 250 km swath
_SURFACE_A = 4.0  # glacier surface: z = cliff + A·sqrt(distance upstream [m])


def _hidden_and_folded(
    dem: np.ndarray, px: float, azimuth_deg: float, zenith_deg: float, want_layover: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Shadow (and layover) masks for a plane wave arriving along ``azimuth_deg``.

    The DEM is resampled onto a grid whose rows run along the ground direction of
    propagation (range, for a radar); along each row a point is in shadow if an earlier
    point rises above its ray (running maximum of ``h + x·cot θ``) and in layover if its
    slant range ``x·sin θ − h·cos θ`` is not strictly increasing (active and passive layover).
    """
    ny, nx = dem.shape
    big = int(math.ceil(math.hypot(ny, nx))) + 4
    a = math.radians(azimuth_deg)
    sa, ca = math.sin(a), math.cos(a)
    k = np.arange(big, dtype=np.float32) - (big - 1) / 2.0
    rr = k[None, :]  # along propagation (pixels)
    aa = k[:, None]  # across (pixels)
    # map offset in pixels (east, north) → image (row, col)
    de = rr * sa + aa * ca
    dn = rr * ca - aa * sa
    rows = (ny - 1) / 2.0 - dn
    cols = (nx - 1) / 2.0 + de
    h = ndimage.map_coordinates(dem.astype(np.float32), [rows, cols], order=1, mode="nearest")
    th = math.radians(zenith_deg)
    x = rr * np.float32(px)
    sh = h + x / np.float32(math.tan(th))
    shadow_rot = np.maximum.accumulate(sh, axis=1) > sh + np.float32(0.5)
    layover_rot = None
    if want_layover:
        rng_ = x * np.float32(math.sin(th)) - h * np.float32(math.cos(th))
        back_min = np.minimum.accumulate(rng_[:, ::-1], axis=1)[:, ::-1]
        after = np.concatenate([back_min[:, 1:], np.full((big, 1), np.inf, np.float32)], axis=1)
        fwd_max = np.maximum.accumulate(rng_, axis=1)
        before = np.concatenate([np.full((big, 1), -np.inf, np.float32), fwd_max[:, :-1]], axis=1)
        layover_rot = (rng_ >= after) | (rng_ <= before)
    # back to the image grid
    r_img, c_img = np.mgrid[0:ny, 0:nx].astype(np.float32)
    de_i = c_img - (nx - 1) / 2.0
    dn_i = (ny - 1) / 2.0 - r_img
    r_idx = de_i * sa + dn_i * ca + (big - 1) / 2.0
    a_idx = de_i * ca - dn_i * sa + (big - 1) / 2.0
    back = lambda m: ndimage.map_coordinates(m.astype(np.float32), [a_idx, r_idx], order=1) > 0.5  # noqa: E731
    return back(shadow_rot), (back(layover_rot) if want_layover else None)


@dataclass
class _Static:
    shape: tuple[int, int]
    px: float
    x: np.ndarray
    y: np.ndarray
    s: np.ndarray  # along-flow coordinate (m, from the scene centre)
    n: np.ndarray  # across-flow coordinate from the valley centre line
    trunk: np.ndarray  # main fjord/valley interior incl. the sea (bool)
    trib: np.ndarray  # tributary valleys outside the trunk (always glacier)
    flow_n: np.ndarray  # across-flow coordinate for the streak texture
    ngrid: np.ndarray  # 1-D grid of n for the front profile
    half_left: float
    half_right: float
    box_s0: float
    box_s1: float
    box_half: float
    s_mouth: float
    land_dem: np.ndarray  # terrain height on land (m)
    geom_dem: np.ndarray  # terrain + smooth glacier surface (m), for geometry
    terrain_db: np.ndarray  # radiometric terrain effect on land (dB)
    interior_db: np.ndarray  # radiometric terrain effect of the glacier surface (dB)
    layover: np.ndarray
    shadow: np.ndarray
    na: np.ndarray  # NA zone (static)
    theta_deg: np.ndarray  # incidence angle per pixel
    rock_tex: np.ndarray
    streak: np.ndarray  # flow-parallel streaks (unit std)
    moraine: np.ndarray  # medial moraines (0..1)
    floor: np.ndarray  # valley floor / smooth glacier surface height (m)
    crev_phase: np.ndarray  # static part of the crevasse phase (rad)
    crev_patch: np.ndarray  # crevasse patchiness (0..1)
    crev_margin: np.ndarray  # marginal crevassing (0..1)
    shelter: np.ndarray  # wind sheltering factor over water
    katabatic: np.ndarray  # katabatic wind factor over water
    snow_rock: np.ndarray  # snow-cover propensity of rock (0..1)
    seaice_tex: np.ndarray
    ice_var: np.ndarray  # large-scale brightness variation of the ice (unit std)
    slope_deg: np.ndarray
    aspect_north: np.ndarray  # cos(aspect): 1 = north-facing
    dem_grad: tuple[np.ndarray, np.ndarray]
    centre_xy: tuple[float, float]
    flow_unit: tuple[float, float]
    right_unit: tuple[float, float]
    bend: Any


def _build_static(p: GlacierParams, seed: int, shape: tuple[int, int], px: float) -> _Static:
    ny, nx = shape
    rng = _rng(seed, _S_TERRAIN)
    x0 = round((p.centre_x_m - nx * px / 2.0) / px) * px
    ytop = round((p.centre_y_m + ny * px / 2.0) / px) * px
    xs = x0 + (np.arange(nx) + 0.5) * px
    ys = ytop - (np.arange(ny) + 0.5) * px
    cx, cy = x0 + nx * px / 2.0, ytop - ny * px / 2.0
    a = math.radians(p.flow_azimuth_deg)
    fe, fn = math.sin(a), math.cos(a)  # flow direction (east, north)
    re_, rn = math.cos(a), -math.sin(a)  # right bank direction
    dx = (xs - cx)[None, :].astype(np.float32)
    dy = (ys - cy)[:, None].astype(np.float32)
    s = dx * np.float32(fe) + dy * np.float32(fn)
    v = dx * np.float32(re_) + dy * np.float32(rn)

    p0 = p.front_offset_m
    box_up = 4000.0
    box_s0 = p0 - box_up
    s_bend = box_s0 - 500.0

    def bend(sv):
        return p.fjord_bend_m * np.clip((s_bend - np.asarray(sv)) / 5000.0, 0.0, None) ** 2

    n = (v - bend(s)).astype(np.float32)

    # valley walls: half-widths along s (1-D profiles), smooth irregularity per wall
    s_lo, s_hi = float(s.min()) - 2 * px, float(s.max()) + 2 * px
    ds = min(px, 20.0)
    sgrid = np.arange(s_lo, s_hi + ds, ds)
    hw0 = p.fjord_width_m / 2.0
    s_mouth = p0 + p.mouth_distance_m
    half = hw0 + 0.5 * p.fjord_widening * (sgrid - p0)
    half = np.maximum(half, 0.45 * hw0)
    flare = np.clip(sgrid - s_mouth, 0.0, None)
    half = half + flare**2 / 1200.0
    rough_l = p.wall_roughness_m * _lowpass1d(rng, sgrid.size, ds, 900.0)
    rough_r = p.wall_roughness_m * _lowpass1d(rng, sgrid.size, ds, 900.0)
    w_left = half + rough_l  # wall at n = -w_left (left bank, looking down flow)
    w_right = half + rough_r  # wall at n = +w_right
    wl = np.interp(s, sgrid, w_left).astype(np.float32)
    wr = np.interp(s, sgrid, w_right).astype(np.float32)
    d_trunk = np.maximum(n - wr, -wl - n)  # > 0 outside the valley (m)

    # coastline irregularity beyond the mouth (2-D noise fading in seaward)
    coast_noise = _field2d(rng, shape, px, beta=3.0, l_max_m=3000.0, l_min_m=2 * px)
    coast_w = _smoothstep((s - (s_mouth - 300.0)) / 1500.0).astype(np.float32)
    d_trunk = d_trunk + np.float32(350.0) * coast_w * coast_noise

    # valley floor of the trunk: the glacier surface (sea level beyond the terminus)
    cliff_l = (p.cliff_height_m / _SURFACE_A) ** 2
    floor = (_SURFACE_A * np.sqrt(np.clip(p0 + cliff_l - s, 0.0, None))).astype(np.float32)

    # tributaries
    d_trib = np.full(shape, np.inf, np.float32)
    trib_n = np.zeros(shape, np.float32)
    # valley floors blend smoothly on land (soft minimum of the distances to the valleys)
    w_trunk = np.exp(-np.clip(d_trunk, 0.0, 9000.0).astype(np.float64) / 300.0)
    floor_sum = w_trunk * floor
    weight_sum = w_trunk.copy()
    wt = p.tributary_width_m / 2.0
    sides = [1.0, -1.0] if rng.random() < 0.5 else [-1.0, 1.0]
    junctions = []
    for k in range(p.n_tributaries):
        side = sides[k % 2]
        sj = p0 - rng.uniform(2600.0, 4000.0) - rng.uniform(1500.0, 2500.0) * k
        psi = math.radians(rng.uniform(30.0, 60.0))
        wall_at = float(np.interp(sj, sgrid, w_right if side > 0 else w_left))
        nj = side * wall_at * 0.6
        ds_, dn_ = -math.cos(psi), side * math.sin(psi)  # direction away from the trunk
        along = (s - sj) * ds_ + (n - nj) * dn_
        # a gently curving, irregular side valley that narrows upstream
        a_grid = np.linspace(-3000.0, float(np.abs(s).max() + np.abs(n).max()) + 3000.0, 600)
        wiggle = np.interp(
            along,
            a_grid,
            0.6 * p.wall_roughness_m * _lowpass1d(rng, a_grid.size, a_grid[1] - a_grid[0], 700.0),
        )
        bend_t = rng.uniform(-1.0, 1.0) * 0.25 * np.clip(along, 0.0, None) ** 2 / 4000.0
        nt = -(s - sj) * dn_ + (n - nj) * ds_ - bend_t - wiggle
        width_t = wt * (1.0 - 0.3 * _smoothstep(along / 5000.0))
        dt = np.maximum(np.abs(nt) - width_t, -along).astype(np.float32)
        inside_t = dt < d_trib
        d_trib = np.minimum(d_trib, dt)
        trib_n = np.where(inside_t, nt + 7000.0 * (k + 1), trib_n)
        zj = _SURFACE_A * math.sqrt(max(p0 + cliff_l - sj, 0.0))
        wk = np.exp(-np.clip(dt, 0.0, 9000.0).astype(np.float64) / 300.0)
        floor_sum += wk * (zj + 0.07 * np.clip(along, 0.0, None))
        weight_sum += wk
        junctions.append((sj, side))
    floor = (floor_sum / np.maximum(weight_sum, 1e-300)).astype(np.float32)
    d_all = np.minimum(d_trunk, d_trib)
    trunk = d_trunk < 0
    trunk, _, _ = _largest(trunk, _S4)  # no isolated lakes
    trib = (d_trib < 0) & ~trunk
    if trib.any():
        trib_main = ndimage.binary_dilation(trunk, structure=_S4) & trib
        lab, _ = ndimage.label(trib, structure=_S4)
        keep = np.unique(lab[trib_main])
        trib = np.isin(lab, keep[keep > 0])
    land = ~(trunk | trib)

    # ---- DEM ----------------------------------------------------------------------
    fbm = _field2d(rng, shape, px, beta=4.6, l_max_m=4000.0, l_min_m=0.7 * px)
    ridged = np.zeros(shape, np.float32)
    for l_max, weight in ((3000.0, 1.0), (1400.0, 0.3)):
        src = _field2d(rng, shape, px, beta=4.4, l_max_m=l_max, l_min_m=0.7 * px)
        ridged += weight * ((1.0 - np.abs(src)) ** 2 - 0.45)
    rough = _field2d(rng, shape, px, beta=2.6, l_max_m=300.0, l_min_m=0.5 * px)
    dist = np.clip(d_all, 0.0, None)
    coast_factor = 1.0 - 0.55 * coast_w
    mountains = p.mountain_height_m * (1.0 - np.exp(-dist / p.wall_scale_m)) * coast_factor
    relief = p.relief_m * (0.35 * fbm + 0.35 * ridged) * _smoothstep(dist / 400.0)
    relief += 3.0 * rough * _smoothstep(dist / 150.0)
    land_dem = (floor + np.maximum(mountains + relief, 2.0 + 0.05 * dist)).astype(np.float32)
    land_dem = np.where(land, land_dem, 0.0).astype(np.float32)

    # ---- radar geometry -------------------------------------------------------------
    th_c = p.incidence_deg
    look = math.radians(p.look_azimuth_deg)
    sl, cl = math.sin(look), math.cos(look)
    r_m = dx * np.float32(sl) + dy * np.float32(cl)
    theta_deg = (th_c + _INCIDENCE_GRADIENT_DEG_PER_M * r_m).astype(np.float32)
    # geometry DEM: land plus a smooth glacier surface in the valleys
    z_surf = floor
    geom_dem = np.where(land, land_dem, z_surf)
    shadow, layover = _hidden_and_folded(geom_dem, px, p.look_azimuth_deg, th_c)
    assert layover is not None  # want_layover=True
    gy, gx = np.gradient(geom_dem.astype(np.float32), px)
    dh_e, dh_n = gx, -gy
    th = np.radians(theta_deg)
    p_r = dh_e * sl + dh_n * cl
    norm = np.sqrt(1.0 + gx * gx + gy * gy)
    cos_loc = (np.sin(th) * p_r + np.cos(th)) / norm
    th_lr = th - np.arctan(p_r)
    area = np.sin(th) / np.maximum(np.sin(th_lr), 0.12)
    law = (np.clip(cos_loc, 0.03, 1.0) / np.cos(th)) ** 1.5
    terrain_db = np.clip(10.0 * np.log10(area * law), -16.0, 9.0).astype(np.float32)
    # gentle radiometric effect of the glacier surface slope (no cliff)
    zg = ndimage.gaussian_filter(z_surf, max(1.0, 150.0 / px))
    gyi, gxi = np.gradient(zg.astype(np.float32), px)
    p_ri = np.clip(gxi * sl - gyi * cl, -0.1, 0.1)
    interior_db = np.clip(
        10.0 * np.log10(np.sin(th) / np.maximum(np.sin(th - np.arctan(p_ri)), 0.12)), -3.0, 3.0
    ).astype(np.float32)
    # NA: layover/shadow on rock, kept off the fjord and glacier margins
    buffer_px = max(2, int(math.ceil(60.0 / px)))
    near_valley = ndimage.binary_dilation(~land, structure=_S8, iterations=buffer_px)
    na = (layover | shadow) & land & ~near_valley
    # a layover/shadow mask is a set of coherent patches, not salt and pepper
    na = ndimage.binary_opening(na, structure=_S4)
    lab, nlab = ndimage.label(na, structure=_S8)
    if nlab:
        sizes = np.bincount(lab.ravel())
        small = sizes < max(3.0, 4000.0 / (px * px))
        small[0] = False
        na = na & ~small[lab]
    na = ndimage.binary_closing(na, structure=_S4) & land & ~near_valley

    # ---- textures ---------------------------------------------------------------------
    rock_tex = _field2d(rng, shape, px, beta=1.6, l_max_m=600.0, l_min_m=0.5 * px)
    slope = np.degrees(np.arctan(np.hypot(gx, gy))).astype(np.float32)
    aspect_north = (dh_n / np.maximum(np.hypot(dh_e, dh_n), 1e-6)).astype(np.float32)
    aspect_north = -aspect_north  # slope facing north ⇔ terrain falls towards north
    snow_noise = _field2d(rng, shape, px, beta=3.0, l_max_m=1500.0, l_min_m=3 * px)
    steep = _smoothstep((slope - 38.0) / 15.0)
    # where snow lingers into summer: high, north-facing, not too steep
    snow_rock = (
        _smoothstep((land_dem - 1.1 * p.ela_m + 150.0 * aspect_north + 120.0 * snow_noise) / 200.0)
        * (1.0 - 0.8 * steep)
    ).astype(np.float32)

    # streaks: 1-D multi-scale profile across flow, modulated along flow
    flow_n = np.where(trib, trib_n, n).astype(np.float32)
    fmin, fmax = float(flow_n.min()) - 100.0, float(flow_n.max()) + 100.0
    dnf = min(px / 3.0, 10.0)
    fgrid = np.arange(fmin, fmax + dnf, dnf)
    prof = np.zeros(fgrid.size)
    for wavelength, amp in ((600.0, 0.55), (200.0, 0.6), (70.0, 0.5)):
        att = float(_smoothstep((wavelength / px - 2.0) / 2.0))
        if att > 0:
            prof += amp * att * _noise1d(rng, fgrid.size, dnf, wavelength, 0.45)
    prof /= max(prof.std(), 1e-6)
    modul = _field2d(rng, shape, px, beta=3.0, l_max_m=3000.0, l_min_m=2 * px)
    streak = (np.interp(flow_n, fgrid, prof).astype(np.float32) * (1.0 + 0.35 * modul)).astype(
        np.float32
    )
    # medial moraines: where tributary ice flows beside trunk ice
    moraine = np.zeros(shape, np.float32)
    for k, (sj, side) in enumerate(junctions):
        n_m = side * (hw0 - 0.45 * p.tributary_width_m * (1 + 0.3 * k))
        moraine += (
            np.exp(-0.5 * ((n - n_m) / max(30.0, 1.2 * px)) ** 2) * _smoothstep((s - sj) / 400.0)
        ).astype(np.float32)
    moraine = np.clip(moraine, 0.0, 1.0) * trunk

    # crevasses: arcuate (convex down flow), wavelength varying, patchy
    nph = _noise1d(rng, fgrid.size, dnf, 500.0, 0.6)
    crev_phase = (
        2 * np.pi * 0.9 * (n / max(hw0, 1.0)) ** 2
        + 1.2 * np.interp(flow_n, fgrid, nph)
        + 1.5 * _field2d(rng, shape, px, beta=3.0, l_max_m=2000.0, l_min_m=2 * px)
    ).astype(np.float32)
    crev_patch = _smoothstep(
        0.5 + 0.6 * _field2d(rng, shape, px, beta=2.6, l_max_m=1500.0, l_min_m=px)
    ).astype(np.float32)
    crev_margin = np.exp(-np.clip(np.minimum(wl + n, wr - n), 0, None) / 250.0).astype(np.float32)

    # wind sheltering in the fjord (inner fjord calmer), katabatic outflow
    inner = 1.0 - _smoothstep((s - (s_mouth - 2500.0)) / 3500.0)
    shelter = (1.0 - 0.6 * inner).astype(np.float32)
    katabatic = (0.6 + 0.9 * inner).astype(np.float32)
    seaice_tex = _field2d(rng, shape, px, beta=2.2, l_max_m=800.0, l_min_m=px)
    ice_var = _field2d(rng, shape, px, beta=3.0, l_max_m=2500.0, l_min_m=3 * px)

    # the box of the box method: straight, inside the fjord walls, longer than the front moves
    box_s1 = p0 + 2500.0
    s_box = np.linspace(box_s0, box_s1, 100)
    box_half = 0.85 * float(
        min(np.interp(s_box, sgrid, w_left).min(), np.interp(s_box, sgrid, w_right).min())
    )
    nlo, nhi = float(n.min()) - 200.0, float(n.max()) + 200.0
    dn_ = min(px / 4.0, 5.0)
    ngrid = np.arange(nlo, nhi + dn_, dn_)
    return _Static(
        shape=shape,
        px=px,
        x=xs,
        y=ys,
        s=s,
        n=n,
        trunk=trunk,
        trib=trib,
        flow_n=flow_n,
        ngrid=ngrid,
        half_left=float(np.interp(p0, sgrid, w_left)),
        half_right=float(np.interp(p0, sgrid, w_right)),
        box_s0=box_s0,
        box_s1=box_s1,
        box_half=box_half,
        s_mouth=s_mouth,
        land_dem=land_dem,
        geom_dem=geom_dem.astype(np.float32),
        terrain_db=terrain_db,
        interior_db=interior_db,
        layover=layover,
        shadow=shadow,
        na=na,
        theta_deg=theta_deg,
        rock_tex=rock_tex,
        streak=streak,
        moraine=moraine,
        floor=floor,
        crev_phase=crev_phase,
        crev_patch=crev_patch,
        crev_margin=crev_margin,
        shelter=shelter,
        katabatic=katabatic,
        snow_rock=snow_rock,
        seaice_tex=seaice_tex,
        ice_var=ice_var,
        slope_deg=slope,
        aspect_north=aspect_north,
        dem_grad=(np.asarray(gx), np.asarray(gy)),
        centre_xy=(cx, cy),
        flow_unit=(fe, fn),
        right_unit=(re_, rn),
        bend=bend,
    )
