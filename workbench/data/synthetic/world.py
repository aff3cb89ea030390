"""The simulator: :func:`simulate_glacier` (one glacier's scene stack with its exact ground
truth, a :class:`SyntheticGlacier`) and :func:`simulate_world` (several glaciers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from workbench.data.encoding import GLACIER, NA, OCEAN, ROCK
from workbench.data.synthetic._numerics import _S_SPECKLE, _check_seed, _rng
from workbench.data.synthetic.coherence import _coherence
from workbench.data.synthetic.front import _front_model, _masks, _order_front
from workbench.data.synthetic.optical import (
    _DERIVED_BANDS,
    DEFAULT_OPTICAL_BANDS,
    S2_BANDS,
    _optical,
)
from workbench.data.synthetic.params import CRS_EPSG, GlacierParams
from workbench.data.synthetic.sar import _date_weather, _sigma0_mean, speckle
from workbench.data.synthetic.terrain import _SURFACE_A, _build_static
from workbench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    from shapely.geometry import LineString, Polygon

__all__ = [
    "SyntheticGlacier",
    "simulate_glacier",
    "simulate_world",
    "world_glacier",
    "world_glacier_seed",
]


_S1B_START = pd.Timestamp("2016-09-26")
_S1B_END = pd.Timestamp("2021-12-23")


@dataclass
class SyntheticGlacier:
    """One simulated glacier: the scene stack and its exact ground truth.

    Attributes
    ----------
    params
        The parameters it was simulated with.
    seed
        The seed it was simulated with (``simulate_glacier(params, seed=seed, ...)``
        with the same other arguments reproduces it bit for bit).
    stack
        The scene stack (``xarray.Dataset``, dims ``(time, y, x)``, EPSG:32633), see
        :func:`simulate_glacier`.
    fronts
        GeoDataFrame, one row per date: ``date``, ``glacier``, ``length_m`` and the front
        ``geometry`` (LineString through the front pixel centres, left → right bank).
    outlines
        GeoDataFrame, one row per date: ``date``, ``glacier``, ``area_km2`` and the glacier
        outline ``geometry`` (the exact pixel boundary of the glacier mask).
    front_position_m
        Series indexed by date: the exact width-averaged terminus position along the flow
        axis, in metres down flow from the upstream edge of :attr:`box` (the quantity the
        rectilinear-box method of Moon & Joughin (2008) measures with :attr:`box`).
    box
        Rectangle along the fjord (map coordinates) for the box method.
    centreline
        Valley centre line (map coordinates), running down flow.
    calving_events
        DataFrame of the simulated calving events: ``date``, ``depth_m`` (maximum depth of
        the embayment), ``width_m``, ``retreat_m`` (its effect on the width-averaged
        position).

    Examples
    --------
    >>> g = simulate_glacier(seed=0, years=0.1, size=(64, 64), pixel_size=160.0)
    >>> g.name, g.seed, list(g.fronts.columns)
    ('Kvitravnbreen', 0, ['date', 'glacier', 'length_m', 'geometry'])
    >>> bool(g.box.is_valid and g.centreline.length > 0)
    True
    """

    params: GlacierParams
    seed: int
    stack: xr.Dataset
    fronts: gpd.GeoDataFrame
    outlines: gpd.GeoDataFrame
    front_position_m: pd.Series
    box: Polygon
    centreline: LineString
    calving_events: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def name(self) -> str:
        """The glacier name."""
        return self.params.name

    def __repr__(self) -> str:
        t = self.stack.time.values
        return (
            f"SyntheticGlacier({self.name!r}, seed={self.seed}, "
            f"{self.stack.sizes['time']} dates {str(t[0])[:10]}..{str(t[-1])[:10]}, "
            f"{self.stack.sizes['y']}×{self.stack.sizes['x']} px at "
            f"{self.stack.attrs['pixel_size']:g} m)"
        )


def _dates(start: Any, years: float, repeat_days: int) -> pd.DatetimeIndex:
    if not (isinstance(years, (int, float)) and years > 0 and math.isfinite(years)):
        raise ConfigError(f"is {years!r}", variable="years", expected="a positive number of years")
    if not isinstance(repeat_days, (int, np.integer)) or repeat_days < 1:
        raise ConfigError(
            f"is {repeat_days!r}",
            variable="repeat_days",
            expected="a positive whole number of days (Sentinel-1: 12)",
        )
    try:
        t0 = pd.Timestamp(start).normalize()
    except (ValueError, TypeError) as err:
        raise ConfigError(
            f"is {start!r}", variable="start", expected="a date such as '2019-01-01'"
        ) from err
    n = int(math.floor(years * 365.25 / repeat_days + 1e-9)) + 1
    return pd.date_range(t0, periods=n, freq=f"{int(repeat_days)}D")


def _sensors(dates: pd.DatetimeIndex) -> np.ndarray:
    out = []
    for i, d in enumerate(dates):
        both = _S1B_START <= d <= _S1B_END
        out.append("S1B" if both and i % 2 == 1 else "S1A")
    return np.asarray(out, dtype=object).astype(str)


def simulate_glacier(
    params: GlacierParams | None = None,
    *,
    seed: int = 0,
    start: Any = "2019-01-01",
    years: float = 1.0,
    repeat_days: int = 12,
    size: tuple[int, int] = (512, 512),
    pixel_size: float = 20.0,
    enl: float = 4.4,
    optical_bands: Sequence[str] = DEFAULT_OPTICAL_BANDS,
    progress: bool = False,
) -> SyntheticGlacier:
    """Simulate a Sentinel-1 time series of one tidewater glacier with exact ground truth.

    Parameters
    ----------
    params
        The glacier (default: ``GlacierParams()``, a mid-sized Svalbard-like glacier).
    seed
        Integer ≥ 0 driving every random field (terrain, front noise, calving, weather,
        speckle). Terrain and the first dates do not change when ``years`` grows.
    start
        Date of the first acquisition.
    years
        Length of the series; dates every ``repeat_days`` from ``start`` while
        ``< start + years`` (1 year at 12 days = 31 dates).
    repeat_days
        Revisit interval (Sentinel-1: 12 days per satellite).
    size
        ``(height, width)`` in pixels, i.e. ``(ny, nx)``.
    pixel_size
        Pixel size in metres. The landscape is defined in metres, so ``size × pixel_size``
        is the extent (default 10.24 km); keep it ≳ 6 km to see both fjord walls.
    enl
        Equivalent number of looks of the speckle (Sentinel-1 IW GRDH: 4.4).
    optical_bands
        Channels of the optical image: any of :data:`S2_BANDS` and ``"NDSI"``, ``"NDWI"``,
        ``"NDVI"`` (default: 13 bands + NDSI).
    progress
        Show a tqdm progress bar over the dates.

    Returns
    -------
    SyntheticGlacier
        ``.stack`` is an ``xarray.Dataset`` with dims ``(time, y, x)`` and coordinates
        ``x``/``y`` (pixel centres, metres, ``y`` descending), ``time`` (datetime64[ns]),
        ``sensor`` ("S1A"/"S1B" alternating while both flew, 2016-09-26..2021-12-23),
        ``orbit`` (relative orbit), ``band``; variables ``sigma0_db`` (float32, dB),
        ``coherence`` (float32, 0..1), ``optical`` (float32, ``(band, y, x)``,
        reflectance), ``dem`` (float32, m; the glacier surface of the first date),
        ``zones`` (uint8 class ids 0 NA, 1 rock, 2 glacier, 3 ocean), ``front`` (uint8
        0/1), ``outline`` (uint8 0/1); CRS EPSG:32633 and transform written with
        rioxarray; attrs ``glacier``, ``seed``, ``pixel_size``, ``enl`` and more.

    Raises
    ------
    ConfigError
        For invalid arguments, or when the front leaves the scene (too small a scene or
        too long a series for the glacier's retreat).

    Examples
    --------
    >>> g = simulate_glacier(seed=3, years=0.1, size=(64, 64), pixel_size=160.0)
    >>> ds = g.stack
    >>> ds.sigma0_db.dtype, ds.zones.dtype, ds.attrs["enl"]
    (dtype('float32'), dtype('uint8'), 4.4)
    >>> bool(((ds.zones == 2) == (ds.outline == 1)).all())
    True
    """
    import geopandas as gpd
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    from affine import Affine
    from rasterio.features import shapes as _shapes
    from shapely.geometry import LineString, Polygon
    from shapely.geometry import shape as _shape
    from shapely.ops import unary_union
    from tqdm.auto import tqdm

    p = (params if params is not None else GlacierParams()).validate()
    seed = _check_seed(seed)
    try:
        ny, nx = (int(v) for v in size)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"is {size!r}", variable="size", expected="(height, width) in pixels"
        ) from err
    if ny < 16 or nx < 16:
        raise ConfigError(f"is {size!r}", variable="size", expected="at least 16 × 16 pixels")
    if not (isinstance(pixel_size, (int, float)) and pixel_size > 0 and math.isfinite(pixel_size)):
        raise ConfigError(
            f"is {pixel_size!r}", variable="pixel_size", expected="a positive size in metres"
        )
    if not (isinstance(enl, (int, float)) and enl > 0 and math.isfinite(enl)):
        raise ConfigError(f"is {enl!r}", variable="enl", expected="a positive number of looks")
    bands = tuple(optical_bands)
    bad = [b for b in bands if b not in S2_BANDS and b not in _DERIVED_BANDS]
    if bad or not bands:
        raise ConfigError(
            f"holds {bad or 'nothing'}",
            variable="optical_bands",
            expected=f"names from {S2_BANDS + _DERIVED_BANDS}",
        )
    px = float(pixel_size)
    dates = _dates(start, years, repeat_days)
    nt = len(dates)

    st = _build_static(p, seed, (ny, nx), px)
    fm = _front_model(p, st, seed, dates)
    t0 = dates[0]
    opt_target = pd.Timestamp(year=t0.year, month=8, day=10)
    opt_index = int(np.argmin(np.abs((dates - opt_target).days)))

    sigma = np.empty((nt, ny, nx), np.float32)
    coh = np.empty((nt, ny, nx), np.float32)
    zones = np.empty((nt, ny, nx), np.uint8)
    front = np.empty((nt, ny, nx), np.uint8)
    static_zone = np.full((ny, nx), ROCK, np.uint8)
    static_zone[st.na] = NA
    transform = Affine(px, 0.0, float(st.x[0] - px / 2), 0.0, -px, float(st.y[0] + px / 2))
    fe, fn = st.flow_unit
    re_, rn = st.right_unit
    cx, cy = st.centre_xy
    lines, polys, lengths, areas = [], [], [], []
    dem = None
    optical = None
    for i in tqdm(range(nt), disable=not progress, desc=p.name, unit="date"):
        date = dates[i]
        prof = fm.profiles[i]
        glacier, ocean, fr = _masks(st, prof)
        if fr.sum() < 2:
            raise ConfigError(
                f"has no calving front on {date.date()} in a {ny}×{nx} scene at {px:g} m",
                variable="size",
                expected="a larger scene or a shorter series",
            )
        z = static_zone.copy()
        z[glacier] = GLACIER
        z[ocean] = OCEAN
        zones[i] = z
        front[i] = fr
        order = _order_front(glacier, ocean, fr)
        if len(order) != int(fr.sum()):
            raise RuntimeError("front chain and front raster disagree")  # pragma: no cover
        # orient from the left bank to the right bank (n increasing)
        if st.n[order[0, 0], order[0, 1]] > st.n[order[-1, 0], order[-1, 1]]:
            order = order[::-1]
        xs = st.x[order[:, 1]]
        ys = st.y[order[:, 0]]
        line = LineString(np.column_stack([xs, ys]))
        lines.append(line)
        lengths.append(line.length)
        geoms = [
            _shape(g)
            for g, v in _shapes(
                glacier.astype(np.uint8), mask=glacier, connectivity=4, transform=transform
            )
            if v == 1
        ]
        polys.append(unary_union(geoms) if len(geoms) != 1 else geoms[0])
        areas.append(float(glacier.sum()) * px * px / 1e6)
        f_pix = np.interp(st.n, st.ngrid, prof).astype(np.float32)
        if i == 0:
            zsurf = np.where(
                st.trib,
                st.floor,
                p.cliff_height_m + _SURFACE_A * np.sqrt(np.clip(f_pix - st.s, 0, None)),
            )
            dem = np.where(glacier, zsurf, np.where(ocean, 0.0, st.land_dem)).astype(np.float32)
        weather = _date_weather(seed, i, date.day_of_year, p)
        t_years = (date - t0).days / 365.25
        mean_lin, sub = _sigma0_mean(p, st, seed, i, date, t_years, glacier, ocean, f_pix, weather)
        inten = speckle(mean_lin, enl, _rng(seed, _S_SPECKLE, i))
        sigma[i] = 10.0 * np.log10(np.maximum(inten, np.float32(1e-6)))
        coh[i] = _coherence(p, st, seed, i, date.day_of_year, weather["wet"], glacier, ocean, sub)
        if i == opt_index:
            optical = _optical(p, st, seed, date, glacier, ocean, f_pix, sub, bands)

    outline = (zones == GLACIER).astype(np.uint8)
    ds = xr.Dataset(
        data_vars={
            "sigma0_db": (
                ("time", "y", "x"),
                sigma,
                {"units": "dB", "long_name": "backscatter coefficient sigma0 (VV, ellipsoid)"},
            ),
            "coherence": (
                ("time", "y", "x"),
                coh,
                {"units": "1", "long_name": f"interferometric coherence ({repeat_days}-day)"},
            ),
            "optical": (
                ("band", "y", "x"),
                optical,
                {
                    "units": "1",
                    "long_name": "Sentinel-2-like reflectance",
                    "date": str(dates[opt_index].date()),
                },
            ),
            "dem": (("y", "x"), dem, {"units": "m", "long_name": "surface height above sea level"}),
            "zones": (
                ("time", "y", "x"),
                zones,
                {
                    "long_name": "CaFFe zones",
                    "flag_values": "0 1 2 3",
                    "flag_meanings": "na rock glacier ocean",
                },
            ),
            "front": (("time", "y", "x"), front, {"long_name": "calving front (1 = front pixel)"}),
            "outline": (("time", "y", "x"), outline, {"long_name": "glacier mask (1 = glacier)"}),
        },
        coords={
            "time": ("time", dates.values.astype("datetime64[ns]")),
            "y": ("y", st.y.astype(np.float64), {"units": "m", "axis": "Y"}),
            "x": ("x", st.x.astype(np.float64), {"units": "m", "axis": "X"}),
            "band": ("band", np.asarray(bands, dtype=str)),
            "sensor": ("time", _sensors(dates)),
            "orbit": ("time", np.full(nt, int(p.relative_orbit), np.int32)),
        },
        attrs={
            "glacier": p.name,
            "seed": seed,
            "pixel_size": px,
            "enl": float(enl),
            "source": "workbench.data.synthetic",
            "pass_direction": p.pass_direction,
            "look_azimuth_deg": float(p.look_azimuth_deg),
            "incidence_deg": float(p.incidence_deg),
            "flow_azimuth_deg": float(p.flow_azimuth_deg),
            "repeat_days": int(repeat_days),
            "optical_date": str(dates[opt_index].date()),
        },
    )
    ds = ds.rio.write_crs(f"EPSG:{CRS_EPSG}").rio.write_transform(transform)

    crs = f"EPSG:{CRS_EPSG}"
    dt = pd.DatetimeIndex(dates, name="date")
    fronts = gpd.GeoDataFrame(
        {"date": dt, "glacier": p.name, "length_m": np.asarray(lengths)}, geometry=lines, crs=crs
    )
    outlines = gpd.GeoDataFrame(
        {"date": dt, "glacier": p.name, "area_km2": np.asarray(areas)}, geometry=polys, crs=crs
    )
    position = pd.Series(fm.position, index=dt, name="front_position_m")
    position.attrs.update(
        {
            "units": "m",
            "glacier": p.name,
            "definition": "width-averaged terminus position down flow from the box's upstream edge",
        }
    )

    def to_map(s_: float, n_: float) -> tuple[float, float]:
        v = n_ + float(st.bend(s_))
        return cx + s_ * fe + v * re_, cy + s_ * fn + v * rn

    b = st.box_half
    box = Polygon(
        [to_map(st.box_s0, -b), to_map(st.box_s1, -b), to_map(st.box_s1, b), to_map(st.box_s0, b)]
    )
    s_line = np.linspace(float(st.s.min()), float(st.s.max()), 60)
    centreline = LineString([to_map(float(q), 0.0) for q in s_line])
    return SyntheticGlacier(
        params=p,
        seed=seed,
        stack=ds,
        fronts=fronts,
        outlines=outlines,
        front_position_m=position,
        box=box,
        centreline=centreline,
        calving_events=fm.events,
    )


def simulate_world(
    n_glaciers: int = 3,
    *,
    seed: int = 0,
    years: float = 1.0,
    size: tuple[int, int] = (512, 512),
    pixel_size: float = 20.0,
    start: Any = "2019-01-01",
    repeat_days: int = 12,
    enl: float = 4.4,
    progress: bool = False,
) -> list[SyntheticGlacier]:
    """Simulate several distinct glaciers (``GlacierParams.random(seed, i)``, i = 0..n-1).

    Each glacier gets its own seed derived from ``(seed, i)`` (stored in
    ``stack.attrs["seed"]``), so a glacier is the same whatever ``n_glaciers`` is.

    Examples
    --------
    >>> world = simulate_world(2, seed=5, years=0.05, size=(64, 64), pixel_size=160.0)
    >>> [g.stack.attrs["world_index"] for g in world]
    [0, 1]
    >>> world[0].name != world[1].name
    True
    """
    seed = _check_seed(seed)
    if not isinstance(n_glaciers, (int, np.integer)) or n_glaciers < 1:
        raise ConfigError(f"is {n_glaciers!r}", variable="n_glaciers", expected="an integer ≥ 1")
    return [
        world_glacier(
            i,
            seed=seed,
            years=years,
            size=size,
            pixel_size=pixel_size,
            start=start,
            repeat_days=repeat_days,
            enl=enl,
            progress=progress,
        )
        for i in range(int(n_glaciers))
    ]


def world_glacier_seed(seed: int, index: int) -> int:
    """The simulation seed of glacier ``index`` of the world ``seed`` (``attrs["seed"]``)."""
    return int(
        np.random.SeedSequence([_check_seed(seed), 0xC0FFEE, int(index)]).generate_state(1)[0]
    )


def world_glacier(
    index: int,
    *,
    seed: int = 0,
    years: float = 1.0,
    size: tuple[int, int] = (512, 512),
    pixel_size: float = 20.0,
    start: Any = "2019-01-01",
    repeat_days: int = 12,
    enl: float = 4.4,
    progress: bool = False,
) -> SyntheticGlacier:
    """Glacier ``index`` of :func:`simulate_world` alone (identical to
    ``simulate_world(index + 1, ...)[index]``), without simulating the others.

    Examples
    --------
    >>> g = world_glacier(1, seed=5, years=0.05, size=(64, 64), pixel_size=160.0)
    >>> g.name == GlacierParams.random(5, 1).name, g.stack.attrs["world_index"]
    (True, 1)
    """
    seed = _check_seed(seed)
    g = simulate_glacier(
        GlacierParams.random(seed, index),
        seed=world_glacier_seed(seed, index),
        start=start,
        years=years,
        repeat_days=repeat_days,
        size=size,
        pixel_size=pixel_size,
        enl=enl,
        progress=progress,
    )
    g.stack.attrs["world_seed"] = seed
    g.stack.attrs["world_index"] = int(index)
    return g
